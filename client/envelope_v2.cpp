#include "client/envelope_v2.hpp"

#include <algorithm>
#include <cstring>

#include "routing/wire.hpp"

namespace nightjar::client::v2 {

std::size_t overhead(Kind k) {
  return k == Kind::prekey ? prekey_message_overhead : ratchet_message_overhead;
}

std::array<std::size_t, 3> buckets(std::uint32_t max_body_bytes) {
  if (max_body_bytes < min_max_body_bytes) return {0, 0, 0};
  const std::size_t c = max_body_bytes - prekey_message_overhead;
  return {prekey_message_overhead + c / 4, prekey_message_overhead + (c + 1) / 2 - 1,
          prekey_message_overhead + c};
}

std::size_t capacity(Kind k, std::uint32_t max_body_bytes) {
  if (max_body_bytes < min_max_body_bytes) return 0;
  return max_body_bytes - overhead(k);
}

std::vector<std::uint8_t> encode_content(const Content& c, std::size_t size) {
  const std::size_t length = std::max(size, content_fixed_bytes + c.body.size());
  WireWriter w(length);
  w.u8(c.flags)
      .u64(c.timestamp_ms)
      .fixed(c.message_id)
      .u16(c.index)
      .u16(c.count)
      .u16(static_cast<std::uint16_t>(c.body.size()))
      .raw(c.body);
  const std::vector<std::uint8_t> padding(length - content_fixed_bytes - c.body.size(), 0);
  w.raw(padding);
  return w.take();
}

Result<Content, OpenError> decode_content(Bytes bytes) {
  if (bytes.size() < content_fixed_bytes) return fail(OpenError::malformed);
  Content c;
  c.flags = bytes[0];
  if (c.flags != 0 && c.flags != flag_control && c.flags != flag_group && c.flags != flag_receipt)
    return fail(OpenError::malformed);
  c.timestamp_ms = load_u64(&bytes[1]);
  std::memcpy(c.message_id.data(), &bytes[9], 16);
  c.index = load_u16(&bytes[25]);
  c.count = load_u16(&bytes[27]);
  const std::size_t length = load_u16(&bytes[29]);
  if (content_fixed_bytes + length > bytes.size()) return fail(OpenError::bad_padding);
  const Bytes padding = bytes.subspan(content_fixed_bytes + length);
  if (std::any_of(padding.begin(), padding.end(), [](std::uint8_t b) { return b != 0; }))
    return fail(OpenError::bad_padding);
  if (c.count < 1 || c.count > max_fragments || c.index >= c.count)
    return fail(OpenError::bad_fragment);
  const Bytes body = bytes.subspan(content_fixed_bytes, length);
  c.body.assign(body.begin(), body.end());
  return c;
}

std::vector<std::uint8_t> encode_inner(const Inner& inner) {
  const bool prekey = inner.kind == Kind::prekey;
  std::vector<std::uint8_t> out(inner_fixed_bytes + (prekey ? prekey_header_bytes : 0) +
                                inner.ratchet_message.size());
  out[0] = static_cast<std::uint8_t>(inner.kind);
  std::memcpy(&out[1], inner.sender.data(), 32);
  std::size_t at = inner_fixed_bytes;
  if (prekey) {
    std::memcpy(&out[at], inner.prekey.ephemeral.data(), 32);
    store_u32(&out[at + 32], inner.prekey.signed_prekey_id);
    store_u32(&out[at + 36], inner.prekey.one_time_prekey_id);
    at += prekey_header_bytes;
  }
  if (!inner.ratchet_message.empty())
    std::memcpy(&out[at], inner.ratchet_message.data(), inner.ratchet_message.size());
  return out;
}

Result<Inner, OpenError> decode_inner(Bytes bytes) {
  if (bytes.empty()) return fail(OpenError::malformed);
  Inner inner;
  if (bytes[0] != static_cast<std::uint8_t>(Kind::prekey) &&
      bytes[0] != static_cast<std::uint8_t>(Kind::ratchet))
    return fail(OpenError::bad_version);
  inner.kind = static_cast<Kind>(bytes[0]);
  const std::size_t header =
      inner_fixed_bytes + (inner.kind == Kind::prekey ? prekey_header_bytes : 0);
  if (bytes.size() < header + ratchet_overhead + content_fixed_bytes)
    return fail(OpenError::malformed);
  inner.sender = AccountKey::from(bytes.subspan<1, 32>());
  if (inner.kind == Kind::prekey) {
    inner.prekey.ephemeral = X25519PublicKey::from(bytes.subspan<33, 32>());
    inner.prekey.signed_prekey_id = load_u32(&bytes[65]);
    inner.prekey.one_time_prekey_id = load_u32(&bytes[69]);
  }
  const Bytes rest = bytes.subspan(header);
  inner.ratchet_message.assign(rest.begin(), rest.end());
  return inner;
}

std::size_t content_size(Kind k, std::size_t envelope_size) {
  return envelope_size - overhead(k) + content_fixed_bytes;
}

Result<std::size_t, SealError> bucket_for(Kind k, std::size_t body_bytes,
                                          std::uint32_t max_body_bytes, bool fragment) {
  const auto sizes = buckets(max_body_bytes);
  if (sizes[0] == 0) return fail(SealError::body_limit_too_small);
  const std::size_t needed = fragment ? sizes[2] : overhead(k) + body_bytes;
  if (overhead(k) + body_bytes > sizes[2]) return fail(SealError::body_too_large);
  const auto it = std::find_if(sizes.begin(), sizes.end(), [&](std::size_t s) { return s >= needed; });
  if (it == sizes.end()) return fail(SealError::body_too_large);
  return *it;
}

Result<std::vector<std::uint8_t>, SealError> seal_outer(const SealKey& recipient, Bytes inner,
                                                        RandomSource& rng) {
  return envelope_layers::encrypt_layer(envelope_version, recipient, inner, rng);
}

Result<std::vector<std::uint8_t>, OpenError> open_outer(const Identity& recipient, Bytes envelope) {
  if (envelope.empty()) return fail(OpenError::malformed);
  if (envelope[0] != envelope_version) return fail(OpenError::bad_version);
  if (envelope.size() < ratchet_message_overhead || envelope.size() > max_envelope_bytes)
    return fail(OpenError::malformed);
  return envelope_layers::decrypt_layer(envelope_version, recipient, envelope);
}

}  // namespace nightjar::client::v2
