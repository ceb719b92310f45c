// Tests of swarm/dir_messages.hpp: round trips of the directory protocol's
// frames, every class of bad input, chunking and reassembly of documents
// (empty, one byte, exactly one chunk, one byte over, several chunks; out of
// order, wrong epoch, oversize, restarts, inconsistent offsets), and votes
// (sorted unique descriptors, counts, format byte).
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/frame.hpp"
#include "routing/wire.hpp"
#include "swarm/dir_messages.hpp"

using nightjar::BlobAssembler;
using nightjar::Bytes;
using nightjar::Chunk;
using nightjar::chunk_header_bytes;
using nightjar::decode_chunk;
using nightjar::decode_fetch;
using nightjar::decode_none;
using nightjar::decode_register;
using nightjar::decode_register_reply;
using nightjar::decode_signature;
using nightjar::Ed25519PublicKey;
using nightjar::Ed25519Signature;
using nightjar::encode_chunks;
using nightjar::encode_fetch;
using nightjar::encode_none;
using nightjar::encode_register;
using nightjar::encode_register_reply;
using nightjar::encode_signature;
using nightjar::FrameType;
using nightjar::Hash256;
using nightjar::max_chunk_data;
using nightjar::RegisterReply;
using nightjar::RegisterStatus;
using nightjar::SignatureMessage;
using nightjar::Vote;
using nightjar::WireError;
using nightjar::WireWriter;
using Status = BlobAssembler::Status;

namespace {

template <class Fixed>
Fixed filled(std::uint8_t b) {
  Fixed f;
  for (std::size_t i = 0; i < Fixed::size_bytes; ++i)
    f.bytes[i] = static_cast<std::uint8_t>(b + i);
  return f;
}

std::vector<std::uint8_t> seq(std::size_t n, std::uint8_t start = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::uint8_t>(start + i * 31 + (i >> 8));
  return v;
}

std::vector<std::uint8_t> prefix(const std::vector<std::uint8_t>& v, std::size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)};
}

template <class Result>
void check_fails(const Result& r, WireError want) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == want);
}

// Every strict prefix is truncated, an extra byte is trailing, and another
// type byte is a bad value.
template <class Decode>
void check_framing(const std::vector<std::uint8_t>& frame, Decode decode) {
  for (std::size_t n = 0; n < frame.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    check_fails(decode(prefix(frame, n)), WireError::truncated);
  }
  auto extra = frame;
  extra.push_back(0);
  check_fails(decode(extra), WireError::trailing_bytes);
  for (int t : {0x00, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x20, 0xff}) {
    if (t == frame[0]) continue;
    auto other = frame;
    other[0] = static_cast<std::uint8_t>(t);
    check_fails(decode(other), WireError::bad_value);
  }
}

Chunk chunk_of(std::uint64_t epoch, std::uint32_t total, std::uint32_t offset, Bytes data) {
  return Chunk{epoch, total, offset, data};
}

// A descriptor-like byte string that sorts by `n`.
std::vector<std::uint8_t> descriptor(std::uint32_t n, std::size_t len = 8) {
  std::vector<std::uint8_t> d(len, 0x5a);
  d[0] = static_cast<std::uint8_t>(n >> 16);
  d[1] = static_cast<std::uint8_t>(n >> 8);
  d[2] = static_cast<std::uint8_t>(n);
  return d;
}

Vote vote(std::size_t n) {
  Vote v;
  v.epoch = 1001;
  v.previous_epoch = 1000;
  v.previous_digest = filled<Hash256>(0x33);
  for (std::uint32_t i = 0; i < n; ++i)
    v.descriptors.push_back(descriptor(i));
  return v;
}

// A vote written by hand, with whatever descriptors and count it is given.
std::vector<std::uint8_t> raw_vote(std::uint8_t format, std::uint32_t count,
                                   const std::vector<std::vector<std::uint8_t>>& descriptors) {
  WireWriter w;
  w.u8(format).u64(5).u64(4).fixed(Hash256{}).u32(count);
  for (const auto& d : descriptors)
    w.var16(d);
  return w.take();
}

}  // namespace

// --- Small frames ------------------------------------------------------------

