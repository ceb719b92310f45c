// What every libFuzzer target in tests/fuzz shares: CHECK, which turns a
// violated invariant into a crash that libFuzzer records as a finding (it is
// not Catch2's CHECK: the fuzz targets do not link Catch2), and the writing of
// a target's seed corpus.
//
// A target that generates its seeds calls write_seeds_if_asked from
// LLVMFuzzerInitialize; then
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/<name> bin/fuzz_<name>
// writes the seeds into that directory and exits instead of fuzzing.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"

// Active in every build type (unlike assert), and a trap rather than abort()
// so that the report points at the failed check.
#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

namespace nightjar::fuzz {

// Writes one seed file at `path`: `mode`, the leading byte with which many
// targets choose what to do with the rest, then `bytes`.
inline void write_seed(const std::string& path, std::uint8_t mode, Bytes bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  CHECK(f != nullptr);
  CHECK(std::fputc(mode, f) == mode);
  CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  CHECK(std::fclose(f) == 0);
}

// Writes one seed file at `path` holding exactly `bytes`.
inline void write_seed(const std::string& path, Bytes bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  CHECK(f != nullptr);
  CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  CHECK(std::fclose(f) == 0);
}

// Writes one seed file at `path` holding exactly `text`.
inline void write_seed(const std::string& path, std::string_view text) {
  write_seed(path, as_bytes(text));
}

// If NIGHTJAR_FUZZ_WRITE_SEEDS names a directory, calls write_seeds(directory)
// and exits: the run only writes the seed corpus.
template <class WriteSeeds>
void write_seeds_if_asked(WriteSeeds&& write_seeds) {
  if (const char* dir = std::getenv("NIGHTJAR_FUZZ_WRITE_SEEDS")) {
    write_seeds(std::string(dir));
    std::exit(0);
  }
}

}  // namespace nightjar::fuzz

// The LLVMFuzzerInitialize of a target that writes its own seeds: libsodium
// initialised, then write_seeds_if_asked(WRITE_SEEDS).
#define NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(WRITE_SEEDS)          \
  extern "C" int LLVMFuzzerInitialize(int*, char***) {          \
    CHECK(::nightjar::crypto::init());                           \
    ::nightjar::fuzz::write_seeds_if_asked(WRITE_SEEDS);         \
    return 0;                                                    \
  }
