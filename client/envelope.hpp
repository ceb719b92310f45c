// The end-to-end envelope: what a client stores in the recipient's swarm as a
// message body. Sealed sender: a node sees only the recipient (the storage
// request names it) and an envelope of one of three sizes; the sender's key,
// the time, the message ID, the fragment fields and the body are inside,
// signed by the sender (over the recipient's key too, so an envelope cannot be
// re-targeted) and encrypted to the recipient's X25519 key (derived from its
// account key) with a fresh ephemeral key. The version byte leaves room for a
// forward-secret version 2.
//
// Layout (docs/ENVELOPE.md, "Envelope"):
//   envelope = version (1) = 1 || ephemeral X25519 key E (32)
//              || XChaCha20-Poly1305(inner) (inner + 16)
//   inner    = sender (32) || signature (64) || timestamp_ms (8)
//              || message ID (16) || index (2) || count (2) || body length (2)
//              || body || zero padding
// Overhead: 175 bytes. Buckets, with C = max_body_bytes - 175 (the fragment
// capacity): the envelope is exactly 175 + floor(C/4), 175 + ceil(C/2) - 1 or
// 175 + C bytes (241, 307, 440 at the default 440).
//
// Callers: the client library's send path (seal each fragment, see
// client/fragments.hpp) and receive path (open what retrieve returns).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "client/account.hpp"
#include "client/identity.hpp"
#include "routing/bytes.hpp"
#include "routing/random_source.hpp"
#include "routing/result.hpp"

