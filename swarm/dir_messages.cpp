#include "swarm/dir_messages.hpp"

#include <algorithm>

namespace nightjar {

const char* to_string(RegisterStatus s) {
  switch (s) {
    case RegisterStatus::accepted: return "accepted";
    case RegisterStatus::bad_descriptor: return "descriptor does not decode";
    case RegisterStatus::bad_signature: return "descriptor signature does not verify";
    case RegisterStatus::wrong_link_key: return "link key differs from the descriptor's";
    case RegisterStatus::not_authority: return "not an authority";
    case RegisterStatus::overloaded: return "authority overloaded";
    case RegisterStatus::unreachable: return "address not reachable from the authority";
  }
  return "unknown status";
}

namespace {

WireWriter start(FrameType t, std::size_t reserve) {
  WireWriter w(reserve);
  w.u8(static_cast<std::uint8_t>(t));
  return w;
}

// Checks the type byte; the reader is left after it.
Result<void, WireError> expect(WireReader& r, FrameType t) {
  auto b = r.u8();
  if (!b) return b.failure();
  if (*b != static_cast<std::uint8_t>(t)) return fail(WireError::bad_value);
  return {};
}

Result<std::uint64_t, WireError> decode_u64_frame(FrameType t, Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, t); !e) return e.failure();
  auto v = r.u64();
  if (!v) return v.failure();
  if (auto end = r.finish(); !end) return end.failure();
  return *v;
}

}  // namespace

std::vector<std::uint8_t> encode_register(Bytes descriptor) {
  return start(FrameType::dir_register, 3 + descriptor.size()).var16(descriptor).take();
}

Result<Bytes, WireError> decode_register(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, FrameType::dir_register); !e) return e.failure();
  auto d = r.var16();
  if (!d) return d.failure();
  if (auto end = r.finish(); !end) return end.failure();
  return *d;
}

std::vector<std::uint8_t> encode_register_reply(const RegisterReply& r) {
  return start(FrameType::dir_register_reply, 10)
      .u8(static_cast<std::uint8_t>(r.status))
      .u64(r.server_time_ms)
      .take();
}

Result<RegisterReply, WireError> decode_register_reply(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, FrameType::dir_register_reply); !e) return e.failure();
  auto s = r.u8();
  if (!s) return s.failure();
  if (*s > static_cast<std::uint8_t>(RegisterStatus::unreachable)) return fail(WireError::bad_value);
  auto t = r.u64();
  if (!t) return t.failure();
  if (auto end = r.finish(); !end) return end.failure();
  return RegisterReply{static_cast<RegisterStatus>(*s), *t};
}

std::vector<std::uint8_t> encode_fetch(std::uint64_t have_epoch) {
  return start(FrameType::dir_fetch, 9).u64(have_epoch).take();
}
Result<std::uint64_t, WireError> decode_fetch(Bytes frame) {
  return decode_u64_frame(FrameType::dir_fetch, frame);
}
std::vector<std::uint8_t> encode_none(std::uint64_t held_epoch) {
  return start(FrameType::dir_none, 9).u64(held_epoch).take();
}
Result<std::uint64_t, WireError> decode_none(Bytes frame) {
  return decode_u64_frame(FrameType::dir_none, frame);
}

std::vector<std::uint8_t> encode_signature(const SignatureMessage& m) {
  return start(FrameType::auth_signature, 1 + 8 + 32 + 32 + 64)
      .u64(m.epoch)
      .fixed(m.digest)
      .fixed(m.authority)
      .fixed(m.signature)
      .take();
}

Result<SignatureMessage, WireError> decode_signature(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, FrameType::auth_signature); !e) return e.failure();
  SignatureMessage m;
  auto epoch = r.u64();
  if (!epoch) return epoch.failure();
  m.epoch = *epoch;
  auto d = r.fixed<Hash256>();
  if (!d) return d.failure();
  m.digest = *d;
  auto a = r.fixed<Ed25519PublicKey>();
  if (!a) return a.failure();
  m.authority = *a;
  auto sig = r.fixed<Ed25519Signature>();
  if (!sig) return sig.failure();
  m.signature = *sig;
  if (auto end = r.finish(); !end) return end.failure();
  return m;
}

