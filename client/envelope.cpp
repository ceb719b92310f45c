#include "client/envelope.hpp"

#include <algorithm>
#include <cstring>

#include "routing/wire.hpp"

namespace nightjar::client {
namespace {

constexpr std::string_view key_label = "nightjar envelope key v1";
constexpr std::string_view key_label_v2 = "nightjar envelope key v2";
static_assert(key_label.size() == key_label_v2.size());
constexpr std::string_view signature_label = "nightjar envelope signature v1";

// Offsets inside the inner plaintext.
constexpr std::size_t at_sender = 0;
constexpr std::size_t at_signature = 32;
constexpr std::size_t at_timestamp = 96;
constexpr std::size_t at_message_id = 104;
constexpr std::size_t at_index = 120;
constexpr std::size_t at_count = 122;
constexpr std::size_t at_body_length = 124;
constexpr std::size_t at_body = 126;
static_assert(at_body == envelope_inner_fixed_bytes);

struct OkmTag;
using Okm = Secret<64, OkmTag>;

// key || nonce = BLAKE2b-512(key = X25519(e, R), "nightjar envelope key v1"
// || E || R || recipient's Ed25519 key). Each envelope has a fresh E, so each
// key encrypts exactly one plaintext and the nonce (derived, not sent) never
// repeats under a key: as in crypto_box_seal, sending one saves 24 bytes and
// adds nothing. Hashing in both public keys binds the key to this exchange
// (the DH output alone is shared by E and its low-order twins).
struct EnvelopeKeys {
  SymmetricKey key;
  AeadNonce nonce;
};
EnvelopeKeys derive_keys(const SharedSecret& dh, const X25519PublicKey& ephemeral,
                         const X25519PublicKey& recipient_x, const AccountKey& recipient,
                         std::uint8_t version = envelope_version) {
  const std::string_view label = version == envelope_version ? key_label : key_label_v2;
  std::uint8_t input[key_label.size() + 32 * 3];
  std::memcpy(input, label.data(), key_label.size());
  std::memcpy(input + key_label.size(), ephemeral.data(), 32);
  std::memcpy(input + key_label.size() + 32, recipient_x.data(), 32);
  std::memcpy(input + key_label.size() + 64, recipient.data(), 32);
  Okm okm;
  crypto::blake2b(okm.mutable_view(), input, dh.view());
  EnvelopeKeys keys;
  keys.key = SymmetricKey::from(okm.view().first<32>());
  keys.nonce = AeadNonce::from(okm.view().subspan<32, 24>());
  return keys;
}

std::vector<std::uint8_t> signed_message(const AccountKey& recipient, Bytes inner) {
  std::vector<std::uint8_t> m;
  m.reserve(signature_label.size() + 64 + inner.size() - at_timestamp);
  const Bytes label = as_bytes(signature_label);
  m.insert(m.end(), label.begin(), label.end());
  m.insert(m.end(), recipient.bytes.begin(), recipient.bytes.end());
  m.insert(m.end(), inner.begin() + at_sender, inner.begin() + at_signature);
  m.insert(m.end(), inner.begin() + at_timestamp, inner.end());
  return m;
}

bool fragment_fields_ok(std::uint16_t index, std::uint16_t count) {
  return count >= 1 && count <= max_fragments && index < count;
}

// Wipes a plaintext buffer on every exit path of open().
struct Wiped {
  std::vector<std::uint8_t>& v;
  ~Wiped() { sodium_memzero(v.data(), v.size()); }
};

}  // namespace

const char* to_string(SealError e) {
  switch (e) {
    case SealError::body_limit_too_small:
      return "the network's body limit leaves no room for a message";
    case SealError::body_too_large:
      return "body does not fit in one envelope";
    case SealError::message_too_large:
      return "message longer than 64 KiB";
    case SealError::bad_fragment:
      return "bad fragment index or count";
    case SealError::bad_recipient_key:
      return "recipient key is not a valid account key";
    case SealError::no_session:
      return "no forward-secret session with the recipient";
  }
  return "unknown seal error";
}

const char* to_string(OpenError e) {
  switch (e) {
    case OpenError::malformed:
      return "malformed envelope";
    case OpenError::bad_version:
      return "unknown envelope version";
    case OpenError::decryption_failed:
      return "cannot decrypt (not for this account, or tampered with)";
    case OpenError::bad_padding:
      return "bad body length or padding";
    case OpenError::bad_signature:
      return "sender signature does not verify";
    case OpenError::bad_fragment:
      return "bad fragment index or count";
  }
  return "unknown open error";
}

std::size_t fragment_capacity(std::uint32_t max_body_bytes) {
  if (max_body_bytes < min_max_body_bytes) return 0;
  return std::min<std::size_t>(max_body_bytes, max_envelope_bytes) - envelope_overhead;
}

std::array<std::size_t, 3> envelope_buckets(std::uint32_t max_body_bytes) {
  const std::size_t c = fragment_capacity(max_body_bytes);
  if (c == 0) return {0, 0, 0};
  // Each piece of a split message holds at least ceil(c / 2) bytes (see
  // fragment()), one more than the middle bucket: all its envelopes are the
  // largest size.
  return {envelope_overhead + c / 4, envelope_overhead + (c - 1) / 2, envelope_overhead + c};
}

MessageId random_message_id(RandomSource& rng) {
  MessageId id;
  rng.fill(id.mutable_view());
  return id;
}

namespace envelope_layers {

void sign_inner(const Identity& sender, const AccountKey& recipient, MutableBytes inner) {
  std::copy(sender.account().bytes.begin(), sender.account().bytes.end(),
            inner.begin() + at_sender);
  const auto sig = crypto::sign(sender.signing_key(), signed_message(recipient, inner));
  std::copy(sig.bytes.begin(), sig.bytes.end(), inner.begin() + at_signature);
}

std::vector<std::uint8_t> encode_inner(const Identity& sender, const AccountKey& recipient,
                                       const Message& message, std::size_t inner_bytes) {
  std::vector<std::uint8_t> inner(std::max(inner_bytes, at_body + message.body.size()), 0);
  store_u64(&inner[at_timestamp], message.timestamp_ms);
  std::copy(message.message_id.bytes.begin(), message.message_id.bytes.end(),
            inner.begin() + at_message_id);
  store_u16(&inner[at_index], message.index);
  store_u16(&inner[at_count], message.count);
  store_u16(&inner[at_body_length], static_cast<std::uint16_t>(message.body.size()));
  std::copy(message.body.begin(), message.body.end(), inner.begin() + at_body);
  sign_inner(sender, recipient, inner);
  return inner;
}

Result<OpenedEnvelope, OpenError> decode_inner(const AccountKey& recipient, Bytes inner) {
  if (inner.size() < envelope_inner_fixed_bytes) return fail(OpenError::malformed);
  const std::size_t body_length = load_u16(&inner[at_body_length]);
  if (body_length > inner.size() - at_body) return fail(OpenError::bad_padding);
  const Bytes padding = inner.subspan(at_body + body_length);
  if (!std::all_of(padding.begin(), padding.end(), [](std::uint8_t b) { return b == 0; }))
    return fail(OpenError::bad_padding);

  OpenedEnvelope out;
  out.sender = AccountKey::from(inner.subspan<at_sender, 32>());
  const auto sig = Ed25519Signature::from(inner.subspan<at_signature, 64>());
  if (!crypto::verify(out.sender, signed_message(recipient, inner), sig))
    return fail(OpenError::bad_signature);

  out.timestamp_ms = load_u64(&inner[at_timestamp]);
  out.message_id = MessageId::from(inner.subspan<at_message_id, 16>());
  out.index = load_u16(&inner[at_index]);
  out.count = load_u16(&inner[at_count]);
  if (!fragment_fields_ok(out.index, out.count)) return fail(OpenError::bad_fragment);
  const Bytes body = inner.subspan(at_body, body_length);
  out.body.assign(body.begin(), body.end());
  return out;
}

Result<std::vector<std::uint8_t>, SealError> encrypt_inner(const AccountKey& recipient, Bytes inner,
                                                           RandomSource& rng) {
  if (inner.size() > max_envelope_bytes - envelope_outer_bytes)
    return fail(SealError::body_too_large);
  auto key = seal_key(recipient);
  if (!key) return key.failure();
  return encrypt_inner(*key, inner, rng);
}

Result<std::vector<std::uint8_t>, SealError> encrypt_inner(const SealKey& recipient, Bytes inner,
                                                           RandomSource& rng) {
  return encrypt_layer(envelope_version, recipient, inner, rng);
}

Result<std::vector<std::uint8_t>, SealError> encrypt_layer(std::uint8_t version,
                                                           const SealKey& recipient, Bytes inner,
                                                           RandomSource& rng) {
  if (inner.size() > max_envelope_bytes - envelope_outer_bytes)
    return fail(SealError::body_too_large);
  X25519SecretKey ephemeral;
  rng.fill(ephemeral.mutable_view());
  const X25519PublicKey ephemeral_pub = crypto::x25519_public(ephemeral);
  auto dh = crypto::x25519(ephemeral, recipient.x25519);
  if (!dh) return fail(SealError::bad_recipient_key);
  const EnvelopeKeys keys =
      derive_keys(*dh, ephemeral_pub, recipient.x25519, recipient.account, version);

  std::vector<std::uint8_t> out(envelope_outer_bytes + inner.size());
  out[0] = version;
  std::copy(ephemeral_pub.bytes.begin(), ephemeral_pub.bytes.end(), out.begin() + 1);
  const Bytes ad{out.data(), envelope_header_bytes};
  (void)crypto::aead_encrypt(keys.key, keys.nonce, ad, inner,
                             MutableBytes(out).subspan(envelope_header_bytes));
  return out;
}

Result<std::vector<std::uint8_t>, OpenError> decrypt_inner(const Identity& recipient,
                                                           Bytes envelope) {
  if (envelope.empty()) return fail(OpenError::malformed);
  if (envelope[0] != envelope_version) return fail(OpenError::bad_version);
  if (envelope.size() < envelope_overhead || envelope.size() > max_envelope_bytes)
    return fail(OpenError::malformed);
  return decrypt_layer(envelope_version, recipient, envelope);
}

Result<std::vector<std::uint8_t>, OpenError> decrypt_layer(std::uint8_t version,
                                                           const Identity& recipient,
                                                           Bytes envelope) {
  if (envelope.empty()) return fail(OpenError::malformed);
  if (envelope[0] != version) return fail(OpenError::bad_version);
  if (envelope.size() < envelope_outer_bytes || envelope.size() > max_envelope_bytes)
    return fail(OpenError::malformed);
  const auto ephemeral = X25519PublicKey::from(envelope.subspan<1, 32>());
  auto dh = crypto::x25519(recipient.x25519_secret(), ephemeral);
  if (!dh) return fail(OpenError::decryption_failed);
  const EnvelopeKeys keys =
      derive_keys(*dh, ephemeral, recipient.x25519_public(), recipient.account(), version);
  std::vector<std::uint8_t> inner(envelope.size() - envelope_outer_bytes);
  // aead_decrypt zeroes `inner` when the tag does not verify.
  if (!crypto::aead_decrypt(keys.key, keys.nonce, envelope.first(envelope_header_bytes),
                            envelope.subspan(envelope_header_bytes), inner))
    return fail(OpenError::decryption_failed);
  return inner;
}

}  // namespace envelope_layers

Result<SealKey, SealError> seal_key(const AccountKey& recipient) {
  auto x = crypto::ed25519_to_x25519(recipient);
  if (!x) return fail(SealError::bad_recipient_key);
  return SealKey{recipient, *x};
}

namespace {

// The bucket (envelope size) a message is sealed into, or why it cannot be.
Result<std::size_t, SealError> seal_bucket(const Message& message, std::uint32_t max_body_bytes) {
  const auto buckets = envelope_buckets(max_body_bytes);
  if (buckets[0] == 0) return fail(SealError::body_limit_too_small);
  if (!fragment_fields_ok(message.index, message.count)) return fail(SealError::bad_fragment);
  const std::size_t needed = envelope_overhead + message.body.size();
  const auto bucket = std::find_if(buckets.begin(), buckets.end(),
                                   [&](std::size_t size) { return size >= needed; });
  if (bucket == buckets.end()) return fail(SealError::body_too_large);
  return *bucket;
}

}  // namespace

Result<std::vector<std::uint8_t>, SealError> seal(const Identity& sender,
                                                  const AccountKey& recipient,
                                                  const Message& message,
                                                  std::uint32_t max_body_bytes, RandomSource& rng) {
  // The message's own errors first, as before the key was converted apart.
  if (auto bucket = seal_bucket(message, max_body_bytes); !bucket) return bucket.failure();
  auto key = seal_key(recipient);
  if (!key) return key.failure();
  return seal(sender, *key, message, max_body_bytes, rng);
}

Result<std::vector<std::uint8_t>, SealError> seal(const Identity& sender, const SealKey& recipient,
                                                  const Message& message,
                                                  std::uint32_t max_body_bytes, RandomSource& rng) {
  auto bucket = seal_bucket(message, max_body_bytes);
  if (!bucket) return bucket.failure();
  std::vector<std::uint8_t> inner = envelope_layers::encode_inner(
      sender, recipient.account, message, *bucket - envelope_outer_bytes);
  Wiped wipe{inner};
  return envelope_layers::encrypt_inner(recipient, inner, rng);
}

Result<OpenedEnvelope, OpenError> open(const Identity& recipient, Bytes envelope) {
  auto inner = envelope_layers::decrypt_inner(recipient, envelope);
  if (!inner) return inner.failure();
  Wiped wipe{*inner};
  return envelope_layers::decode_inner(recipient.account(), *inner);
}

}  // namespace nightjar::client
