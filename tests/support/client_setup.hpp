// A started Client for integration tests: options for a fast loopback
// network (short long polls and timeouts, logs into the failing test's
// output), changed by `tweak`, and a directory in hand before it returns.
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/client.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/uv_loop.hpp"

namespace nightjar::test {

// With the identity from `seed` (the same account across restarts).
inline std::unique_ptr<client::Client> start_client_as(
    TestLoop& loop, const NetworkConfig& network, const std::filesystem::path& profile,
    const std::string& name, const Ed25519Seed& seed,
    const std::function<void(client::ClientOptions&)>& tweak = {}) {
  client::ClientOptions o;
  o.network = network;
  o.profile_dir = profile;
  o.poll_wait_ms = 2000;
  o.request_timeout = std::chrono::milliseconds(4000);
  o.log = capture_logger(name);
  if (tweak) tweak(o);
  auto c = std::make_unique<client::Client>(loop.get(), o, client::Identity::from_seed(seed));
  bool ready = false;
  c->start([&](Result<void, std::string> r) {
    REQUIRE(r.ok());
    ready = true;
  });
  REQUIRE(loop.run_until([&] { return ready; }, std::chrono::seconds(20)));
  return c;
}

// With a new identity.
inline std::unique_ptr<client::Client> start_client(
    TestLoop& loop, const NetworkConfig& network, const std::filesystem::path& profile,
    const std::string& name, const std::function<void(client::ClientOptions&)>& tweak = {}) {
  SystemRandom rng;
  return start_client_as(loop, network, profile, name, client::Identity::generate(rng).seed(), tweak);
}

// Runs until `c` has published its prekey bundle (so that messages to it
// are sealed as version 2 from the first one).
inline void wait_for_bundle_published(TestLoop& loop, client::Client& c) {
  REQUIRE(loop.run_until([&] { return c.stats().bundles_published > 0; }, std::chrono::seconds(20)));
}

// Asks `reader` for `owner`'s prekey bundle until one comes back (bounded by
// `limit`); nullopt if none did.
inline std::optional<client::PrekeyBundle> wait_for_bundle(
    TestLoop& loop, client::Client& reader, const client::AccountKey& owner,
    std::chrono::seconds limit = std::chrono::seconds(20)) {
  std::optional<client::PrekeyBundle> found;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!found && std::chrono::steady_clock::now() < until) {
    bool answered = false;
    reader.lookup_prekeys(owner, [&](Result<std::optional<client::PrekeyBundle>, std::string> r) {
      answered = true;
      if (r && *r) found = **r;
    });
    REQUIRE(loop.run_until([&] { return answered; }, std::chrono::seconds(30)));
    if (!found) loop.run_for(std::chrono::milliseconds(200));
  }
  return found;
}

}  // namespace nightjar::test
