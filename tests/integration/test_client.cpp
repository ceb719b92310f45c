// The client library end to end on a loopback network (one authority and 12
// nodes in this process): two people exchange messages with the recipient
// offline and then online, every message arriving exactly once; a forged
// envelope is refused; a relay killed mid-send does not lose the message.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "client/client.hpp"
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

struct Person {
  std::unique_ptr<Client> client;
  std::vector<std::string> inbox;
  std::map<std::string, int> counts;
};

std::uint64_t unix_now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Puts a message from `from` to `to`, stamped `timestamp_ms` (default: 30 s
// ago), straight into the stores of every running member of the recipient's
// swarm: a message that reached the swarm late, behind the recipient's
// settled cursor. `fragments` > 1 makes it the first fragment of a message
// of that many whose other fragments never arrive.
void put_late_message(TestNetwork& net, const Client& from, const client::AccountKey& to,
                      const std::string& text, std::optional<std::uint64_t> timestamp_ms = {},
                      std::uint16_t fragments = 1) {
  std::shared_ptr<const Directory> dir;
  for (auto& n : net.nodes())
    if (n && (!dir || n->directory().current()->epoch > dir->epoch)) dir = n->directory().current();
  REQUIRE(dir);
  const auto members = dir->members(*dir->swarm_for(to));
  SystemRandom rng;
  const auto now = unix_now_ms();
  const std::uint64_t stamp = timestamp_ms.value_or(now - 30'000);
  client::Message msg;
  msg.timestamp_ms = stamp;
  msg.message_id = client::random_message_id(rng);
  msg.count = fragments;
  msg.body = as_bytes(text);
  auto envelope = client::seal(from.identity(), to, msg, dir->params.max_body_bytes, rng);
  REQUIRE(envelope.ok());
  StoredMessage stored;
  stored.recipient = to;
  stored.body = *envelope;
  stored.id = message_id(to, stored.body);
  stored.timestamp_ms = stamp;
  stored.expiry_ms = now + 600'000;
  int put = 0;
  for (auto& n : net.nodes())
    for (const auto* m : members)
      if (n && n->id() == m->node.id) {
        REQUIRE(n->store()->put(stored, now).ok());
        ++put;
      }
  REQUIRE(put > 0);
}

void on_receive(Person& p, const ReceivedMessage& m) {
  std::string text(m.text.begin(), m.text.end());
  p.inbox.push_back(text);
  ++p.counts[text];
}

}  // namespace

TEST_CASE("two clients exchange 100 messages each way, offline then online, each exactly once",
          "[client]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(12);
    REQUIRE(loop.run_until([&] { return net.agree_on(12); }, std::chrono::seconds(15)));
    Person alice, bob;
    alice.client = start_client(loop, net.config(), net.dir() / "alice", "alice");
    bob.client = start_client(loop, net.config(), net.dir() / "bob", "bob");

    // Both offline: 50 messages each way are stored in the swarms.
    int acked = 0, failed = 0;
    auto send_batch = [&](Person& from, Person& to, int first, int n) {
      for (int i = first; i < first + n; ++i) {
        const std::string text = "message " + std::to_string(i) + " to " +
                                 client::format_account_id(to.client->identity().account());
        from.client->send(to.client->identity().account(), as_bytes(text), [&](auto r) {
          if (r) ++acked; else ++failed;
        });
      }
    };
    send_batch(alice, bob, 0, 50);
    send_batch(bob, alice, 0, 50);
    REQUIRE(loop.run_until([&] { return acked + failed == 100; }, std::chrono::seconds(60)));
    CHECK(failed == 0);

    // Online: each subscribes and collects; then 50 more each way while online.
    alice.client->subscribe([&](const ReceivedMessage& m) { on_receive(alice, m); });
    bob.client->subscribe([&](const ReceivedMessage& m) { on_receive(bob, m); });
    REQUIRE(loop.run_until([&] { return alice.inbox.size() == 50 && bob.inbox.size() == 50; },
                           std::chrono::seconds(30)));
    send_batch(alice, bob, 50, 50);
    send_batch(bob, alice, 50, 50);
    const bool all_in = loop.run_until(
        [&] { return alice.inbox.size() >= 100 && bob.inbox.size() >= 100; }, std::chrono::seconds(60));
    INFO("alice has " << alice.inbox.size() << ", bob has " << bob.inbox.size() << ", acked "
                      << acked);
    REQUIRE(all_in);
    CHECK(failed == 0);
    // A little longer, to see any duplicate.
    loop.run_for(std::chrono::milliseconds(1500));
    for (Person* p : {&alice, &bob}) {
      CHECK(p->inbox.size() == 100);
      CHECK(p->counts.size() == 100);
      for (const auto& [text, n] : p->counts) CHECK(n == 1);
    }
    alice.client->stop();
    bob.client->stop();

    // A restarted client (same profile) gets nothing twice.
    // (A new Client object with the same identity would need the identity
    // file; the receive state alone is what matters, so reuse its profile
    // with a pass: the state says everything is handled.)
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a forged envelope is refused and a long message arrives in fragments", "[client]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    Person alice, bob;
    alice.client = start_client(loop, net.config(), net.dir() / "alice", "alice");
    bob.client = start_client(loop, net.config(), net.dir() / "bob", "bob");

    // Garbage stored straight into Bob's swarm: not an envelope for him.
    StorageClient raw(loop, net.config());
    raw.set_directory(net.nodes()[0]->directory().current());
    auto dir = net.nodes()[0]->directory().current();
    const auto bob_account = bob.client->identity().account();
    const NodeId member = dir->members(*dir->swarm_for(bob_account)).front()->node.id;
    std::vector<std::uint8_t> forged(300, 0x42);
    forged[0] = 0x01;  // a version byte, then nonsense
    auto stored = raw.store(member, bob_account, forged);
    REQUIRE(stored.ok());
    REQUIRE(stored->status == storage::Status::ok);

    // A 5,000-byte message: many fragments.
    std::string long_text;
    for (int i = 0; i < 500; ++i) long_text += "0123456789";
    long_text.resize(5000);
    bool sent = false;
    alice.client->send(bob_account, as_bytes(long_text), [&](auto r) {
      REQUIRE(r.ok());
      CHECK(r->fragments > 1);
      sent = true;
    });
    REQUIRE(loop.run_until([&] { return sent; }, std::chrono::seconds(30)));

    bool done = false;
    bob.client->receive([&](const ReceivedMessage& m) { on_receive(bob, m); },
                        [&](Result<void, std::string> r) {
                          CHECK(r.ok());
                          done = true;
                        });
    REQUIRE(loop.run_until([&] { return done; }, std::chrono::seconds(30)));
    REQUIRE(bob.inbox.size() == 1);
    CHECK(bob.inbox[0] == long_text);
    CHECK(bob.client->stats().rejected_envelopes == 1);
    alice.client->stop();
    bob.client->stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a relay killed mid-send: the client retries through another path and the message arrives",
          "[client]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(12);
    REQUIRE(loop.run_until([&] { return net.agree_on(12); }, std::chrono::seconds(15)));
    Person alice, bob;
    alice.client = start_client(loop, net.config(), net.dir() / "alice", "alice");
    bob.client = start_client(loop, net.config(), net.dir() / "bob", "bob");

    // A first message starts the conversation (a bundle lookup, then a
    // store), so that the sends below go straight to their stores.
    wait_for_bundle_published(loop, *bob.client);
    bool started = false;
    alice.client->send(bob.client->identity().account(), as_bytes("hello"), [&](auto r) {
      REQUIRE(r.ok());
      CHECK(r->forward_secret);
      started = true;
    });
    REQUIRE(loop.run_until([&] { return started; }, std::chrono::seconds(30)));

    // Kill one of the primary guards Alice uses right after sending, so the
    // in-flight store fails if it went through it.
    REQUIRE(!alice.client->paths().primary_guards().empty());
    const NodeId guard = alice.client->paths().primary_guards().front();  // a copy: guards change
    int sent = 0;
    for (int i = 0; i < 10; ++i) {
      const std::string text = "through the storm " + std::to_string(i);
      alice.client->send(bob.client->identity().account(), as_bytes(text), [&](auto r) {
        CHECK(r.ok());
        ++sent;
      });
      if (i == 0) {
        for (std::size_t n = 0; n < net.nodes().size(); ++n)
          if (net.nodes()[n] && net.nodes()[n]->id() == guard) net.stop_node(n);
      }
    }
    REQUIRE(loop.run_until([&] { return sent == 10; }, std::chrono::seconds(90)));
    CHECK(alice.client->stats().store_retries > 0);

    bob.client->subscribe([&](const ReceivedMessage& m) { on_receive(bob, m); });
    REQUIRE(loop.run_until([&] { return bob.inbox.size() >= 11; }, std::chrono::seconds(30)));
    CHECK(bob.counts.size() == 11);
    alice.client->stop();
    bob.client->stop();
  }
  CHECK(loop.drain_and_close());
}

