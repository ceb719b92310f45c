// The crypto core: every cryptographic operation in Nightjar goes through this
// header, which wraps libsodium with typed keys. Identity keys are Ed25519;
// key exchange is X25519; symmetric encryption is XChaCha20-Poly1305; hashing
// and key derivation are BLAKE2b (libsodium 1.0.18 has no HKDF, so keyed
// BLAKE2b and crypto_kdf stand in for it).
//
// Callers: the link handshake and frames (routing/link_*), onion cells, node
// descriptors, envelopes. Call crypto::init() once before anything else (it is
// idempotent and thread-safe); constructors of the link layer call it too.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/result.hpp"

namespace nightjar {

// Tags that make each kind of key its own type.
struct Ed25519Tag;
struct X25519Tag;
struct SignatureTag;
struct SymmetricTag;
struct SharedSecretTag;
struct SeedTag;
struct HashTag;
struct NonceTag;

using Ed25519PublicKey = FixedBytes<32, Ed25519Tag>;
using Ed25519SecretKey = Secret<64, Ed25519Tag>;  // libsodium layout: seed || public key
using Ed25519Seed = Secret<32, SeedTag>;
using Ed25519Signature = FixedBytes<64, SignatureTag>;
using X25519PublicKey = FixedBytes<32, X25519Tag>;
using X25519SecretKey = Secret<32, X25519Tag>;
using SharedSecret = Secret<32, SharedSecretTag>;
using SymmetricKey = Secret<32, SymmetricTag>;
using Hash256 = FixedBytes<32, HashTag>;
using Hash512 = FixedBytes<64, HashTag>;
using AeadNonce = FixedBytes<24, NonceTag>;

struct Ed25519KeyPair {
  Ed25519PublicKey pub;
  Ed25519SecretKey sec;
};

struct X25519KeyPair {
  X25519PublicKey pub;
  X25519SecretKey sec;
};

enum class CryptoError {
  low_order_point,  // X25519 produced the all-zero output
  bad_public_key,   // not a valid point (Ed25519 -> X25519 conversion)
  auth_failed,      // AEAD tag or signature did not verify
  bad_length,       // an input or output buffer had the wrong size
};
const char* to_string(CryptoError e);

namespace crypto {

inline constexpr std::size_t aead_tag_bytes = 16;  // crypto_aead_xchacha20poly1305_ietf_ABYTES

// Initialises libsodium. Returns false only if libsodium cannot start (no
// randomness source); every caller must treat that as fatal.
bool init();

// Randomness.
void random_bytes(MutableBytes out);
std::uint64_t random_u64();
// Uniform in [0, upper), upper > 0.
std::uint32_t random_uniform(std::uint32_t upper);
template <class T>
T random_secret() {
  T t;
  random_bytes(t.mutable_view());
  return t;
}

// X25519.
X25519KeyPair x25519_generate();
X25519PublicKey x25519_public(const X25519SecretKey& sec);
// Fails with low_order_point when the peer key is a low-order point.
Result<SharedSecret, CryptoError> x25519(const X25519SecretKey& sec, const X25519PublicKey& peer);

// Ed25519.
Ed25519KeyPair ed25519_generate();
Ed25519KeyPair ed25519_from_seed(const Ed25519Seed& seed);
Ed25519Seed ed25519_seed(const Ed25519SecretKey& sec);
Ed25519Signature sign(const Ed25519SecretKey& sec, Bytes message);
bool verify(const Ed25519PublicKey& pub, Bytes message, const Ed25519Signature& sig);
// The X25519 keys birationally equivalent to an Ed25519 key pair (used for
// end-to-end encryption to an account ID).
Result<X25519PublicKey, CryptoError> ed25519_to_x25519(const Ed25519PublicKey& pub);
X25519SecretKey ed25519_to_x25519(const Ed25519SecretKey& sec);

// XChaCha20-Poly1305 (IETF). `out` must be plaintext.size() + 16 bytes.
Result<void, CryptoError> aead_encrypt(const SymmetricKey& key, const AeadNonce& nonce, Bytes ad,
                                       Bytes plaintext, MutableBytes out);
std::vector<std::uint8_t> aead_encrypt(const SymmetricKey& key, const AeadNonce& nonce, Bytes ad,
                                       Bytes plaintext);
// `out` must be ciphertext.size() - 16 bytes. On failure `out` is zeroed, so
// no unauthenticated plaintext is ever left behind.
Result<void, CryptoError> aead_decrypt(const SymmetricKey& key, const AeadNonce& nonce, Bytes ad,
                                       Bytes ciphertext, MutableBytes out);
Result<std::vector<std::uint8_t>, CryptoError> aead_decrypt(const SymmetricKey& key,
                                                            const AeadNonce& nonce, Bytes ad,
                                                            Bytes ciphertext);

// BLAKE2b. `out` may be 16..64 bytes; `key` may be empty or 16..64 bytes.
void blake2b(MutableBytes out, Bytes input, Bytes key = {});
Hash256 blake2b_256(Bytes input);
Hash512 blake2b_512(Bytes input);

// Key derivation.
// crypto_kdf: subkey `id` of a 32-byte master key under an 8-character context.
SymmetricKey kdf_derive(const SymmetricKey& master, std::uint64_t id, const char (&context)[9]);
// Keyed BLAKE2b-512 as a PRF: splits into two 32-byte keys. Used as the
// chaining step of the link handshake (the role HKDF plays in Noise).
struct KeyPairOut {
  SymmetricKey first;
  SymmetricKey second;
};
KeyPairOut kdf_split(Bytes chaining_key, Bytes input);

// Constant-time equality of two equally long buffers; false if lengths differ.
bool equal(Bytes a, Bytes b);

}  // namespace crypto
}  // namespace nightjar
