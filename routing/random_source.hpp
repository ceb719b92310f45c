// Where builders of cells and envelopes get their randomness. Production code
// uses SystemRandom; test vectors use DeterministicRandom so that fixed
// inputs give fixed bytes another implementation can compare against.
#pragma once

#include <cstdint>

#include "routing/bytes.hpp"

namespace nightjar {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void fill(MutableBytes out) = 0;
};

class SystemRandom final : public RandomSource {
 public:
  void fill(MutableBytes out) override { randombytes_buf(out.data(), out.size()); }
};

// The ChaCha20 (IETF) keystream of a 32-byte seed under a zero nonce. Each
// fill() starts at the next unused 64-byte block, so the same seed and the
// same sequence of read sizes give the same bytes. Never for production use.
class DeterministicRandom final : public RandomSource {
 public:
  explicit DeterministicRandom(std::span<const std::uint8_t, 32> seed);
  void fill(MutableBytes out) override;

 private:
  std::uint8_t seed_[32];
  std::uint64_t block_ = 0;  // next 64-byte ChaCha20 block
};

}  // namespace nightjar