// The late-message tests: 6 nodes, Alice, and Bob (options tweaked)
// subscribed; Alice's first message has reached Bob and he has had a
// complete answer since, so his catch-up floor is past the messages these
// tests put behind it. `also` sees every message Bob receives, after
// on_receive.
struct LateSetup {
  TestNetwork net;
  Person alice, bob;
  std::function<void(const ReceivedMessage&)> also;

  LateSetup(TestLoop& loop, const std::function<void(ClientOptions&)>& tweak) : net(loop) {
    net.start_authorities(1);
    net.add_nodes(6);
    REQUIRE(loop.run_until([&] { return net.agree_on(6); }, std::chrono::seconds(15)));
    alice.client = start_client(loop, net.config(), net.dir() / "alice", "alice");
    bob.client = start_client(loop, net.config(), net.dir() / "bob", "bob", tweak);
    bob.client->subscribe([this](const ReceivedMessage& m) {
      on_receive(bob, m);
      if (also) also(m);
    });
    bool sent = false;
    alice.client->send(account(), as_bytes(std::string("first")), [&](auto r) {
      REQUIRE(r.ok());
      sent = true;
    });
    REQUIRE(loop.run_until([&] { return sent && bob.inbox.size() == 1; }, std::chrono::seconds(30)));
    loop.run_for(std::chrono::milliseconds(1500));  // a complete answer after it
  }
  client::AccountKey account() const { return bob.client->identity().account(); }
  // A message stamped 30 s ago (or at `timestamp_ms`), on every running
  // member of Bob's swarm; `fragments` as put_late_message.
  void put_late(const std::string& text, std::optional<std::uint64_t> timestamp_ms = {},
                std::uint16_t fragments = 1) {
    put_late_message(net, *alice.client, account(), text, timestamp_ms, fragments);
  }
  void stop() {
    alice.client->stop();
    bob.client->stop();
  }
};

