// Helpers for the message store tests: recipients and messages made from a
// seed, and the summary recomputed from bucket_entries (what a peer would
// compute from a bucket listing). TempDir comes from tests/support.
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "swarm/message_store.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/temp_dir.hpp"

namespace nightjar::test {

// A recipient key from a small number (not a valid curve point; the store
// does not care).
inline Ed25519PublicKey test_recipient(std::uint8_t n) {
  const std::uint8_t seed[2] = {'r', n};
  return Ed25519PublicKey::from(crypto::blake2b_256(seed).view());
}

inline StoredMessage text_message(const Ed25519PublicKey& r, std::string_view text,
                                  std::uint64_t timestamp_ms, std::uint64_t expiry_ms) {
  StoredMessage m;
  m.recipient = r;
  m.body.assign(text.begin(), text.end());
  m.id = message_id(r, m.body);
  m.timestamp_ms = timestamp_ms;
  m.expiry_ms = expiry_ms;
  return m;
}

inline StoredMessage random_message(std::mt19937_64& rng, const Ed25519PublicKey& r,
                                    std::uint64_t timestamp_ms, std::uint64_t expiry_ms,
                                    std::size_t size = 100) {
  StoredMessage m;
  m.recipient = r;
  m.body.resize(size);
  for (auto& b : m.body)
    b = static_cast<std::uint8_t>(rng());
  m.id = message_id(r, m.body);
  m.timestamp_ms = timestamp_ms;
  m.expiry_ms = expiry_ms;
  return m;
}

inline bool same_messages(const std::vector<StoredMessage>& a,
                          const std::vector<StoredMessage>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].recipient == b[i].recipient) || a[i].ns != b[i].ns || !(a[i].id == b[i].id) ||
        a[i].timestamp_ms != b[i].timestamp_ms || a[i].expiry_ms != b[i].expiry_ms ||
        a[i].body != b[i].body)
      return false;
  }
  return true;
}

inline StoreSummary recompute_summary(const MessageStore& s) {
  StoreSummary out{};
  for (std::size_t b = 0; b < summary_buckets; ++b) {
    for (const auto& e : s.bucket_entries(b)) {
      if (e.id.bytes[0] != b) out[b].count += 1000'000;  // in the wrong bucket: never equal
      out[b].count += 1;
      const Hash256 h = entry_hash(e);
      for (std::size_t i = 0; i < h.size(); ++i)
        out[b].digest.bytes[i] ^= h.bytes[i];
    }
  }
  return out;
}

// Options for a store in a test: no fsync (the crash tests cover sync; the
// WAL is on either way), logs into the failing test's output.
inline StoreOptions test_options() {
  StoreOptions o;
  o.sync = false;
  o.log = capture_logger("store");
  return o;
}

inline std::unique_ptr<MessageStore> open_store(const std::filesystem::path& dir,
                                                StoreOptions options = test_options()) {
  auto r = MessageStore::open(dir, std::move(options));
  if (!r) FAIL("open failed: " << r.error());
  return std::move(r).value();
}

inline std::vector<MessageId> ids_of(const std::vector<StoredMessage>& ms) {
  std::vector<MessageId> out;
  for (const auto& m : ms) out.push_back(m.id);
  return out;
}

}  // namespace nightjar::test
