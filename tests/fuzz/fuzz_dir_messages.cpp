// Fuzzes the directory protocol's decoders (swarm/dir_messages.hpp), Vote
// decoding, and BlobAssembler fed with chunks cut from the input.
//
// Input layout:
//   byte 0  byte % 10 picks the mode; for modes 0-7 the rest is the frame (or
//           the vote), type byte included:
//             0 decode_register        4 decode_signature
//             1 decode_register_reply  5 decode_chunk(dir_chunk)
//             2 decode_fetch           6 decode_chunk(auth_vote)
//             3 decode_none            7 Vote::decode
//           8 assembler, chunks cut from the rest:
//             byte 0     k = 1 + byte % 8 chunks
//             byte 1     a change, byte % 8: 0 none, 1 skip chunk j, 2 send
//                        chunk j twice, 3 swap chunks j and j+1, 4 another
//                        epoch on chunk j, 5 another total on chunk j, 6 send
//                        chunks 0..j, then all from the start, 7 a maximum one
//                        byte below the document's size
//             byte 2     j (mod k)
//             the rest   the document D, cut into k parts of |D|/k bytes (the
//                        last takes the remainder; parts may be empty)
//           9 encode_chunks of a large document:
//             bytes 0-2  its size, a u24 modulo 180,001 (up to four chunks)
//             byte 3     its epoch; byte 4: bit 0 picks auth_vote (else dir_chunk)
//             the rest   a pool; byte i of the document is pool[i mod p] XOR
//                        (i >> 8), or zero without a pool
//
// Invariants (trap on violation):
//   - whatever decodes re-encodes to exactly its bytes (a chunk is rebuilt
//     from its fields; a whole one-chunk document also through encode_chunks)
//   - a decoded chunk has data within max_chunk_data, offset + length within
//     the total, and data unless the total is 0; a decoded vote has at most
//     max_descriptors descriptors of at most 512 bytes, strictly increasing
//   - mode 8: every cut chunk decodes exactly when docs/PROTOCOL.md's rules
//     allow it, to the same fields; BlobAssembler's answers match a model of
//     its documented behaviour chunk by chunk, and a complete document is
//     the model's; without a change the last answer is complete with D
//   - mode 9: the expected number of chunks, each within a link frame, which
//     decode and reassemble into the document.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/dir_messages bin/fuzz_dir_messages
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/wire.hpp"
#include "swarm/dir_messages.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;

namespace {

using Status = BlobAssembler::Status;
using Frame = std::vector<std::uint8_t>;

constexpr std::size_t max_descriptor_bytes = 512;  // Vote::decode's limit

Frame chunk_frame(FrameType type, const Chunk& c) {
  WireWriter w;
  w.u8(static_cast<std::uint8_t>(type)).u64(c.epoch).u32(c.total).u32(c.offset).raw(c.data);
  return w.take();
}

bool chunk_valid(const Chunk& c) {
  return c.data.size() <= max_chunk_data && std::uint64_t{c.offset} + c.data.size() <= c.total &&
         (!c.data.empty() || c.total == 0);
}

// BlobAssembler as its header describes it.
struct AssemblerModel {
  explicit AssemblerModel(std::size_t max) : max_total(max) {}
  std::size_t max_total;
  bool started = false;
  std::uint64_t epoch = 0;
  std::uint32_t total = 0;
  std::vector<std::uint8_t> doc;