TEST_CASE("a message that reaches the swarm late, stamped behind the cursor, arrives without a sweep",
          "[client]") {
  TestLoop loop;
  {
    LateSetup t(loop, [](ClientOptions& o) {
      o.poll_wait_ms = 1000;
      o.lookback = std::chrono::milliseconds(0);  // no sweeps
      o.catch_up = std::chrono::milliseconds(0);  // no floor below the last answer either
    });
    // A message stamped 30 s ago appears on every member now, as after a
    // healed partition: in timestamp order it sorts long before what Bob has
    // seen, but it arrived at the member after Bob's last answer.
    t.put_late("late");
    REQUIRE(loop.run_until([&] { return t.bob.inbox.size() == 2; }, std::chrono::seconds(20)));
    CHECK(t.bob.inbox[1] == "late");
    loop.run_for(std::chrono::milliseconds(2500));  // more polls: still only once
    CHECK(t.bob.counts["late"] == 1);
    CHECK(t.bob.client->stats().sweeps == 0);
    t.stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a lookback sweep that a failure interrupts goes on and finds a late message",
          "[client]") {
  TestLoop loop;
  {
    LateSetup t(loop, [](ClientOptions& o) {
      o.poll_wait_ms = 1000;
      o.request_timeout = std::chrono::milliseconds(2000);
      o.lookback = std::chrono::milliseconds(1000);
      o.sweep_attempts = 1000;  // the sweep must outlast the outage below
    });
    // Which sweep was running when the late message arrived (a sweep that
    // ends starts the next at once if one is due).
    const auto& stats = t.bob.client->stats();
    std::uint64_t sweep_of_late = 0;
    t.also = [&](const ReceivedMessage& m) {
      if (std::string(m.text.begin(), m.text.end()) == "late") sweep_of_late = stats.sweeps;
    };

    // Every node goes down: the next sweep starts and its first page fails,
    // and fails again when asked again.
    const auto sweeps_before = stats.sweeps;
    for (std::size_t i = 0; i < t.net.nodes().size(); ++i) t.net.stop_node(i);
    REQUIRE(loop.run_until([&] { return stats.sweeps > sweeps_before && stats.sweep_retries >= 2; },
                           std::chrono::seconds(30)));
    const auto interrupted = stats.sweeps;

    // The nodes come back, and a late message is on every member of Bob's
    // swarm: the interrupted sweep, going on (before any long poll), finds
    // it; no new sweep starts. Put before the loop runs again: the nodes
    // start from their saved directory, and the sweep cannot reach them
    // before the message is there.
    for (std::size_t i = 0; i < t.net.nodes().size(); ++i) t.net.restart_node(i);
    t.put_late("late");
    REQUIRE(loop.run_until([&] { return t.bob.counts["late"] == 1; }, std::chrono::seconds(60)));
    CHECK(sweep_of_late == interrupted);
    CHECK(stats.sweep_retries >= 2);
    t.stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("when the client's swarm loses a member, a late message on the others arrives without a sweep",
          "[client]") {
  TestLoop loop;
  {
    LateSetup t(loop, [](ClientOptions& o) {
      o.poll_wait_ms = 1000;
      o.request_timeout = std::chrono::milliseconds(2000);
      o.lookback = std::chrono::milliseconds(0);
    });
    // One node of the only swarm leaves (perhaps the one Bob polls); a
    // message stamped 30 s ago is on the others: Bob's next member answers
    // with it, either as what arrived since its last answer or, asked for
    // the first time, as stamped after his floor.
    t.net.stop_node(0);
    t.put_late("late");
    REQUIRE(loop.run_until([&] { return t.bob.counts["late"] == 1; }, std::chrono::seconds(30)));
    CHECK(t.bob.client->stats().sweeps == 0);
    t.stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a fragment whose siblings never come does not stop the client for good", "[client]") {
  TestLoop loop;
  {
    LateSetup t(loop, [](ClientOptions& o) {
      o.poll_wait_ms = 1000;
      o.lookback = std::chrono::milliseconds(0);
      o.retrieve_limit = 4;  // answers of 4: the client pages
    });
    // The first of two fragments, the second never stored (its send failed):
    // Bob takes it, and it can never complete.
    const std::uint64_t orphan_ms = unix_now_ms();
    t.put_late("orphan", orphan_ms, 2);
    loop.run_for(std::chrono::milliseconds(1500));
    // Ten messages through the network, more than one answer holds.
    int acked = 0;
    for (int i = 0; i < 10; ++i)
      t.alice.client->send(t.account(), as_bytes("message " + std::to_string(i)), [&](auto r) {
        REQUIRE(r.ok());
        ++acked;
      });
    REQUIRE(loop.run_until([&] { return acked == 10 && t.bob.inbox.size() == 11; },
                           std::chrono::seconds(30)));
    // A message that reaches the swarm late, stamped just after the orphan.
    t.put_late("late", orphan_ms + 1);
    const auto& st = t.bob.client->stats();
    INFO("Bob: " << st.retrieves << " retrieves, " << st.received << " received");
    REQUIRE(loop.run_until([&] { return t.bob.counts["late"] == 1; }, std::chrono::seconds(20)));
    CHECK(t.bob.counts.count("orphan") == 0);
    t.stop();
  }
  CHECK(loop.drain_and_close());
}
