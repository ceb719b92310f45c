#include "routing/random_source.hpp"

#include <algorithm>
#include <cstring>

namespace nightjar {

DeterministicRandom::DeterministicRandom(std::span<const std::uint8_t, 32> seed) {
  std::memcpy(seed_, seed.data(), 32);
}

void DeterministicRandom::fill(MutableBytes out) {
  // Each call starts at a fresh 64-byte block, so a read's bytes depend only
  // on the sequence of read sizes before it.
  const std::size_t blocks = (out.size() + 63) / 64;
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  std::uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
  crypto_stream_chacha20_ietf_xor_ic(out.data(), out.data(), out.size(), nonce,
                                     static_cast<std::uint32_t>(block_), seed_);
  block_ += blocks;
}

}  // namespace nightjar
