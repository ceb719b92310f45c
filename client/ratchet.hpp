// The Double Ratchet with header encryption (Signal's specification,
// section 4, "Double Ratchet with header encryption"), built from libsodium
// 1.0.18 only: X25519 for the DH ratchet, keyed BLAKE2b and crypto_kdf
// (BLAKE2b) for the KDF chains, XChaCha20-Poly1305 for headers and bodies.
//
// One Ratchet is one side of one conversation. Every message key is used
// once and erased (forward secrecy); each reply that carries a new ratchet
// key mixes in a fresh DH (post-compromise security); headers are encrypted
// under header keys that change with every DH step, so stored ciphertexts of
// one conversation share no visible field; nothing is signed (deniability:
// authentication comes from the DH exchanges). Keys of messages skipped over
// (out of order, lost) are kept, bounded per chain and in all, and expire.
//
// The first shared secret, the two initial header keys and the responder's
// first ratchet key come from the handshake (X3DH-style, not here). The byte
// formats and KDF labels are specified in docs/ENVELOPE.md, "Version 2".
//
// encrypt/decrypt change the state only when they succeed: a message that
// does not open leaves the ratchet exactly as it was.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/random_source.hpp"
#include "routing/result.hpp"

namespace nightjar::client {

namespace ratchet {
// Messages a single chain may skip over (a sender more than this far ahead
// is refused, not followed): bounds the work one message can cause.
inline constexpr std::uint32_t max_skip = 1000;
// Skipped message keys kept in all; the oldest go first.
inline constexpr std::size_t max_skipped_keys = 2000;
// Encrypted header: nonce (24) || XChaCha20-Poly1305 of the 40-byte header.
inline constexpr std::size_t header_bytes = 40;
inline constexpr std::size_t encrypted_header_bytes = 24 + header_bytes + 16;
// What encrypt adds to a plaintext.
inline constexpr std::size_t overhead = encrypted_header_bytes + 16;
// KDF_CK: returns the message key of `chain` and moves `chain` one step on
// (message key = BLAKE2b-256(key = chain, 01), next chain = BLAKE2b-256(key =
// chain, 02)). Closed groups' sender chains step the same way.
SymmetricKey kdf_chain(SymmetricKey& chain);
// The state's encoding version (encode_state / decode_state).
inline constexpr std::uint8_t state_version = 1;
}  // namespace ratchet

enum class RatchetError {
  too_short,         // not even a header and a tag
  unknown_header,    // the header opens under none of this conversation's header keys
  too_many_skipped,  // more than max_skip messages skipped in one chain
  bad_ciphertext,    // the header opened, the body did not
  already_opened,    // a message of this conversation opened before (a replay)
  not_ready,         // a responder cannot send before it has received
};
const char* to_string(RatchetError e);

struct RatchetHeader {
  X25519PublicKey dh;    // the sender's current ratchet key
  std::uint32_t pn = 0;  // messages in the sender's previous sending chain
  std::uint32_t n = 0;   // this message's number in its chain
};

class Ratchet {
 public:
  // The side that sends first: it knows the other side's ratchet key (the
  // responder's signed prekey) and performs the first DH step at once.
  // Randomness (ratchet key pairs, header nonces) comes from `rng` where a
  // call takes one; null: the system's. A seeded source makes test vectors.
  static Ratchet initiator(const SymmetricKey& shared, const SymmetricKey& header_key_a,
                           const SymmetricKey& next_header_key_b, const X25519PublicKey& their_ratchet,
                           RandomSource* rng = nullptr);
  // The side that receives first, with the key pair whose public half the
  // initiator used (its signed prekey).
  static Ratchet responder(const SymmetricKey& shared, const SymmetricKey& header_key_a,
                           const SymmetricKey& next_header_key_b, X25519KeyPair own_ratchet);

  Ratchet(Ratchet&&) noexcept = default;
  Ratchet& operator=(Ratchet&&) noexcept = default;
  Ratchet clone() const;

  // encrypted header || body ciphertext. `ad` is bound to both (the
  // handshake's associated data: the two identities).
  Result<std::vector<std::uint8_t>, RatchetError> encrypt(Bytes plaintext, Bytes ad,
                                                         RandomSource* rng = nullptr);
  // `now_ms` stamps the keys of messages skipped over (see expire_skipped).
  Result<std::vector<std::uint8_t>, RatchetError> decrypt(Bytes message, Bytes ad,
                                                         std::uint64_t now_ms,
                                                         RandomSource* rng = nullptr);
  // Drops skipped message keys stamped before `cutoff_ms`; returns how many.
  std::size_t expire_skipped(std::uint64_t cutoff_ms);

  std::size_t skipped_keys() const { return skipped_.size(); }
  bool can_send() const { return sending_chain_.has_value(); }
  const X25519PublicKey& own_ratchet_key() const { return dhs_.pub; }

  // The whole state, for the profile (which encrypts it at rest). Canonical.
  std::vector<std::uint8_t> encode() const;
  static Result<Ratchet, std::string> decode(Bytes bytes);

 private:
  Ratchet() = default;
  struct SkippedKey {
    SymmetricKey message_key;
    std::uint64_t stamped_ms = 0;
    std::uint64_t order = 0;  // insertion order: the oldest go first
  };
  // (header key, message number) -> key.
  using SkippedIndex = std::pair<std::array<std::uint8_t, 32>, std::uint32_t>;

  Result<void, RatchetError> skip_to(std::uint32_t until, std::uint64_t now_ms);
  void dh_step(const RatchetHeader& header, RandomSource* rng);
  std::optional<RatchetHeader> open_header(const SymmetricKey& key, Bytes encrypted, Bytes ad) const;

  X25519KeyPair dhs_;
  std::optional<X25519PublicKey> dhr_;
  SymmetricKey root_;
  std::optional<SymmetricKey> sending_chain_, receiving_chain_;
  std::optional<SymmetricKey> sending_header_, receiving_header_;
  SymmetricKey next_sending_header_, next_receiving_header_;
  std::uint32_t ns_ = 0, nr_ = 0, pn_ = 0;
  std::map<SkippedIndex, SkippedKey> skipped_;
  std::uint64_t skip_order_ = 0;
};

}  // namespace nightjar::client
