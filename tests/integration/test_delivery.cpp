// Delivery to online recipients without lookback sweeps (they are off in
// every test here): bursts of messages from many senders at once, whose
// replicas reach the polled member in any order, arrive exactly once; a
// replica that a link fault holds back, stamped before what the recipient
// already has, is handed over as soon as it reaches the polled member.
// Real nodes on loopback, real RocksDB stores, real onion paths.
#include <catch2/catch.hpp>

#include <ctime>
#include <map>
#include <string>

#include "client/client.hpp"
#include "client/envelope.hpp"
#include "tests/support/client_setup.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/storage_client.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using nightjar::client::Client;
using nightjar::client::ClientOptions;
using nightjar::client::Identity;
using nightjar::client::ReceivedMessage;

namespace {

// Long polls of 5 s; no lookback sweeps (the default, said here because
// delivery must not need them).
std::unique_ptr<Client> started_client(TestLoop& loop, const NetworkConfig& network,
                                       const std::filesystem::path& profile,
                                       const std::string& name) {
  return start_client(loop, network, profile, name, [](ClientOptions& o) {
    o.poll_wait_ms = 5000;
    o.lookback = std::chrono::milliseconds(0);
  });
}

}  // namespace

TEST_CASE("bursts of 200 messages from 10 senders at once reach a subscribed recipient exactly once",
          "[client][delivery]") {
  constexpr int senders = 10;
  constexpr int per_sender = 20;  // per round: 200 messages at once
  constexpr int rounds = 20;
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(12);
    REQUIRE(loop.run_until([&] { return net.agree_on(12); }, std::chrono::seconds(15)));
    auto bob = started_client(loop, net.config(), net.dir() / "bob", "bob");
    std::vector<std::unique_ptr<Client>> from;
    for (int i = 0; i < senders; ++i)
      from.push_back(started_client(loop, net.config(), net.dir() / ("sender" + std::to_string(i)),
                                    "sender" + std::to_string(i)));
    std::map<std::string, int> counts;
    std::size_t received = 0;
    bob->subscribe([&](const ReceivedMessage& m) {
      ++counts[std::string(m.text.begin(), m.text.end())];
      ++received;
    });

    int acked = 0, failed = 0;
    for (int round = 0; round < rounds; ++round) {
      for (int s = 0; s < senders; ++s)
        for (int k = 0; k < per_sender; ++k) {
          const std::string text = "round " + std::to_string(round) + " sender " +
                                   std::to_string(s) + " message " + std::to_string(k);
          from[static_cast<std::size_t>(s)]->send(bob->identity().account(), as_bytes(text),
                                                  [&](auto r) { r ? ++acked : ++failed; });
        }
      const int want = (round + 1) * senders * per_sender;
      const bool all_acked =
          loop.run_until([&] { return acked + failed == want; }, std::chrono::seconds(60));
      INFO("round " << round << ": " << acked << " acknowledged, " << failed << " failed");
      REQUIRE(all_acked);
      REQUIRE(failed == 0);
      // Every acknowledged message reaches Bob through his long polls alone.
      const bool all_in = loop.run_until([&] { return received >= static_cast<std::size_t>(want); },
                                         std::chrono::seconds(30));
      INFO("Bob has " << received << " of " << want);
      REQUIRE(all_in);
    }
    // A little longer, to see any duplicate.
    loop.run_for(std::chrono::milliseconds(1500));
    CHECK(received == static_cast<std::size_t>(rounds * senders * per_sender));
    CHECK(counts.size() == static_cast<std::size_t>(rounds * senders * per_sender));
    for (const auto& [text, n] : counts) {
      INFO(text);
      CHECK(n == 1);
    }
    CHECK(bob->stats().sweeps == 0);
    bob->stop();
    for (auto& c : from) c->stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("messages sent one at a time reach a subscribed client as segments of its open long poll",
          "[client][delivery]") {
  constexpr int messages = 12;
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    auto bob = started_client(loop, net.config(), net.dir() / "bob", "bob");
    auto alice = started_client(loop, net.config(), net.dir() / "alice", "alice");
    std::vector<std::string> got;
    bob->subscribe([&](const ReceivedMessage& m) { got.emplace_back(m.text.begin(), m.text.end()); });
    // Bob's first long poll is parked (nothing to list yet).
    REQUIRE(loop.run_until([&] { return bob->stats().retrieves >= 1; }, std::chrono::seconds(10)));
    loop.run_for(std::chrono::milliseconds(300));
    const std::uint64_t retrieves_before = bob->stats().retrieves;
    for (int i = 0; i < messages; ++i) {
      const std::string text = "one at a time " + std::to_string(i);
      bool acked = false;
      alice->send(bob->identity().account(), as_bytes(text), [&](auto r) {
        REQUIRE(r.ok());
        acked = true;
      });
      REQUIRE(loop.run_until([&] { return acked && got.size() == static_cast<std::size_t>(i) + 1; },
                             std::chrono::seconds(10)));
      CHECK(got.back() == text);
    }
    // Each came on the poll that was already open: a 5 s long poll ends
    // (and a new one starts) at most a few times in this loop, not once per
    // message as when every answer closed the poll.
    const std::uint64_t new_polls = bob->stats().retrieves - retrieves_before;
    INFO(new_polls << " new polls, " << bob->stats().poll_segments << " segments");
    CHECK(bob->stats().poll_segments >= static_cast<std::uint64_t>(messages) - new_polls);
    CHECK(new_polls < static_cast<std::uint64_t>(messages) / 2);
    bob->stop();
    alice->stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a client that subscribes again gets what came while it was away without waiting out its poll",
          "[client][delivery]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    // Long polls of 60 s: a message that waited for Bob's open poll to end
    // would not arrive within this test's bound.
    auto bob = start_client(loop, net.config(), net.dir() / "bob", "bob", [](ClientOptions& o) {
      o.poll_wait_ms = 60'000;
      o.lookback = std::chrono::milliseconds(0);
    });
    auto alice = started_client(loop, net.config(), net.dir() / "alice", "alice");
    std::vector<std::string> got;
    bob->subscribe([&](const ReceivedMessage& m) { got.emplace_back(m.text.begin(), m.text.end()); });
    REQUIRE(loop.run_until([&] { return bob->stats().retrieves >= 1; }, std::chrono::seconds(10)));
    loop.run_for(std::chrono::milliseconds(300));
    // Bob goes away; his open poll is handed the message and leaves it.
    bob->unsubscribe();
    bool acked = false;
    alice->send(bob->identity().account(), as_bytes(std::string("while away")), [&](auto r) {
      REQUIRE(r.ok());
      acked = true;
    });
    REQUIRE(loop.run_until([&] { return acked && bob->stats().poll_segments >= 1; },
                           std::chrono::seconds(10)));
    loop.run_for(std::chrono::milliseconds(300));
    CHECK(got.empty());
    // Back: a new poll asks from Bob's cursor at once.
    bob->subscribe([&](const ReceivedMessage& m) { got.emplace_back(m.text.begin(), m.text.end()); });
    REQUIRE(loop.run_until([&] { return !got.empty(); }, std::chrono::seconds(20)));
    CHECK(got == std::vector<std::string>{"while away"});
    // And nothing twice when the abandoned poll's wait ends.
    loop.run_for(std::chrono::milliseconds(500));
    CHECK(got.size() == 1);
    bob->stop();
    alice->stop();
  }
  CHECK(loop.drain_and_close());
}

