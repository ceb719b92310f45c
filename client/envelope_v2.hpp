// The version 2 envelope: what a forward-secret conversation stores in the
// recipient's swarm (docs/ENVELOPE.md, "Version 2"). Codecs and sizes only;
// client/conversation.hpp runs the sessions that fill them.
//
//   envelope = 02 || E (32) || XChaCha20-Poly1305(inner)       (sealed sender, as
//              version 1, under the key label "nightjar envelope key v2")
//   inner    = kind (1) || sender account (32) || [prekey header (40)]
//              || ratchet message
//   kind     = 01 prekey message: the ratchet message is the first of a session
//              (or one sent before the other side answered), and the prekey
//              header says how to start it: the initiator's ephemeral key (32),
//              the signed prekey ID (4), the one-time prekey ID (4; 0: none)
//              02 ratchet message: a message of a session both sides hold
//   ratchet message = encrypted header (80) || AEAD(content) (content + 16)
//                     (client/ratchet.hpp)
//   content  = flags (1) || timestamp_ms (8) || message ID (16) || index (2)
//              || count (2) || body length (2) || body || zero padding
//
// Nothing is signed: the sender's account is authenticated by the
// handshake's DH and the ratchet's associated data (deniability). The
// sender's account is inside the sealed layer only, so a node sees no more
// than with version 1: the recipient and one of three sizes. Both kinds are
// padded to the same three sizes (from the larger overhead, a prekey
// message's), so a node cannot tell a conversation's first messages from
// its later ones.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "client/envelope.hpp"

namespace nightjar::client::v2 {

inline constexpr std::uint8_t envelope_version = 2;

enum class Kind : std::uint8_t { prekey = 1, ratchet = 2 };

struct PrekeyHeader {
  X25519PublicKey ephemeral;            // the initiator's; names the session
  std::uint32_t signed_prekey_id = 0;
  std::uint32_t one_time_prekey_id = 0;  // 0: none used
  friend bool operator==(const PrekeyHeader&, const PrekeyHeader&) = default;
};

inline constexpr std::size_t outer_bytes = envelope_outer_bytes;  // 49
inline constexpr std::size_t inner_fixed_bytes = 1 + 32;
inline constexpr std::size_t prekey_header_bytes = 32 + 4 + 4;
inline constexpr std::size_t ratchet_overhead = 80 + 16;
inline constexpr std::size_t content_fixed_bytes = 1 + 8 + 16 + 2 + 2 + 2;  // 31
inline constexpr std::size_t ratchet_message_overhead =
    outer_bytes + inner_fixed_bytes + ratchet_overhead + content_fixed_bytes;  // 209
inline constexpr std::size_t prekey_message_overhead =
    ratchet_message_overhead + prekey_header_bytes;  // 249
static_assert(ratchet_message_overhead == 209 && prekey_message_overhead == 249);
// The smallest network body limit version 2 works with (16 body bytes in a
// prekey message).
inline constexpr std::uint32_t min_max_body_bytes = prekey_message_overhead + 16;

inline constexpr std::uint8_t flag_control = 0x01;  // no content to show (a session start or reset)
inline constexpr std::uint8_t flag_group = 0x02;    // the body is group controls (client/group_messages.hpp)
inline constexpr std::uint8_t flag_receipt = 0x04;  // the body is a delivery receipt (client/history.hpp)

std::size_t overhead(Kind k);
// The three envelope sizes, smallest first, the same for both kinds:
// 249 + floor(C/4), 249 + ceil(C/2) - 1 and 249 + C = max_body_bytes, with
// C = max_body_bytes - 249; all zero below min_max_body_bytes.
std::array<std::size_t, 3> buckets(std::uint32_t max_body_bytes);
// The body bytes one envelope of kind `k` carries at most (0 when too small).
std::size_t capacity(Kind k, std::uint32_t max_body_bytes);

// What the ratchet encrypts.
struct Content {
  std::uint8_t flags = 0;
  std::uint64_t timestamp_ms = 0;
  MessageId message_id;
  std::uint16_t index = 0;
  std::uint16_t count = 1;
  std::vector<std::uint8_t> body;
};
// `size` bytes: the fields, the body and zero padding (size >= fixed + body).
std::vector<std::uint8_t> encode_content(const Content& c, std::size_t size);
// Refuses: shorter than the fixed part, a body past the end, non-zero
// padding, unknown flags, bad fragment fields.
Result<Content, OpenError> decode_content(Bytes bytes);

struct Inner {
  Kind kind = Kind::ratchet;
  AccountKey sender;
  PrekeyHeader prekey;  // kind prekey only
  std::vector<std::uint8_t> ratchet_message;
};
std::vector<std::uint8_t> encode_inner(const Inner& inner);
// Refuses an unknown kind, or a ratchet message shorter than the ratchet's
// overhead plus the content's fixed part (malformed).
Result<Inner, OpenError> decode_inner(Bytes bytes);

// The content size that makes a kind-`k` envelope exactly `envelope_size` bytes.
std::size_t content_size(Kind k, std::size_t envelope_size);
// The bucket a body of `body_bytes` goes into as kind `k`: the smallest that
// holds it, or the largest for a fragment of a longer message (`fragment`),
// so that a node sees only how many envelopes a message took.
Result<std::size_t, SealError> bucket_for(Kind k, std::size_t body_bytes,
                                          std::uint32_t max_body_bytes, bool fragment = false);

// The sealed layer (client/envelope.hpp, envelope_layers::encrypt_layer).
Result<std::vector<std::uint8_t>, SealError> seal_outer(const SealKey& recipient, Bytes inner,
                                                        RandomSource& rng);
// Refuses another version, and anything shorter than a ratchet message's
// overhead or longer than max_envelope_bytes (malformed).
Result<std::vector<std::uint8_t>, OpenError> open_outer(const Identity& recipient, Bytes envelope);

}  // namespace nightjar::client::v2