  Status add(const Chunk& c) {
    if (c.offset == 0) {
      if (c.total > max_total) return reset();
      started = true;
      epoch = c.epoch;
      total = c.total;
      doc.clear();
    } else if (!started || c.epoch != epoch || c.total != total || c.offset != doc.size()) {
      return reset();
    }
    doc.insert(doc.end(), c.data.begin(), c.data.end());
    if (doc.size() > total) return reset();
    return doc.size() == total ? Status::complete : Status::partial;
  }
  Status reset() {
    started = false;
    doc.clear();
    return Status::error;
  }
};

void decode_one_chunk(FrameType type, const Frame& frame) {
  auto c = decode_chunk(type, frame);
  if (!c) return;
  CHECK(chunk_valid(*c));
  CHECK(chunk_frame(type, *c) == frame);
  if (c->offset == 0 && c->data.size() == c->total) {
    const auto whole = encode_chunks(type, c->epoch, c->data);
    CHECK(whole.size() == 1 && whole[0] == frame);
  }
  BlobAssembler a(4 * max_chunk_data);
  const Status s = a.add(*c);
  if (c->offset != 0 || c->total > 4 * max_chunk_data)
    CHECK(s == Status::error);
  else
    CHECK(s == (c->data.size() == c->total ? Status::complete : Status::partial));
}

void decode_vote(const Frame& bytes) {
  auto v = Vote::decode(bytes);
  if (!v) return;
  CHECK(v->encode() == bytes);
  CHECK(v->descriptors.size() <= Vote::max_descriptors);
  for (std::size_t i = 0; i < v->descriptors.size(); ++i) {
    CHECK(v->descriptors[i].size() <= max_descriptor_bytes);
    if (i > 0) CHECK(v->descriptors[i - 1] < v->descriptors[i]);
  }
}

void assemble_cut(const Frame& rest) {
  if (rest.size() < 3) return;
  const std::size_t k = 1 + rest[0] % 8;
  const unsigned change = rest[1] % 8;
  const std::size_t j = rest[2] % k;
  const Bytes doc = Bytes(rest).subspan(3);
  const auto total = static_cast<std::uint32_t>(doc.size());
  const std::uint64_t epoch = 0x1234;

  std::vector<Chunk> cut;
  const std::size_t part = doc.size() / k;
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t off = i * part;
    const std::size_t len = i + 1 == k ? doc.size() - off : part;
    cut.push_back(Chunk{epoch, total, static_cast<std::uint32_t>(off), doc.subspan(off, len)});
  }
  std::vector<Chunk> sent;
  switch (change) {
    case 1:
      sent = cut;
      sent.erase(sent.begin() + static_cast<std::ptrdiff_t>(j));
      break;
    case 2:
      sent = cut;
      sent.insert(sent.begin() + static_cast<std::ptrdiff_t>(j), cut[j]);
      break;
    case 3:
      sent = cut;
      if (j + 1 < k) std::swap(sent[j], sent[j + 1]);
      break;
    case 4:
      sent = cut;
      sent[j].epoch += 1;
      break;
    case 5:
      sent = cut;
      sent[j].total += 1;
      break;
    case 6:
      sent.assign(cut.begin(), cut.begin() + static_cast<std::ptrdiff_t>(j) + 1);
      sent.insert(sent.end(), cut.begin(), cut.end());
      break;
    default:
      sent = cut;
      break;
  }
  const std::size_t max_total = change == 7 && total > 0 ? total - 1 : total;

  BlobAssembler assembler(max_total);
  AssemblerModel model(max_total);
  Status last = Status::error;
  for (const Chunk& c : sent) {
    // The chunk as a frame decodes exactly when it is valid, to the same fields.
    const Frame frame = chunk_frame(FrameType::dir_chunk, c);
    auto decoded = decode_chunk(FrameType::dir_chunk, frame);
    CHECK(decoded.ok() == chunk_valid(c));
    if (decoded) {
      CHECK(decoded->epoch == c.epoch && decoded->total == c.total && decoded->offset == c.offset);
      CHECK(std::equal(decoded->data.begin(), decoded->data.end(), c.data.begin(), c.data.end()));
    }
    last = assembler.add(c);
    CHECK(last == model.add(c));
    if (last == Status::complete) {
      CHECK(assembler.epoch() == model.epoch);
      CHECK(assembler.take() == model.doc);
      model.started = false;
    }
  }
  if (change == 0 || change == 6) {
    CHECK(last == Status::complete);
    CHECK(model.doc.size() == doc.size() &&
          std::equal(model.doc.begin(), model.doc.end(), doc.begin()));
  }
}

void chunk_large(const Frame& rest) {
  if (rest.size() < 5) return;
  const std::size_t size =
      ((std::size_t{rest[0]} << 16) | (std::size_t{rest[1]} << 8) | rest[2]) % 180'001;
  const std::uint64_t epoch = rest[3];
  const FrameType type = (rest[4] & 1) ? FrameType::auth_vote : FrameType::dir_chunk;
  const Bytes pool = Bytes(rest).subspan(5);
  std::vector<std::uint8_t> doc(size);
  if (!pool.empty())
    for (std::size_t i = 0; i < size; ++i)
      doc[i] = static_cast<std::uint8_t>(pool[i % pool.size()] ^ (i >> 8));

  const auto frames = encode_chunks(type, epoch, doc);
  CHECK(frames.size() == std::max<std::size_t>(1, (size + max_chunk_data - 1) / max_chunk_data));
  BlobAssembler assembler(180'000);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    CHECK(frames[i].size() <= chunk_header_bytes + max_chunk_data);
    auto c = decode_chunk(type, frames[i]);
    CHECK(c.ok());
    CHECK(chunk_frame(type, *c) == frames[i]);
    const Status s = assembler.add(*c);
    CHECK(s == (i + 1 == frames.size() ? Status::complete : Status::partial));
  }
  CHECK(assembler.epoch() == epoch);
  CHECK(assembler.take() == doc);
}

