// Prekey bundles and the X3DH-style key agreement that starts a version-2
// conversation (Signal's "The X3DH Key Agreement Protocol", revision 1,
// with X25519 and keyed BLAKE2b; identities are Ed25519 account keys, used
// for DH through their X25519 form). Deniable: nothing but the account's own
// signed prekey is signed, and a conversation's secrets come from DH alone.
//
// An account publishes a bundle (a public record in its swarm; the record
// layer is separate): its signed prekey, rotated on a schedule, and a set of
// one-time prekeys, each used at most once (best effort: a bundle without
// one still works, with a little less forward secrecy for the first
// message). The initiator verifies the signed prekey's signature, computes
// DH1..DH4 and derives the ratchet's initial secret and header keys
// (client/ratchet.hpp); the responder computes the same from the
// initiator's identity and ephemeral key. Byte formats and labels:
// docs/ENVELOPE.md, "Version 2".
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/random_source.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"

namespace nightjar::client {

namespace x3dh {
inline constexpr std::uint8_t bundle_version = 1;
inline constexpr std::size_t max_one_time_prekeys = 100;
// 143 bytes and 36 per one-time prekey: at most 3,743.
inline constexpr std::size_t max_bundle_bytes = 143 + 36 * max_one_time_prekeys;
}  // namespace x3dh

struct SignedPrekey {
  std::uint32_t id = 0;
  X25519PublicKey key;
  std::uint64_t created_ms = 0;
  Ed25519Signature signature;  // by the account, over signed_prekey_bytes()
};

struct OneTimePrekey {
  std::uint32_t id = 0;
  X25519PublicKey key;
};

struct PrekeyBundle {
  Ed25519PublicKey account;
  SignedPrekey signed_prekey;
  std::vector<OneTimePrekey> one_time;  // strictly increasing IDs
};

// "nightjar signed prekey v1" || account || id || key || created_ms.
std::vector<std::uint8_t> signed_prekey_bytes(const Ed25519PublicKey& account, const SignedPrekey& p);
SignedPrekey sign_prekey(const Ed25519PublicKey& account, const Ed25519SecretKey& signing_key,
                         std::uint32_t id, const X25519PublicKey& key, std::uint64_t created_ms);
// The signed prekey's signature verifies under the bundle's account.
bool verify(const PrekeyBundle& b);

// Canonical: decode accepts exactly what encode produces (version 01,
// at most 100 one-time prekeys in strictly increasing ID order, nothing left
// over). Decoding does not check the signature: verify() does.
std::vector<std::uint8_t> encode(const PrekeyBundle& b);
Result<PrekeyBundle, WireError> decode_bundle(Bytes bytes);

enum class X3dhError {
  bad_signature,  // the signed prekey's signature does not verify
  bad_key,        // an account key with no X25519 form, or a DH that gives zero (low order)
  no_prekey,      // the one-time prekey asked for is not in the bundle
};
const char* to_string(X3dhError e);

// What both sides derive: the ratchet's inputs and the associated data
// (initiator's account || responder's account) bound to every message.
struct X3dhKeys {
  SymmetricKey shared;
  SymmetricKey header_key_a;       // the initiator's first sending header key
  SymmetricKey next_header_key_b;  // the responder's first next sending header key
  std::vector<std::uint8_t> ad;
};

// What the initiator sends along with its first message.
struct X3dhStart {
  X3dhKeys keys;
  X25519PublicKey ephemeral;
  std::uint32_t signed_prekey_id = 0;
  std::optional<std::uint32_t> one_time_prekey_id;
};

// A fresh X25519 key pair, its secret from `rng` (null: the system's); what
// the handshake, the ratchet and the prekeys make their keys with, so that a
// seeded source (test vectors) makes every key of a conversation.
X25519KeyPair generate_x25519(RandomSource* rng);

// `own_dh` is the X25519 form of the initiator's account key. With
// `one_time`, the bundle's one-time prekey at that index is used. The
// ephemeral secret comes from `rng` (null: the system's; a seeded source
// makes test vectors).
Result<X3dhStart, X3dhError> x3dh_initiate(const Ed25519PublicKey& own_account,
                                           const X25519SecretKey& own_dh, const PrekeyBundle& bundle,
                                           std::optional<std::size_t> one_time = std::nullopt,
                                           RandomSource* rng = nullptr);

// The responder's side: its account's X25519 secret, the signed prekey's and
// (if the initiator used one) the one-time prekey's secrets.
Result<X3dhKeys, X3dhError> x3dh_respond(const Ed25519PublicKey& own_account,
                                         const X25519SecretKey& own_dh,
                                         const X25519SecretKey& signed_prekey,
                                         const X25519SecretKey* one_time_prekey,
                                         const Ed25519PublicKey& their_account,
                                         const X25519PublicKey& their_ephemeral);

}  // namespace nightjar::client
