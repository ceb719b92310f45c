// The client's prekey bundle as a public record, on a real loopback network:
// a client publishes its bundle by itself, anyone looks it up (the owner's
// signatures checked by the reader), an account without one is told apart,
// and a restarted client keeps its prekeys and replaces its record with a
// newer version on every member.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>

#include "client/client.hpp"
#include "tests/support/client_setup.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using nightjar::client::Client;
using nightjar::client::ClientOptions;
using nightjar::client::PrekeyBundle;
using nightjar::client::AccountKey;
using nightjar::client::encode;
using nightjar::client::verify;

TEST_CASE("a client publishes its prekey bundle by itself and anyone reads it, checked",
          "[client][records]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    auto alice = start_client(loop, net.config(), net.dir() / "alice", "alice");
    auto bob = start_client(loop, net.config(), net.dir() / "bob", "bob");
    auto carol = start_client(loop, net.config(), net.dir() / "carol", "carol",
                              [](ClientOptions& o) { o.publish_prekeys = false; });

    const auto got = wait_for_bundle(loop, *bob, alice->identity().account());
    REQUIRE(got);
    const auto published = alice->prekeys().bundle(client::prekeys::published_one_time);
    REQUIRE(published);
    CHECK(encode(*got) == encode(*published));
    CHECK(got->one_time.size() == client::prekeys::published_one_time);
    CHECK(verify(*got));

    // Carol publishes none: a clear "none", not an error.
    bool answered = false;
    bob->lookup_prekeys(carol->identity().account(), [&](auto r) {
      answered = true;
      REQUIRE(r.ok());
      CHECK_FALSE(r->has_value());
    });
    REQUIRE(loop.run_until([&] { return answered; }, std::chrono::seconds(30)));
    alice->stop();
    bob->stop();
    carol->stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a restarted client keeps its prekeys and its newer record replaces the old on every member",
          "[client][records]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(6);
    REQUIRE(loop.run_until([&] { return net.agree_on(6); }, std::chrono::seconds(15)));
    SystemRandom rng;
    const auto identity = client::Identity::generate(rng);
    const auto profile = net.dir() / "alice";
    auto bob = start_client(loop, net.config(), net.dir() / "bob", "bob");

    auto alice = start_client_as(loop, net.config(), profile, "alice", identity.seed());
    const auto first = wait_for_bundle(loop, *bob, identity.account());
    REQUIRE(first);
    alice->stop();
    alice.reset();

    // The same profile: the same prekeys (from the profile), published again
    // as a newer record.
    auto again = start_client_as(loop, net.config(), profile, "alice-again", identity.seed());
    bool published = false;
    again->publish_prekeys([&](Result<void, std::string> r) {
      if (!r) FAIL("publish failed: " << r.error());
      published = true;
    });
    REQUIRE(loop.run_until([&] { return published; }, std::chrono::seconds(30)));
    REQUIRE(again->prekeys().bundle());
    CHECK(again->prekeys().bundle()->signed_prekey.id == first->signed_prekey.id);
    const auto second = wait_for_bundle(loop, *bob, identity.account());
    REQUIRE(second);
    CHECK(encode(*second) == encode(*first));

    // Every member of Alice's swarm ends up with one live record: the newest.
    const Mailbox records{Namespace::records, identity.account()};
    const auto dir = net.nodes()[0]->directory().current();
    const SwarmId home = *dir->swarm_for(identity.account());
    REQUIRE(loop.run_until(
        [&] {
          for (auto& n : net.nodes()) {
            auto me = n->directory().current()->find(n->id());
            if (!me || me->swarm != home) continue;
            if (n->store()->all_of(records, 10, system_unix_ms()).size() != 1) return false;
          }
          return true;
        },
        std::chrono::seconds(20)));
    again->stop();
    bob->stop();
  }
  CHECK(loop.drain_and_close());
}