TEST_CASE("Directory register frames round-trip", "[dirproto]") {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{300}, std::size_t{0xffff}}) {
    const auto d = seq(n, 9);
    const auto frame = encode_register(d);
    CHECK(frame.size() == 3 + n);
    CHECK(frame[0] == static_cast<std::uint8_t>(FrameType::dir_register));
    auto back = decode_register(frame);
    REQUIRE(back.ok());
    CHECK(std::vector<std::uint8_t>(back->begin(), back->end()) == d);
  }
  check_framing(encode_register(seq(5)), [](const auto& f) { return decode_register(f); });
  check_framing(encode_register({}), [](const auto& f) { return decode_register(f); });
}

TEST_CASE("Directory register replies round-trip for every status", "[dirproto]") {
  std::set<std::string> names;
  for (std::uint8_t s = 0; s <= static_cast<std::uint8_t>(RegisterStatus::unreachable); ++s) {
    const RegisterReply r{static_cast<RegisterStatus>(s), 1'700'000'000'000u + s};
    const auto frame = encode_register_reply(r);
    CHECK(frame.size() == 10u);
    auto back = decode_register_reply(frame);
    REQUIRE(back.ok());
    CHECK(back->status == r.status);
    CHECK(back->server_time_ms == r.server_time_ms);
    names.insert(nightjar::to_string(r.status));
  }
  CHECK(names.size() == 7u);
  CHECK(std::string(nightjar::to_string(static_cast<RegisterStatus>(7))) == "unknown status");

  auto frame = encode_register_reply({RegisterStatus::overloaded, 5});
  check_framing(frame, [](const auto& f) { return decode_register_reply(f); });
  for (int s : {7, 0x80, 0xff}) {
    frame[1] = static_cast<std::uint8_t>(s);
    check_fails(decode_register_reply(frame), WireError::bad_value);
  }
}

TEST_CASE("Directory fetch, none and signature frames round-trip", "[dirproto]") {
  for (std::uint64_t e : {std::uint64_t{0}, std::uint64_t{1}, ~std::uint64_t{0}}) {
    auto f = decode_fetch(encode_fetch(e));
    REQUIRE(f.ok());
    CHECK(*f == e);
    auto n = decode_none(encode_none(e));
    REQUIRE(n.ok());
    CHECK(*n == e);
  }
  CHECK(encode_fetch(1).size() == 9u);
  check_framing(encode_fetch(77), [](const auto& f) { return decode_fetch(f); });
  check_framing(encode_none(77), [](const auto& f) { return decode_none(f); });
  // A fetch is not a none, and the other way round.
  check_fails(decode_none(encode_fetch(1)), WireError::bad_value);
  check_fails(decode_fetch(encode_none(1)), WireError::bad_value);

  const SignatureMessage m{42, filled<Hash256>(1), filled<Ed25519PublicKey>(2),
                           filled<Ed25519Signature>(3)};
  const auto frame = encode_signature(m);
  CHECK(frame.size() == 1 + 8 + 32 + 32 + 64u);
  auto back = decode_signature(frame);
  REQUIRE(back.ok());
  CHECK(back->epoch == 42);
  CHECK(back->digest == m.digest);
  CHECK(back->authority == m.authority);
  CHECK(back->signature == m.signature);
  check_framing(frame, [](const auto& f) { return decode_signature(f); });
}

// --- Chunks and reassembly -----------------------------------------------------

