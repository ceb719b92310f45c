// Prekeys: an account's prekey secrets and the bundle it publishes
// (client/x3dh.hpp), kept in the profile (ProfileSealer, atomic replace).
//
// Schedule (stated in docs/ENVELOPE.md, "Prekeys"):
// - the signed prekey is replaced every 7 days (`rotation`); a replaced one is
//   kept 15 days more (`retention`: the longest message TTL, 14 days, and a
//   day of slack), so a first message sealed to a bundle fetched just before
//   the rotation still opens when its recipient comes back after two weeks;
// - one-time prekeys: 50 kept (`one_time_target`), of which the oldest
//   `published_one_time` (6) go into the published bundle, so that it fits a
//   public record (swarm/public_record.hpp); each is erased when a first
//   message uses it, and the bundle is published again without it; the set
//   is refilled to 50 when fewer than 25 are left. A bundle whose one-time
//   prekeys ran out still works (X3DH without DH4).
// maintain() applies the schedule and says whether the bundle changed (and
// so must be published again). IDs only grow.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "client/identity.hpp"
#include "client/x3dh.hpp"
#include "routing/result.hpp"

namespace nightjar::client {

namespace prekeys {
inline constexpr std::uint64_t rotation_ms = 7ull * 24 * 3600 * 1000;
inline constexpr std::uint64_t retention_ms = 15ull * 24 * 3600 * 1000;
inline constexpr std::size_t one_time_target = 50;
inline constexpr std::size_t one_time_refill_below = 25;
// One-time prekeys in a published bundle: 143 + 36 * 6 = 359 bytes, within a
// public record's 364-byte payload.
inline constexpr std::size_t published_one_time = 6;
inline constexpr std::uint8_t state_version = 1;
}  // namespace prekeys

class Prekeys {
 public:
  // `identity` must outlive this.
  explicit Prekeys(const Identity& identity);

  // Rotates, retires and refills as the schedule says; true if the
  // published bundle changed.
  bool maintain(std::uint64_t now_ms);
  // What to publish: the newest signed prekey and the unused one-time ones
  // (the oldest first, at most `max_one_time`). Empty before the first
  // maintain().
  std::optional<PrekeyBundle> bundle(std::size_t max_one_time = SIZE_MAX) const;

  // For the responder's side of X3DH: the secret of signed prekey `id` (the
  // current one or one still retained).
  const X25519SecretKey* signed_secret(std::uint32_t id) const;
  // The secret of one-time prekey `id`, erased from the set: each is used
  // once. Nothing if it was used (or never existed).
  std::optional<X25519SecretKey> take_one_time(std::uint32_t id);
  // The same secret without erasing it (to try a first message before it
  // is accepted), or null.
  const X25519SecretKey* one_time_secret(std::uint32_t id) const;

  std::size_t signed_count() const { return signed_.size(); }
  std::size_t one_time_count() const { return one_time_.size(); }

  std::vector<std::uint8_t> encode() const;
  Result<void, std::string> decode(Bytes bytes);  // replaces this state

  Result<void, std::string> save(const std::filesystem::path& file) const;
  // Loads the file if it exists (a missing file leaves the state empty).
  Result<void, std::string> load(const std::filesystem::path& file);

 private:
  struct Signed {
    SignedPrekey pub;
    X25519SecretKey secret;
  };
  struct OneTime {
    OneTimePrekey pub;
    X25519SecretKey secret;
  };
  std::vector<std::uint8_t> ad() const;

  const Identity* identity_;  // outlives this (the client's)
  std::vector<Signed> signed_;  // oldest first; the last is published
  std::vector<OneTime> one_time_;
  std::uint32_t next_id_ = 1;
};

}  // namespace nightjar::client