// --- Seed generation ---------------------------------------------------------

void write_seeds(const std::string& dir) {
  const Frame descriptor(180, 0x44);
  fuzz::write_seed(dir + "/register", 0, encode_register(descriptor));
  fuzz::write_seed(dir + "/register-reply", 1,
                   encode_register_reply({RegisterStatus::unreachable, 1'700'000'000'000}));
  fuzz::write_seed(dir + "/fetch", 2, encode_fetch(41));
  fuzz::write_seed(dir + "/none", 3, encode_none(42));
  SignatureMessage sig;
  sig.epoch = 43;
  sig.digest.bytes.fill(1);
  sig.authority.bytes.fill(2);
  sig.signature.bytes.fill(3);
  fuzz::write_seed(dir + "/signature", 4, encode_signature(sig));
  const Frame doc(1000, 0x6e);
  fuzz::write_seed(dir + "/chunk-whole", 5, encode_chunks(FrameType::dir_chunk, 44, doc).at(0));
  fuzz::write_seed(dir + "/chunk-empty-doc", 6, encode_chunks(FrameType::auth_vote, 45, {}).at(0));
  WireWriter middle;
  middle.u8(static_cast<std::uint8_t>(FrameType::dir_chunk)).u64(46).u32(1500).u32(100).raw(doc);
  fuzz::write_seed(dir + "/chunk-middle", 5, middle.take());
  Vote vote;
  vote.epoch = 47;
  vote.previous_epoch = 46;
  vote.previous_digest.bytes.fill(9);
  vote.descriptors = {Frame{}, Frame{1, 2}, Frame(100, 3)};
  fuzz::write_seed(dir + "/vote", 7, vote.encode());

  // Assembler: four chunks unchanged, a swap, a restart, and a large document.
  Frame cut{3, 0, 0};
  cut.insert(cut.end(), doc.begin(), doc.begin() + 200);
  fuzz::write_seed(dir + "/assemble-4", 8, cut);
  cut[1] = 3;
  cut[2] = 1;
  fuzz::write_seed(dir + "/assemble-4-swap", 8, cut);
  cut[1] = 6;
  fuzz::write_seed(dir + "/assemble-4-restart", 8, cut);
  fuzz::write_seed(dir + "/chunk-large-120001", 9, Frame{0x01, 0xd4, 0xc1, 7, 1, 10, 20, 30});

  // Invalid: a chunk past its total, an unsorted vote, a bad reply status.
  WireWriter past;
  past.u8(static_cast<std::uint8_t>(FrameType::dir_chunk))
      .u64(48)
      .u32(50)
      .u32(10)
      .raw(Bytes(doc).first(41));
  fuzz::write_seed(dir + "/chunk-past-total", 5, past.take());
  vote.descriptors = {Frame{2}, Frame{1}};
  fuzz::write_seed(dir + "/vote-unsorted", 7, vote.encode());
  auto reply = encode_register_reply({RegisterStatus::accepted, 1});
  reply[1] = 7;
  fuzz::write_seed(dir + "/register-reply-bad-status", 1, reply);
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Copy the rest so that ASan catches any read past its end.
  const Frame rest(data + 1, data + size);
  switch (data[0] % 10) {
    case 0:
      if (auto d = decode_register(rest)) CHECK(encode_register(*d) == rest);
      break;
    case 1:
      if (auto r = decode_register_reply(rest)) CHECK(encode_register_reply(*r) == rest);
      break;
    case 2:
      if (auto e = decode_fetch(rest)) CHECK(encode_fetch(*e) == rest);
      break;
    case 3:
      if (auto e = decode_none(rest)) CHECK(encode_none(*e) == rest);
      break;
    case 4:
      if (auto s = decode_signature(rest)) CHECK(encode_signature(*s) == rest);
      break;
    case 5:
      decode_one_chunk(FrameType::dir_chunk, rest);
      break;
    case 6:
      decode_one_chunk(FrameType::auth_vote, rest);
      break;
    case 7:
      decode_vote(rest);
      break;
    case 8:
      assemble_cut(rest);
      break;
    default:
      chunk_large(rest);
      break;
  }
  return 0;
}
