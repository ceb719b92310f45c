// Forward-secret (version 2) messages between real clients on a loopback
// network: by default between accounts that publish prekey bundles, version
// 1 to one that does not; long messages in fragments; conversations that
// survive a restart; and a side that lost its conversations recovers with a
// new start, telling its user.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "tests/support/client_setup.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using nightjar::client::Client;
using nightjar::client::ClientOptions;
using nightjar::client::ReceivedMessage;
using nightjar::client::SendReceipt;

namespace {

struct Inbox {
  std::vector<ReceivedMessage> messages;
  void attach(Client& c) {
    c.subscribe([this](const ReceivedMessage& m) { messages.push_back(m); });
  }
  bool has(const std::string& text) const {
    for (const auto& m : messages)
      if (std::string(m.text.begin(), m.text.end()) == text) return true;
    return false;
  }
  const ReceivedMessage* find(const std::string& text) const {
    for (const auto& m : messages)
      if (std::string(m.text.begin(), m.text.end()) == text) return &m;
    return nullptr;
  }
};

SendReceipt send(TestLoop& loop, Client& from, const Client& to, const std::string& text) {
  std::optional<Result<SendReceipt, client::SendFailure>> got;
  from.send(to.identity().account(), as_bytes(text), [&](auto r) { got = std::move(r); });
  REQUIRE(loop.run_until([&] { return got.has_value(); }, std::chrono::seconds(60)));
  if (!*got) FAIL("send failed: " << got->error().detail);
  return got->value();
}

void arrives(TestLoop& loop, const Inbox& inbox, const std::string& text) {
  INFO("waiting for " << text);
  REQUIRE(loop.run_until([&] { return inbox.has(text); }, std::chrono::seconds(30)));
}

}  // namespace

TEST_CASE("clients exchange forward-secret messages by default, and version 1 reaches an account "
          "without a bundle",
          "[client][forward-secret]") {
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
    wait_for_bundle_published(loop, *alice);
    wait_for_bundle_published(loop, *bob);
    Inbox at_alice, at_bob, at_carol;
    at_alice.attach(*alice);
    at_bob.attach(*bob);
    at_carol.attach(*carol);

    CHECK(send(loop, *alice, *bob, "hello Bob").forward_secret);
    arrives(loop, at_bob, "hello Bob");
    CHECK(at_bob.find("hello Bob")->forward_secret);
    CHECK(at_bob.find("hello Bob")->sender == alice->identity().account());
    CHECK(send(loop, *bob, *alice, "hello Alice").forward_secret);
    arrives(loop, at_alice, "hello Alice");
    CHECK(at_alice.find("hello Alice")->forward_secret);

    // A long message: fragments of version 2 envelopes, put together.
    std::string long_text(3000, 'x');
    for (std::size_t i = 0; i < long_text.size(); ++i) long_text[i] = static_cast<char>('a' + i % 26);
    const auto receipt = send(loop, *alice, *bob, long_text);
    CHECK(receipt.forward_secret);
    CHECK(receipt.fragments > 1);
    arrives(loop, at_bob, long_text);

    // Carol publishes no bundle: version 1, and the receipt says so.
    CHECK_FALSE(send(loop, *alice, *carol, "hello Carol").forward_secret);
    arrives(loop, at_carol, "hello Carol");
    CHECK_FALSE(at_carol.find("hello Carol")->forward_secret);
    // Carol writes back to Alice, who has a bundle: forward-secret.
    CHECK(send(loop, *carol, *alice, "hi from Carol").forward_secret);
    arrives(loop, at_alice, "hi from Carol");

    for (auto* c : {alice.get(), bob.get(), carol.get()}) c->stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a conversation goes on after a restart, and a side that lost it starts again and says so",
          "[client][forward-secret]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    SystemRandom rng;
    const auto bob_seed = client::Identity::generate(rng).seed();
    const auto bob_profile = net.dir() / "bob";
    std::vector<std::string> bob_notices;
    auto bob_options = [&](ClientOptions& o) {
      o.on_notice = [&](const std::string& text) { bob_notices.push_back(text); };
    };
    auto alice = start_client(loop, net.config(), net.dir() / "alice", "alice");
    auto bob = start_client_as(loop, net.config(), bob_profile, "bob", bob_seed, bob_options);
    wait_for_bundle_published(loop, *alice);
    wait_for_bundle_published(loop, *bob);
    Inbox at_alice;
    at_alice.attach(*alice);
    auto at_bob = std::make_unique<Inbox>();
    at_bob->attach(*bob);
    send(loop, *alice, *bob, "one");
    arrives(loop, *at_bob, "one");
    send(loop, *bob, *alice, "two");
    arrives(loop, at_alice, "two");

    // Bob restarts: his conversation comes back from the profile.
    bob->stop();
    bob = start_client_as(loop, net.config(), bob_profile, "bob-again", bob_seed, bob_options);
    at_bob = std::make_unique<Inbox>();
    at_bob->attach(*bob);
    CHECK(send(loop, *alice, *bob, "three").forward_secret);
    arrives(loop, *at_bob, "three");
    CHECK(send(loop, *bob, *alice, "four").forward_secret);
    arrives(loop, at_alice, "four");
    CHECK(bob_notices.empty());

    // Bob loses his conversations (but keeps his identity and prekeys).
    bob->stop();
    std::filesystem::remove_all(bob_profile / "conversations");
    bob = start_client_as(loop, net.config(), bob_profile, "bob-lost", bob_seed, bob_options);
    at_bob = std::make_unique<Inbox>();
    at_bob->attach(*bob);
    // Alice's next message cannot open at Bob: he is told, and starts anew.
    send(loop, *alice, *bob, "five (lost)");
    REQUIRE(loop.run_until([&] { return !bob_notices.empty(); }, std::chrono::seconds(30)));
    CHECK_THAT(bob_notices.front(), Catch::Contains("starting a new one"));
    // Once Alice has read Bob's new start, her messages open again.
    bool recovered = false;
    for (int attempt = 0; attempt < 20 && !recovered; ++attempt) {
      const std::string text = "after the restart " + std::to_string(attempt);
      send(loop, *alice, *bob, text);
      recovered = loop.run_until([&] { return at_bob->has(text); }, std::chrono::seconds(3));
    }
    CHECK(recovered);
    CHECK_FALSE(at_bob->has("five (lost)"));
    for (auto* c : {alice.get(), bob.get()}) c->stop();
  }
  CHECK(loop.drain_and_close());
}
