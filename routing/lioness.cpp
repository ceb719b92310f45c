#include "routing/lioness.hpp"

#include <cassert>

namespace nightjar::lioness {
namespace {

constexpr std::size_t half = 32;
constexpr unsigned char zero_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};

// R ^= ChaCha20(L ^ K)
void stream_round(const std::uint8_t* k, const std::uint8_t* l, MutableBytes r) {
  std::uint8_t key[half];
  for (std::size_t i = 0; i < half; ++i) key[i] = static_cast<std::uint8_t>(l[i] ^ k[i]);
  crypto_stream_chacha20_ietf_xor(r.data(), r.data(), r.size(), zero_nonce, key);
  sodium_memzero(key, sizeof key);
}

// L ^= BLAKE2b-256(key=K, R)
void hash_round(const std::uint8_t* k, std::uint8_t* l, Bytes r) {
  std::uint8_t h[half];
  crypto_generichash(h, half, r.data(), r.size(), k, half);
  for (std::size_t i = 0; i < half; ++i) l[i] ^= h[i];
}

}  // namespace

void encrypt(const LionessKey& key, MutableBytes block) {
  assert(block.size() >= min_block);
  std::uint8_t* l = block.data();
  MutableBytes r = block.subspan(half);
  const std::uint8_t* k = key.data();
  stream_round(k, l, r);
  hash_round(k + 32, l, r);
  stream_round(k + 64, l, r);
  hash_round(k + 96, l, r);
}

void decrypt(const LionessKey& key, MutableBytes block) {
  assert(block.size() >= min_block);
  std::uint8_t* l = block.data();
  MutableBytes r = block.subspan(half);
  const std::uint8_t* k = key.data();
  hash_round(k + 96, l, r);
  stream_round(k + 64, l, r);
  hash_round(k + 32, l, r);
  stream_round(k, l, r);
}

}  // namespace nightjar::lioness