std::vector<std::vector<std::uint8_t>> encode_chunks(FrameType type, std::uint64_t epoch,
                                                     Bytes document) {
  std::vector<std::vector<std::uint8_t>> out;
  const auto total = static_cast<std::uint32_t>(document.size());
  std::size_t off = 0;
  do {
    const std::size_t n = std::min(max_chunk_data, document.size() - off);
    out.push_back(start(type, chunk_header_bytes + n)
                      .u64(epoch)
                      .u32(total)
                      .u32(static_cast<std::uint32_t>(off))
                      .raw(document.subspan(off, n))
                      .take());
    off += n;
  } while (off < document.size());
  return out;
}

Result<Chunk, WireError> decode_chunk(FrameType type, Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, type); !e) return e.failure();
  Chunk c;
  auto epoch = r.u64();
  if (!epoch) return epoch.failure();
  auto total = r.u32();
  if (!total) return total.failure();
  auto offset = r.u32();
  if (!offset) return offset.failure();
  c.epoch = *epoch;
  c.total = *total;
  c.offset = *offset;
  c.data = r.rest();
  if (c.data.size() > max_chunk_data) return fail(WireError::too_long);
  if (std::uint64_t{c.offset} + c.data.size() > c.total) return fail(WireError::bad_value);
  // Only the last chunk (or an empty document) may be short.
  if (c.data.empty() && c.total != 0) return fail(WireError::bad_value);
  return c;
}

BlobAssembler::Status BlobAssembler::add(const Chunk& c) {
  auto reset = [this] {
    started_ = false;
    buf_.clear();
    return Status::error;
  };
  if (c.offset == 0) {
    if (c.total > max_total_) return reset();
    started_ = true;
    epoch_ = c.epoch;
    total_ = c.total;
    buf_.clear();
    buf_.reserve(c.total);
  } else if (!started_ || c.epoch != epoch_ || c.total != total_ || c.offset != buf_.size()) {
    return reset();
  }
  buf_.insert(buf_.end(), c.data.begin(), c.data.end());
  if (buf_.size() > total_) return reset();
  return buf_.size() == total_ ? Status::complete : Status::partial;
}

std::vector<std::uint8_t> Vote::encode() const {
  WireWriter w;
  w.u8(format).u64(epoch).u64(previous_epoch).fixed(previous_digest);
  w.u32(static_cast<std::uint32_t>(descriptors.size()));
  for (const auto& d : descriptors) w.var16(d);
  return w.take();
}

Result<Vote, WireError> Vote::decode(Bytes bytes) {
  WireReader r(bytes);
  auto f = r.u8();
  if (!f) return f.failure();
  if (*f != format) return fail(WireError::bad_value);
  Vote v;
  auto epoch = r.u64();
  if (!epoch) return epoch.failure();
  auto prev = r.u64();
  if (!prev) return prev.failure();
  auto digest = r.fixed<Hash256>();
  if (!digest) return digest.failure();
  v.epoch = *epoch;
  v.previous_epoch = *prev;
  v.previous_digest = *digest;
  auto n = r.u32();
  if (!n) return n.failure();
  if (*n > max_descriptors) return fail(WireError::too_long);
  v.descriptors.reserve(*n);
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto d = r.var16(512);
    if (!d) return d.failure();
    if (!v.descriptors.empty()) {
      const auto& last = v.descriptors.back();
      if (!std::lexicographical_compare(last.begin(), last.end(), d->begin(), d->end()))
        return fail(WireError::bad_value);  // sorted and unique
    }
    v.descriptors.emplace_back(d->begin(), d->end());
  }
  if (auto end = r.finish(); !end) return end.failure();
  return v;
}

}  // namespace nightjar
