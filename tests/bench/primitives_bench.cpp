// primitives_bench: the cost of the raw libsodium calls Nightjar's figures are
// divided by, measured in the same run as those figures. scripts/bench.sh runs
// it first and expresses every end-to-end figure (the simnet's CPU time per
// delivered message, its latencies, a node's memory) in these units, so that
// the figures hold on a machine faster or slower than ours.
//
//   x25519_us / _per_s     crypto_scalarmult: one Diffie-Hellman, the dominant
//                          cost of a peel (a relay does one per cell)
//   aead_seal_us / _per_s  crypto_aead_chacha20poly1305_ietf_encrypt of one
//                          1032-byte onion-cell frame: what a link costs per frame
//   ed25519_verify_us      crypto_sign_verify_detached of a 64-byte message (a
//                          directory signature, a request's signature)
//   rss_floor_mb           this process's resident memory after sodium_init: the
//                          floor of any C++ process linked with libsodium; node
//                          memory is divided by it
//
// Rates are per second of this thread's CPU time, medians over interleaved
// rounds (see onion_bench.cpp for why). Every loop is bounded.
#include <sodium.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* program = "primitives_bench";
constexpr int rounds = 5;
constexpr std::size_t frame_bytes = 1032;
constexpr std::uint64_t max_calls_per_slice = 10'000'000;
constexpr double max_seconds = 60;

// VmRSS of this process in MB, read before any benchmark buffer exists.
double resident_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return 0;
}

struct Primitives {
  std::array<unsigned char, crypto_scalarmult_SCALARBYTES> scalar{};
  std::array<unsigned char, crypto_scalarmult_BYTES> point{}, shared{};
  std::array<unsigned char, crypto_aead_chacha20poly1305_ietf_KEYBYTES> key{};
  std::array<unsigned char, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  std::vector<unsigned char> frame, sealed;
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> sign_pub{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sign_sec{};
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  std::array<unsigned char, 64> message{};

  Primitives()
      : frame(frame_bytes), sealed(frame_bytes + crypto_aead_chacha20poly1305_ietf_ABYTES) {
    randombytes_buf(scalar.data(), scalar.size());
    std::array<unsigned char, crypto_scalarmult_SCALARBYTES> other{};
    randombytes_buf(other.data(), other.size());
    crypto_scalarmult_base(point.data(), other.data());
    randombytes_buf(key.data(), key.size());
    randombytes_buf(frame.data(), frame.size());
    crypto_sign_keypair(sign_pub.data(), sign_sec.data());
    randombytes_buf(message.data(), message.size());
    crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(),
                         sign_sec.data());
  }

  bool x25519() {
    const bool ok = crypto_scalarmult(shared.data(), scalar.data(), point.data()) == 0;
    nightjar::bench::keep(shared);
    return ok;
  }
  void seal() {
    sodium_increment(nonce.data(), nonce.size());
    unsigned long long n = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(sealed.data(), &n, frame.data(), frame.size(),
                                              nullptr, 0, nullptr, nonce.data(), key.data());
    nightjar::bench::keep(sealed[0]);
  }
  bool verify() {
    return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                       sign_pub.data()) == 0;
  }
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  po::options_description specific("Benchmark");
  specific.add_options()("seconds", po::value<double>(&seconds)->default_value(seconds),
                         "time spent measuring, over all rounds, in seconds (> 0, at most 60)");
  nightjar::bench::CommonOptions common;
  if (auto exit_status = nightjar::bench::parse_options(
          argc, argv, program,
          "primitives_bench: the cost of the raw libsodium calls (X25519, ChaCha20-Poly1305, "
          "Ed25519 verify) and of an empty process, the units of scripts/bench.sh's ratios.",
          specific, common))
    return *exit_status;
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > max_seconds)
    return nightjar::bench::bad_option(program, "--seconds must be > 0 and at most 60");
  if (sodium_init() < 0) {
    std::fprintf(stderr, "%s: libsodium failed to initialise\n", program);
    return 1;
  }
  const double floor_mb = resident_mb();

  Primitives p;
  std::vector<double> x25519, seal, verify;
  const double slice = seconds / (3.0 * (rounds + 1));
  bool failed = false;
  for (int r = 0; r <= rounds; ++r) {  // round 0 warms up and is not kept
    const auto x =
        nightjar::bench::measure_rate([&] { return p.x25519(); }, max_calls_per_slice, slice);
    const auto s = nightjar::bench::measure_rate([&] { p.seal(); }, max_calls_per_slice, slice);
    const auto v =
        nightjar::bench::measure_rate([&] { return p.verify(); }, max_calls_per_slice, slice);
    failed = failed || x.counted != x.calls || v.counted != v.calls;
    if (r == 0) continue;
    x25519.push_back(x.per_cpu_second());
    seal.push_back(s.per_cpu_second());
    verify.push_back(v.per_cpu_second());
  }
  if (failed) {
    std::fprintf(stderr, "%s: a libsodium call failed\n", program);
    return 1;
  }
  const double x_rate = nightjar::bench::median(x25519);
  const double s_rate = nightjar::bench::median(seal);
  const double v_rate = nightjar::bench::median(verify);
  auto us = [](double rate) { return rate > 0 ? 1e6 / rate : 0.0; };

  if (common.json) {
    nightjar::bench::JsonObject o;
    o.add("x25519_per_s", x_rate, 1)
        .add("x25519_us", us(x_rate), 3)
        .add("aead_seal_per_s", s_rate, 1)
        .add("aead_seal_us", us(s_rate), 3)
        .add("aead_frame_bytes", frame_bytes)
        .add("ed25519_verify_per_s", v_rate, 1)
        .add("ed25519_verify_us", us(v_rate), 3)
        .add("rss_floor_mb", floor_mb, 2)
        .add("rounds", rounds)
        .add("sodium_version", sodium_version_string());
    o.print();
    return 0;
  }
  std::printf("primitives_bench: libsodium %s, median of %d rounds, per CPU-second of one core\n",
              sodium_version_string(), rounds);
  std::printf("  %-40s %12.1f/s %10.3f us\n", "X25519 scalar multiplication", x_rate, us(x_rate));
  std::printf("  %-40s %12.1f/s %10.3f us\n", "ChaCha20-Poly1305 seal, 1032 bytes", s_rate,
              us(s_rate));
  std::printf("  %-40s %12.1f/s %10.3f us\n", "Ed25519 verify, 64 bytes", v_rate, us(v_rate));
  std::printf("  %-40s %12.2f MB\n", "resident memory after sodium_init", floor_mb);
  return 0;
}