namespace nightjar::client {

struct MessageIdTag;
// Chosen at random by the sender; the same in every fragment of a message.
using MessageId = FixedBytes<16, MessageIdTag>;

inline constexpr std::uint8_t envelope_version = 1;
inline constexpr std::size_t envelope_header_bytes = 1 + 32;                     // version, E
inline constexpr std::size_t envelope_outer_bytes = envelope_header_bytes + 16;  // + AEAD tag
inline constexpr std::size_t envelope_inner_fixed_bytes = 32 + 64 + 8 + 16 + 2 + 2 + 2;  // 126
inline constexpr std::size_t envelope_overhead = envelope_outer_bytes + envelope_inner_fixed_bytes;
static_assert(envelope_overhead == 175);
// seal() needs room for at least 16 body bytes in the largest bucket.
inline constexpr std::uint32_t min_max_body_bytes = envelope_overhead + 16;
// open() refuses anything longer (a body length is 16 bits).
inline constexpr std::size_t max_envelope_bytes = 65535;
// 64 KiB at the smallest fragment capacity (16 bytes) is 4096 fragments;
// the fragment fields are 16 bits wide.
inline constexpr std::size_t max_message_bytes = 65536;
inline constexpr std::uint16_t max_fragments = 4096;

// One fragment to seal. `body` is a view; it must stay valid during seal().
struct Message {
  std::uint64_t timestamp_ms = 0;
  MessageId message_id;
  std::uint16_t index = 0;  // 0-based
  std::uint16_t count = 1;  // 1..max_fragments
  Bytes body;
};

struct OpenedEnvelope {
  AccountKey sender;
  std::uint64_t timestamp_ms = 0;
  MessageId message_id;
  std::uint16_t index = 0;
  std::uint16_t count = 1;
  std::vector<std::uint8_t> body;
  bool forward_secret = false;  // a version 2 envelope (client/envelope_v2.hpp)
  bool group_control = false;   // version 2 with flag_group: group controls, not a message to show
  bool receipt = false;         // version 2 with flag_receipt: a delivery receipt, not shown
  Hash256 journal_key;          // version 2: its entry in the conversation's journal
};

enum class SealError {
  body_limit_too_small,  // max_body_bytes < min_max_body_bytes
  body_too_large,        // the body does not fit the largest bucket
  message_too_large,     // fragment(): over max_message_bytes
  bad_fragment,          // count 0 or over max_fragments, or index >= count
  bad_recipient_key,     // the recipient key has no X25519 form
  no_session,            // version 2: no forward-secret session to seal with
};
const char* to_string(SealError e);

enum class OpenError {
  malformed,          // shorter than the overhead or longer than max_envelope_bytes
  bad_version,        // a version this code does not open
  decryption_failed,  // not for this recipient, or tampered with
  bad_padding,        // body length past the end, or non-zero padding
  bad_signature,      // the sender's signature does not verify (e.g. re-targeted)
  bad_fragment,       // count 0 or over max_fragments, or index >= count
};
const char* to_string(OpenError e);

// The body bytes one envelope carries at most: max_body_bytes - overhead, or
// 0 when max_body_bytes < min_max_body_bytes.
std::size_t fragment_capacity(std::uint32_t max_body_bytes);
// The three envelope sizes, smallest first; all zero when max_body_bytes is
// too small.
std::array<std::size_t, 3> envelope_buckets(std::uint32_t max_body_bytes);

MessageId random_message_id(RandomSource& rng);

// Seals one fragment from `sender` to `recipient` into an envelope of the
// smallest bucket that holds it. Takes 32 bytes (the ephemeral key) from rng.
Result<std::vector<std::uint8_t>, SealError> seal(const Identity& sender,
                                                  const AccountKey& recipient,
                                                  const Message& message,
                                                  std::uint32_t max_body_bytes, RandomSource& rng);

// A recipient's account key with its X25519 form. The conversion costs about
// 1.4 X25519 scalar multiplications (a point decompression and a subgroup
// check), more than the envelope's own key exchange: a sender that seals
// more than once to one recipient converts once and keeps this.
struct SealKey {
  AccountKey account;
  X25519PublicKey x25519;
};
Result<SealKey, SealError> seal_key(const AccountKey& recipient);
// seal() with the recipient's key already converted; the same envelope.
Result<std::vector<std::uint8_t>, SealError> seal(const Identity& sender, const SealKey& recipient,
                                                  const Message& message,
                                                  std::uint32_t max_body_bytes, RandomSource& rng);

// Opens an envelope addressed to `recipient`. Never throws; on failure no
// plaintext is returned. Any size between the overhead and max_envelope_bytes
// is accepted (buckets depend on the network's max_body_bytes at sending
// time, which the recipient need not know).
Result<OpenedEnvelope, OpenError> open(const Identity& recipient, Bytes envelope);

// The two layers of an envelope, exposed for tests and the fuzz target.
namespace envelope_layers {
// The inner plaintext of `inner_bytes` bytes (>= fixed part + body), signed.
std::vector<std::uint8_t> encode_inner(const Identity& sender, const AccountKey& recipient,
                                       const Message& message, std::size_t inner_bytes);
// Writes sender's key and its signature into inner[0..96), over the rest.
// `inner` must be at least envelope_inner_fixed_bytes long.
void sign_inner(const Identity& sender, const AccountKey& recipient, MutableBytes inner);
Result<OpenedEnvelope, OpenError> decode_inner(const AccountKey& recipient, Bytes inner);
// version || E || AEAD(inner), for any inner of at most
// max_envelope_bytes - envelope_outer_bytes bytes.
Result<std::vector<std::uint8_t>, SealError> encrypt_inner(const AccountKey& recipient, Bytes inner,
                                                           RandomSource& rng);
Result<std::vector<std::uint8_t>, SealError> encrypt_inner(const SealKey& recipient, Bytes inner,
                                                           RandomSource& rng);
Result<std::vector<std::uint8_t>, OpenError> decrypt_inner(const Identity& recipient,
                                                           Bytes envelope);
// The sealed outer layer of envelope `version` (1 or 2: the version byte, and
// the key label "nightjar envelope key v<version>"): version || E || AEAD(inner).
// decrypt_layer checks only the version and that the layer is whole
// (envelope_outer_bytes .. max_envelope_bytes); the version's own minimum is
// the caller's.
Result<std::vector<std::uint8_t>, SealError> encrypt_layer(std::uint8_t version,
                                                           const SealKey& recipient, Bytes inner,
                                                           RandomSource& rng);
Result<std::vector<std::uint8_t>, OpenError> decrypt_layer(std::uint8_t version,
                                                           const Identity& recipient,
                                                           Bytes envelope);
}  // namespace envelope_layers

}  // namespace nightjar::client