namespace {

// Holds back the replication frames a node receives (pushes, tombstones,
// anti-entropy; not acknowledgements, so the node's own stores still reach
// their quorum), while `active`, by `delay`. Onion cells pass untouched.
struct HoldReplicationIn final : LinkFaults {
  std::shared_ptr<bool> active;
  std::chrono::milliseconds delay;
  HoldReplicationIn(std::shared_ptr<bool> on, std::chrono::milliseconds d)
      : active(std::move(on)), delay(d) {}
  FrameFate decide(FrameDirection direction, const std::optional<X25519PublicKey>& peer,
                   std::uint8_t type) override {
    FrameFate fate;
    const bool replication = type >= 0x20 && type <= 0x2f && type != 0x21;
    if (*active && direction == FrameDirection::in && peer && replication) fate.delay = delay;
    return fate;
  }
};

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

TEST_CASE("a replica held back by a link fault still reaches the subscribed client within 2 s of arriving",
          "[client][delivery]") {
  TestLoop loop;
  {
    // Swarms of 3, quorum 2: a store is acknowledged by two members while
    // the third (the one Bob polls) has not got it yet.
    NetworkParams params = TestNetwork::small_params();
    params.swarm = SwarmSizes{3, 3, 5};
    params.quorum = 2;
    TestNetwork net(loop, params);
    std::map<std::string, std::shared_ptr<bool>> holds;
    net.customize = [&](const std::string& name, NodeOptions& o) {
      auto on = std::make_shared<bool>(false);
      holds[name] = on;
      o.link.faults = std::make_shared<HoldReplicationIn>(on, std::chrono::milliseconds(6000));
    };
    net.start_authorities(1);
    net.add_nodes(9);
    REQUIRE(loop.run_until([&] { return net.agree_on(9); }, std::chrono::seconds(15)));
    auto alice = started_client(loop, net.config(), net.dir() / "alice", "alice");
    auto bob = started_client(loop, net.config(), net.dir() / "bob", "bob");
    std::map<std::string, std::uint64_t> got_at;
    bob->subscribe([&](const ReceivedMessage& m) {
      got_at.emplace(std::string(m.text.begin(), m.text.end()), now_ms());
    });

    // The member Bob long-polls, and the other two of his swarm.
    const auto dir = net.nodes()[0]->directory().current();
    const auto members = dir->members(*dir->swarm_for(bob->identity().account()));
    REQUIRE(members.size() == 3);
    auto node_of = [&](const NodeId& id) -> Node* {
      for (auto& n : net.nodes())
        if (n && n->id() == id) return n.get();
      return nullptr;
    };
    Node* polled = nullptr;
    REQUIRE(loop.run_until(
        [&] {
          for (const auto* m : members)
            if (Node* n = node_of(m->node.id); n && n->storage()->stats().waiting > 0) polled = n;
          return polled != nullptr;
        },
        std::chrono::seconds(20)));
    std::vector<NodeId> others;
    for (const auto* m : members)
      if (!(m->node.id == polled->id())) others.push_back(m->node.id);
    std::string polled_name;
    for (std::size_t i = 0; i < net.nodes().size(); ++i)
      if (net.nodes()[i].get() == polled) polled_name = "node" + std::to_string(i + 1);
    REQUIRE(holds.count(polled_name));

    // Sealed by Alice for Bob, stored through a path to a chosen member.
    StorageClient raw(loop, net.config());
    raw.set_directory(dir);
    SystemRandom rng;
    auto sealed = [&](const std::string& text) {
      client::Message msg;
      msg.timestamp_ms = static_cast<std::uint64_t>(std::time(nullptr)) * 1000;
      msg.message_id = client::random_message_id(rng);
      msg.count = 1;
      msg.body = as_bytes(text);
      auto e = client::seal(alice->identity(), bob->identity().account(), msg,
                            dir->params.max_body_bytes, rng);
      REQUIRE(e.ok());
      return *e;
    };
    *holds[polled_name] = true;
    // "early" through another member: acknowledged by the two others; the
    // polled member gets it 6 s late. "later" straight to the polled member,
    // stamped after "early", arrives there first.
    const auto early = sealed("early");
    auto r1 = raw.store(others[0], bob->identity().account(), early);
    REQUIRE(r1.ok());
    REQUIRE(r1->status == storage::Status::ok);
    auto r2 = raw.store(polled->id(), bob->identity().account(), sealed("later"));
    REQUIRE(r2.ok());
    REQUIRE(r2->status == storage::Status::ok);
    REQUIRE(loop.run_until([&] { return got_at.count("later") == 1; }, std::chrono::seconds(10)));
    const auto early_id = message_id(bob->identity().account(), early);
    CHECK_FALSE(polled->store()->contains(early_id));  // not there yet: held back

    // When the held-back replica lands on the polled member, Bob's long poll
    // hands it over, though it is stamped before what he already has.
    std::uint64_t landed_ms = 0;
    REQUIRE(loop.run_until(
        [&] {
          if (landed_ms == 0 && polled->store()->contains(early_id)) landed_ms = now_ms();
          return landed_ms != 0 && got_at.count("early") == 1;
        },
        std::chrono::seconds(30)));
    const auto e = polled->store()->get(early_id, static_cast<std::uint64_t>(std::time(nullptr)) * 1000);
    const auto l = polled->store()->get(std::get<storage::StoreResult>(r2->body).id,
                                        static_cast<std::uint64_t>(std::time(nullptr)) * 1000);
    REQUIRE(e);
    REQUIRE(l);
    CHECK(e->timestamp_ms < l->timestamp_ms);  // stamped earlier...
    CHECK(e->seq > l->seq);                    // ...arrived later
    INFO("delivered " << got_at["early"] - landed_ms << " ms after it reached the polled member");
    CHECK(got_at["early"] - landed_ms <= 2000);
    CHECK(bob->stats().sweeps == 0);
    *holds[polled_name] = false;
    alice->stop();
    bob->stop();
  }
  CHECK(loop.drain_and_close());
}
