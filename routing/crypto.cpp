#include "routing/crypto.hpp"

#include <stdexcept>

namespace nightjar {

const char* to_string(CryptoError e) {
  switch (e) {
    case CryptoError::low_order_point:
      return "low-order public key";
    case CryptoError::bad_public_key:
      return "invalid public key";
    case CryptoError::auth_failed:
      return "authentication failed";
    case CryptoError::bad_length:
      return "bad buffer length";
  }
  return "unknown crypto error";
}

namespace crypto {

static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == aead_tag_bytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == SymmetricKey::size_bytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == AeadNonce::size_bytes);
static_assert(crypto_sign_SECRETKEYBYTES == Ed25519SecretKey::size_bytes);
static_assert(crypto_sign_BYTES == Ed25519Signature::size_bytes);
static_assert(crypto_scalarmult_BYTES == X25519PublicKey::size_bytes);
static_assert(crypto_kdf_KEYBYTES == SymmetricKey::size_bytes);

bool init() {
  return sodium_init() >= 0;
}

void random_bytes(MutableBytes out) {
  randombytes_buf(out.data(), out.size());
}

std::uint64_t random_u64() {
  std::uint64_t v;
  randombytes_buf(&v, sizeof v);
  return v;
}

std::uint32_t random_uniform(std::uint32_t upper) {
  return randombytes_uniform(upper);
}

X25519KeyPair x25519_generate() {
  X25519KeyPair kp;
  random_bytes(kp.sec.mutable_view());
  kp.pub = x25519_public(kp.sec);
  return kp;
}

X25519PublicKey x25519_public(const X25519SecretKey& sec) {
  X25519PublicKey pub;
  crypto_scalarmult_base(pub.data(), sec.data());
  return pub;
}

Result<SharedSecret, CryptoError> x25519(const X25519SecretKey& sec, const X25519PublicKey& peer) {
  SharedSecret out;
  if (crypto_scalarmult(out.data(), sec.data(), peer.data()) != 0)
    return fail(CryptoError::low_order_point);
  return out;
}

Ed25519KeyPair ed25519_generate() {
  return ed25519_from_seed(random_secret<Ed25519Seed>());
}

Ed25519KeyPair ed25519_from_seed(const Ed25519Seed& seed) {
  Ed25519KeyPair kp;
  crypto_sign_seed_keypair(kp.pub.data(), kp.sec.data(), seed.data());
  return kp;
}

Ed25519Seed ed25519_seed(const Ed25519SecretKey& sec) {
  Ed25519Seed seed;
  crypto_sign_ed25519_sk_to_seed(seed.data(), sec.data());
  return seed;
}

Ed25519Signature sign(const Ed25519SecretKey& sec, Bytes message) {
  Ed25519Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), sec.data());
  return sig;
}

bool verify(const Ed25519PublicKey& pub, Bytes message, const Ed25519Signature& sig) {
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), pub.data()) == 0;
}

Result<X25519PublicKey, CryptoError> ed25519_to_x25519(const Ed25519PublicKey& pub) {
  X25519PublicKey out;
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), pub.data()) != 0)
    return fail(CryptoError::bad_public_key);
  return out;
}

X25519SecretKey ed25519_to_x25519(const Ed25519SecretKey& sec) {
  X25519SecretKey out;
  crypto_sign_ed25519_sk_to_curve25519(out.data(), sec.data());
  return out;
}

Result<void, CryptoError> aead_encrypt(const SymmetricKey& key, const AeadNonce& nonce, Bytes ad,
                                       Bytes plaintext, MutableBytes out) {
  if (out.size() != plaintext.size() + aead_tag_bytes) return fail(CryptoError::bad_length);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &written, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr,
                                             nonce.data(), key.data());
  return {};
}

std::vector<std::uint8_t> aead_encrypt(const SymmetricKey& key, const AeadNonce& nonce, Bytes ad,
                                       Bytes plaintext) {
  std::vector<std::uint8_t> out(plaintext.size() + aead_tag_bytes);
  (void)aead_encrypt(key, nonce, ad, plaintext, out);
  return out;
}

Result<void, CryptoError> aead_decrypt(const SymmetricKey& key, const AeadNonce& nonce, Bytes ad,
                                       Bytes ciphertext, MutableBytes out) {
  if (ciphertext.size() < aead_tag_bytes || out.size() != ciphertext.size() - aead_tag_bytes)
    return fail(CryptoError::bad_length);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &written, nullptr, ciphertext.data(),
                                                 ciphertext.size(), ad.data(), ad.size(),
                                                 nonce.data(), key.data()) != 0)
    return fail(CryptoError::auth_failed);
  return {};
}

Result<std::vector<std::uint8_t>, CryptoError> aead_decrypt(const SymmetricKey& key,
                                                            const AeadNonce& nonce, Bytes ad,
                                                            Bytes ciphertext) {
  if (ciphertext.size() < aead_tag_bytes) return fail(CryptoError::bad_length);
  std::vector<std::uint8_t> out(ciphertext.size() - aead_tag_bytes);
  auto r = aead_decrypt(key, nonce, ad, ciphertext, out);
  if (!r) return r.failure();
  return out;
}

void blake2b(MutableBytes out, Bytes input, Bytes key) {
  if (out.size() < crypto_generichash_BYTES_MIN || out.size() > crypto_generichash_BYTES_MAX ||
      (!key.empty() && (key.size() < crypto_generichash_KEYBYTES_MIN ||
                        key.size() > crypto_generichash_KEYBYTES_MAX)))
    throw std::invalid_argument("blake2b: output or key length out of range");
  crypto_generichash(out.data(), out.size(), input.data(), input.size(),
                     key.empty() ? nullptr : key.data(), key.size());
}

Hash256 blake2b_256(Bytes input) {
  Hash256 h;
  blake2b(h.mutable_view(), input);
  return h;
}

Hash512 blake2b_512(Bytes input) {
  Hash512 h;
  blake2b(h.mutable_view(), input);
  return h;
}

SymmetricKey kdf_derive(const SymmetricKey& master, std::uint64_t id, const char (&context)[9]) {
  SymmetricKey out;
  crypto_kdf_derive_from_key(out.data(), out.size(), id, context, master.data());
  return out;
}

KeyPairOut kdf_split(Bytes chaining_key, Bytes input) {
  Secret<64, SymmetricTag> both;
  blake2b(both.mutable_view(), input, chaining_key);
  KeyPairOut out;
  std::copy_n(both.data(), 32, out.first.data());
  std::copy_n(both.data() + 32, 32, out.second.data());
  return out;
}

bool equal(Bytes a, Bytes b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace crypto
}  // namespace nightjar