TEST_CASE("Chunked documents reassemble at every edge size", "[dirproto]") {
  struct Case {
    std::size_t bytes;
    std::size_t chunks;
  };
  for (FrameType type : {FrameType::dir_chunk, FrameType::auth_vote}) {
    for (const Case c :
         {Case{0, 1}, Case{1, 1}, Case{60'000, 1}, Case{60'001, 2}, Case{200'000, 4}}) {
      INFO(c.bytes << " bytes");
      const auto doc = seq(c.bytes, 1);
      const auto frames = encode_chunks(type, 9, doc);
      REQUIRE(frames.size() == c.chunks);
      BlobAssembler assembler(200'000);
      std::size_t offset = 0;
      for (std::size_t i = 0; i < frames.size(); ++i) {
        CHECK(frames[i].size() <= chunk_header_bytes + max_chunk_data);
        auto chunk = decode_chunk(type, frames[i]);
        REQUIRE(chunk.ok());
        CHECK(chunk->epoch == 9);
        CHECK(chunk->total == c.bytes);
        CHECK(chunk->offset == offset);
        offset += chunk->data.size();
        const bool last = i + 1 == frames.size();
        CHECK(assembler.add(*chunk) == (last ? Status::complete : Status::partial));
      }
      CHECK(assembler.epoch() == 9);
      CHECK(assembler.take() == doc);
    }
  }
}

TEST_CASE("Chunk decoding rejects bad frames", "[dirproto]") {
  const auto doc = seq(100);
  const auto frame = encode_chunks(FrameType::dir_chunk, 3, doc).at(0);
  // Another chunk type, or a header cut short.
  check_fails(decode_chunk(FrameType::auth_vote, frame), WireError::bad_value);
  for (std::size_t n = 0; n < chunk_header_bytes; ++n)
    check_fails(decode_chunk(FrameType::dir_chunk, prefix(frame, n)), WireError::truncated);

  auto raw_chunk = [](std::uint32_t total, std::uint32_t offset, std::size_t data) {
    WireWriter w;
    w.u8(static_cast<std::uint8_t>(FrameType::dir_chunk)).u64(1).u32(total).u32(offset);
    w.raw(seq(data));
    return w.take();
  };
  CHECK(decode_chunk(FrameType::dir_chunk, raw_chunk(100, 40, 60)).ok());
  // offset + length beyond the total, including offsets that would overflow 32 bits.
  check_fails(decode_chunk(FrameType::dir_chunk, raw_chunk(100, 41, 60)), WireError::bad_value);
  check_fails(decode_chunk(FrameType::dir_chunk, raw_chunk(0xffffffffu, 0xffffffffu, 2)),
              WireError::bad_value);
  // An empty chunk of a non-empty document.
  check_fails(decode_chunk(FrameType::dir_chunk, raw_chunk(100, 0, 0)), WireError::bad_value);
  // More data than a chunk may carry.
  CHECK(decode_chunk(FrameType::dir_chunk, raw_chunk(70'000, 0, max_chunk_data)).ok());
  check_fails(decode_chunk(FrameType::dir_chunk, raw_chunk(70'000, 0, max_chunk_data + 1)),
              WireError::too_long);
}

TEST_CASE("BlobAssembler rejects chunks out of order or of another document", "[dirproto]") {
  const auto doc = seq(150'000, 7);
  const auto frames = encode_chunks(FrameType::dir_chunk, 5, doc);
  REQUIRE(frames.size() == 3u);
  std::vector<Chunk> c;
  for (const auto& f : frames)
    c.push_back(*decode_chunk(FrameType::dir_chunk, f));

  SECTION("a skipped chunk") {
    BlobAssembler a(200'000);
    CHECK(a.add(c[0]) == Status::partial);
    CHECK(a.add(c[2]) == Status::error);
    // The error reset it: the rest of that document is refused too.
    CHECK(a.add(c[1]) == Status::error);
  }
  SECTION("a repeated chunk") {
    BlobAssembler a(200'000);
    CHECK(a.add(c[0]) == Status::partial);
    CHECK(a.add(c[1]) == Status::partial);
    CHECK(a.add(c[1]) == Status::error);
  }
  SECTION("a middle chunk first") {
    BlobAssembler a(200'000);
    CHECK(a.add(c[1]) == Status::error);
  }
  SECTION("a chunk of another epoch") {
    BlobAssembler a(200'000);
    CHECK(a.add(c[0]) == Status::partial);
    Chunk other = c[1];
    other.epoch = 6;
    CHECK(a.add(other) == Status::error);
  }
  SECTION("a chunk with another total") {
    BlobAssembler a(200'000);
    CHECK(a.add(c[0]) == Status::partial);
    Chunk other = c[1];
    other.total += 1;
    CHECK(a.add(other) == Status::error);
  }
  SECTION("a document over the maximum") {
    BlobAssembler a(149'999);
    CHECK(a.add(c[0]) == Status::error);
    BlobAssembler exact(150'000);
    CHECK(exact.add(c[0]) == Status::partial);
  }
  SECTION("a chunk whose data runs past the total") {
    const auto data = seq(20);
    BlobAssembler a(200'000);
    CHECK(a.add(chunk_of(1, 10, 0, data)) == Status::error);
    CHECK(a.add(chunk_of(1, 25, 0, Bytes(data).first(10))) == Status::partial);
    CHECK(a.add(chunk_of(1, 25, 10, data)) == Status::error);
  }
  SECTION("recovery after an error") {
    BlobAssembler a(200'000);
    CHECK(a.add(c[1]) == Status::error);
    CHECK(a.add(c[0]) == Status::partial);
    CHECK(a.add(c[1]) == Status::partial);
    CHECK(a.add(c[2]) == Status::complete);
    CHECK(a.take() == doc);
  }
}

TEST_CASE("BlobAssembler restarts on a chunk at offset 0", "[dirproto]") {
  const auto first = seq(130'000, 1);
  const auto second = seq(70'000, 2);
  const auto a_frames = encode_chunks(FrameType::auth_vote, 10, first);
  const auto b_frames = encode_chunks(FrameType::auth_vote, 11, second);
  BlobAssembler a(200'000);
  CHECK(a.add(*decode_chunk(FrameType::auth_vote, a_frames[0])) == Status::partial);
  CHECK(a.add(*decode_chunk(FrameType::auth_vote, a_frames[1])) == Status::partial);
  // A new document begins: the partial one is dropped.
  CHECK(a.add(*decode_chunk(FrameType::auth_vote, b_frames[0])) == Status::partial);
  CHECK(a.add(*decode_chunk(FrameType::auth_vote, b_frames[1])) == Status::complete);
  CHECK(a.epoch() == 11);
  CHECK(a.take() == second);
  // After take(), a chunk that continues nothing is refused; a new one works.
  CHECK(a.add(*decode_chunk(FrameType::auth_vote, a_frames[2])) == Status::error);
  const auto empty = encode_chunks(FrameType::auth_vote, 12, {});
  CHECK(a.add(*decode_chunk(FrameType::auth_vote, empty.at(0))) == Status::complete);
  CHECK(a.epoch() == 12);
  CHECK(a.take().empty());
}

// --- Votes -------------------------------------------------------------------

TEST_CASE("Votes round-trip with zero to the most descriptors", "[dirproto]") {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{50}, Vote::max_descriptors}) {
    INFO(n << " descriptors");
    const Vote v = vote(n);
    const auto bytes = v.encode();
    auto back = Vote::decode(bytes);
    REQUIRE(back.ok());
    CHECK(back->epoch == v.epoch);
    CHECK(back->previous_epoch == v.previous_epoch);
    CHECK(back->previous_digest == v.previous_digest);
    CHECK(back->descriptors == v.descriptors);
    CHECK(back->encode() == bytes);
  }
  // An empty descriptor sorts first; 512 bytes is the largest.
  Vote edge;
  edge.descriptors = {{}, descriptor(1, 512)};
  auto back = Vote::decode(edge.encode());
  REQUIRE(back.ok());
  CHECK(back->descriptors == edge.descriptors);
}

TEST_CASE("Vote decoding rejects bad input", "[dirproto]") {
  const auto bytes = vote(3).encode();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    check_fails(Vote::decode(prefix(bytes, n)), WireError::truncated);
  }
  auto extra = bytes;
  extra.push_back(0);
  check_fails(Vote::decode(extra), WireError::trailing_bytes);

  for (int f : {0, 2, 0xff}) {
    auto bad = bytes;
    bad[0] = static_cast<std::uint8_t>(f);
    check_fails(Vote::decode(bad), WireError::bad_value);
  }
  CHECK(Vote::decode(raw_vote(1, 2, {descriptor(1), descriptor(2)})).ok());
  check_fails(Vote::decode(raw_vote(1, 2, {descriptor(2), descriptor(1)})), WireError::bad_value);
  check_fails(Vote::decode(raw_vote(1, 2, {descriptor(2), descriptor(2)})), WireError::bad_value);
  // A proper prefix sorts before the longer string; the other way round is unsorted.
  CHECK(Vote::decode(raw_vote(1, 2, {descriptor(2, 3), descriptor(2, 4)})).ok());
  check_fails(Vote::decode(raw_vote(1, 2, {descriptor(2, 4), descriptor(2, 3)})),
              WireError::bad_value);
  // Too many descriptors: refused from the count alone.
  check_fails(Vote::decode(raw_vote(1, Vote::max_descriptors + 1, {})), WireError::too_long);
  check_fails(Vote::decode(raw_vote(1, 0xffffffffu, {})), WireError::too_long);
  // A descriptor longer than 512 bytes.
  check_fails(Vote::decode(raw_vote(1, 1, {descriptor(1, 513)})), WireError::too_long);
  // A count larger than the descriptors that follow.
  check_fails(Vote::decode(raw_vote(1, 3, {descriptor(1), descriptor(2)})), WireError::truncated);
}
