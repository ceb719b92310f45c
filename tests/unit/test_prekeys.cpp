// Prekeys (client/prekeys.hpp): the rotation schedule, one-time prekeys used
// once and refilled, a bundle that verifies and drives X3DH against the kept
// secrets, and the state saved encrypted in the profile.
#include <catch2/catch.hpp>

#include "client/prekeys.hpp"
#include "client/ratchet.hpp"
#include "routing/random_source.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::TempDir;

namespace {
constexpr std::uint64_t day = 24ull * 3600 * 1000;
constexpr std::uint64_t t0 = 1'800'000'000'000;
}  // namespace

TEST_CASE("Prekeys: the signed prekey rotates every 7 days and a replaced one stays 15 more", "[prekeys]") {
  SystemRandom rng;
  const auto me = Identity::generate(rng);
  Prekeys p(me);
  CHECK_FALSE(p.bundle().has_value());
  CHECK(p.maintain(t0));
  REQUIRE(p.bundle().has_value());
  const std::uint32_t first = p.bundle()->signed_prekey.id;
  CHECK(verify(*p.bundle()));
  CHECK(p.bundle()->one_time.size() == prekeys::one_time_target);
  CHECK_FALSE(p.maintain(t0 + 6 * day));  // nothing due
  CHECK(p.maintain(t0 + 7 * day));        // rotation
  const std::uint32_t second = p.bundle()->signed_prekey.id;
  CHECK(second > first);
  CHECK(p.signed_secret(first) != nullptr);  // kept for messages in flight
  CHECK(p.signed_secret(second) != nullptr);
  CHECK(p.maintain(t0 + 14 * day));  // another rotation; the first is still within 15 days of its successor
  CHECK(p.signed_secret(first) != nullptr);
  CHECK(p.signed_count() == 3);
  p.maintain(t0 + 22 * day);  // 15 days after the second arrived: the first goes
  CHECK(p.signed_secret(first) == nullptr);
  CHECK(p.signed_secret(second) != nullptr);
  CHECK(p.signed_count() <= 4);
}

TEST_CASE("Prekeys: a one-time prekey is used once, and the set is refilled below half", "[prekeys]") {
  SystemRandom rng;
  const auto me = Identity::generate(rng);
  const auto alice = Identity::generate(rng);
  Prekeys p(me);
  p.maintain(t0);
  auto bundle = *p.bundle();
  // Alice starts a conversation with the last one-time prekey.
  const std::size_t pick = bundle.one_time.size() - 1;
  auto start = x3dh_initiate(alice.account(), alice.x25519_secret(), bundle, pick);
  REQUIRE(start.ok());
  REQUIRE(start->one_time_prekey_id.has_value());
  const X25519SecretKey* spk = p.signed_secret(start->signed_prekey_id);
  REQUIRE(spk != nullptr);
  auto otk = p.take_one_time(*start->one_time_prekey_id, t0);
  REQUIRE(otk.has_value());
  CHECK_FALSE(p.take_one_time(*start->one_time_prekey_id, t0).has_value());  // once
  // Used: out of the bundle at once, its secret kept for used_retention.
  const auto after_use = *p.bundle();  // a copy: a loop over a temporary's member dangles
  for (const auto& k : after_use.one_time) CHECK(k.id != *start->one_time_prekey_id);
  REQUIRE(p.one_time_secret(*start->one_time_prekey_id) != nullptr);
  p.maintain(t0 + prekeys::used_retention_ms - 1);
  CHECK(p.one_time_secret(*start->one_time_prekey_id) != nullptr);
  CHECK(p.maintain(t0 + prekeys::used_retention_ms));
  CHECK(p.one_time_secret(*start->one_time_prekey_id) == nullptr);
  auto keys = x3dh_respond(me.account(), me.x25519_secret(), *spk, &*otk, alice.account(), start->ephemeral);
  REQUIRE(keys.ok());
  CHECK(crypto::equal(keys->shared.view(), start->keys.shared.view()));

  // Used down to below half: refilled to the target, with new IDs.
  std::uint32_t highest = 0;
  const auto before = *p.bundle();
  for (const auto& k : before.one_time) highest = std::max(highest, k.id);
  while (p.one_time_count() >= prekeys::one_time_refill_below)
    REQUIRE(p.take_one_time(p.bundle()->one_time.front().id, t0).has_value());
  CHECK(p.maintain(t0 + 1000));
  CHECK(p.one_time_count() == prekeys::one_time_target);
  CHECK(p.bundle()->one_time.back().id > highest);
  CHECK(encode(*p.bundle()).size() <= x3dh::max_bundle_bytes);
}

TEST_CASE("Prekeys: the state is saved encrypted and loads only into its own profile", "[prekeys]") {
  TempDir dir;
  SystemRandom rng;
  const auto me = Identity::generate(rng);
  const auto other = Identity::generate(rng);
  Prekeys p(me);
  p.maintain(t0);
  p.maintain(t0 + 7 * day);
  (void)p.take_one_time(p.bundle()->one_time.front().id, t0 + 7 * day);
  const auto file = dir / "prekeys";
  REQUIRE(p.save(file).ok());

  Prekeys back(me);
  REQUIRE(back.load(file).ok());
  CHECK(back.encode() == p.encode());
  CHECK(back.bundle().has_value());
  CHECK(verify(*back.bundle()));
  CHECK(encode(*back.bundle()) == encode(*p.bundle()));

  Prekeys theirs(other);
  CHECK_FALSE(theirs.load(file).ok());
  // A missing file is an empty state, not an error.
  Prekeys fresh(me);
  REQUIRE(fresh.load(dir / "none").ok());
  CHECK_FALSE(fresh.bundle().has_value());
  // The decoder refuses what it did not write.
  const auto bytes = p.encode();
  Prekeys d(me);
  for (std::size_t n = 0; n < bytes.size(); n += 11) CHECK_FALSE(d.decode(Bytes(bytes).first(n)).ok());
  auto longer = bytes;
  longer.push_back(0);
  CHECK_FALSE(d.decode(longer).ok());
  CHECK(d.decode(bytes).ok());
}
