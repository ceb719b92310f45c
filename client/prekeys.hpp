// Prekeys: an account's prekey secrets and the bundle it publishes
// (client/x3dh.hpp), kept in the profile (ProfileSealer, atomic replace).
//
// Schedule (stated in docs/ENVELOPE.md, "Prekeys"):
// - the signed prekey is replaced every 7 days (`rotation`); a replaced one is
//   kept 15 days more (`retention`: the longest message TTL, 14 days, and a
//   day of slack), so a first message sealed to a bundle fetched just before
//   the rotation still opens when its recipient comes back after two weeks;
// - one-time prekeys: 50 unused ones kept (`one_time_target`), of which the
//   oldest `published_one_time` (6) go into the published bundle, so that it
//   fits a public record (swarm/public_record.hpp); when a first message
//   uses one it leaves the bundle (which is published again without it) and
//   its secret is erased `used_retention` (2 days) later: until then, first
//   messages of other senders who fetched the bundle before it changed (a
//   public record cannot hand each one out once, as Signal's server does)
//   still open; the set is refilled to 50 when fewer than 25 unused ones are
//   left. A bundle whose one-time prekeys ran out still works (X3DH without
//   DH4).
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
inline constexpr std::uint64_t used_retention_ms = 2ull * 24 * 3600 * 1000;
// One-time prekeys in a published bundle: 143 + 36 * 6 = 359 bytes, within a
// public record's 364-byte payload.
inline constexpr std::size_t published_one_time = 6;
inline constexpr std::uint8_t state_version = 2;  // 1: one-time prekeys without the time of use
}  // namespace prekeys

class Prekeys {
 public:
  // `identity` must outlive this.
  explicit Prekeys(const Identity& identity);

  // Rotates, retires, erases and refills as the schedule says; true if the
  // state changed (save it, and publish the bundle again).
  // New keys come from `rng` (null: the system's; a seeded source makes test vectors).
  bool maintain(std::uint64_t now_ms, RandomSource* rng = nullptr);
  // What to publish: the newest signed prekey and the unused one-time ones
  // (the oldest first, at most `max_one_time`). Empty before the first
  // maintain().
  std::optional<PrekeyBundle> bundle(std::size_t max_one_time = SIZE_MAX) const;

  // For the responder's side of X3DH: the secret of signed prekey `id` (the
  // current one or one still retained).
  const X25519SecretKey* signed_secret(std::uint32_t id) const;
  // Marks one-time prekey `id` used at `now_ms` (it leaves the bundle; its
  // secret is erased used_retention later) and returns its secret; nothing
  // if it was used before (or never existed).
  std::optional<X25519SecretKey> take_one_time(std::uint32_t id, std::uint64_t now_ms);
  // The secret of one-time prekey `id`, unused or used within the
  // retention, without marking it; or null.
  const X25519SecretKey* one_time_secret(std::uint32_t id) const;

  std::size_t signed_count() const { return signed_.size(); }
  std::size_t one_time_count() const;  // unused ones

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
    std::uint64_t used_ms = 0;  // 0: unused
  };
  std::vector<std::uint8_t> ad() const;

  const Identity* identity_;  // outlives this (the client's)
  std::vector<Signed> signed_;  // oldest first; the last is published
  std::vector<OneTime> one_time_;
  std::uint32_t next_id_ = 1;
};

}  // namespace nightjar::client
