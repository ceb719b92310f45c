// store_crash_child DIR COUNT SEED: the process the message store crash test
// kills. Opens a store at DIR with sync on and puts COUNT messages (400-byte
// bodies, 16 recipients, all from SEED); after each put has returned ok, it
// writes the message ID in hex and a newline to stdout with one write(2), so
// that every ID the parent reads was acknowledged before the kill.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <random>
#include <string>

#include "swarm/message_store.hpp"

using namespace nightjar;

namespace {

// The times the crash test reads the store at: every message is alive then.
constexpr std::uint64_t t0 = 1'700'000'000'000;
constexpr std::uint64_t day = 86'400'000;

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char* argv[]) {
  std::uint64_t count = 0;
  std::uint64_t seed = 0;
  if (argc != 4 ||
      std::from_chars(argv[2], argv[2] + std::char_traits<char>::length(argv[2]), count).ec !=
          std::errc() ||
      std::from_chars(argv[3], argv[3] + std::char_traits<char>::length(argv[3]), seed).ec !=
          std::errc()) {
    std::fprintf(stderr, "usage: store_crash_child DIR COUNT SEED\n");
    return 2;
  }
  if (!crypto::init()) return 1;
  // stdout carries the acknowledgements; logs go to stderr.
  auto log = spdlog::stderr_logger_st("store");
  log->set_level(spdlog::level::warn);
  StoreOptions options;
  options.sync = true;
  options.log = log;
  auto store = MessageStore::open(argv[1], options);
  if (!store) {
    std::fprintf(stderr, "store_crash_child: %s\n", store.error().c_str());
    return 1;
  }
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < count; ++i) {
    StoredMessage m;
    const std::uint8_t r[2] = {'c', static_cast<std::uint8_t>(rng() % 16)};
    m.recipient = Ed25519PublicKey::from(crypto::blake2b_256(r).view());
    m.body.resize(400);
    for (auto& b : m.body)
      b = static_cast<std::uint8_t>(rng());
    m.id = message_id(m.recipient, m.body);
    m.timestamp_ms = t0 + i;
    m.expiry_ms = t0 + day;
    auto put = (*store)->put(m, t0);
    if (!put) {
      std::fprintf(stderr, "store_crash_child: put failed: %s\n", to_string(put.error()));
      return 1;
    }
    if (!write_all(STDOUT_FILENO, m.id.hex() + "\n")) return 1;
  }
  return 0;
}
