// The message history and delivery states through real clients on a
// loopback network: a message to an online contact goes sending -> stored ->
// delivered (the recipient's delivery receipt); to an offline one it stays
// stored until the recipient comes online; a stranger sends no receipts;
// the history survives the client's restart.
#include <catch2/catch.hpp>

#include "client/client.hpp"
#include "tests/support/client_setup.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using nightjar::client::Client;
using nightjar::client::ClientOptions;
using nightjar::client::ConversationKey;
using nightjar::client::DeliveryState;
using nightjar::client::HistoryEntry;
using nightjar::client::ReceivedMessage;

namespace {

std::optional<DeliveryState> state_of(const Client& c, const ConversationKey& k, const std::string& text) {
  for (const auto& e : c.history().messages(k))
    if (e.outgoing && std::string(e.text.begin(), e.text.end()) == text) return e.state;
  return std::nullopt;
}

}  // namespace

TEST_CASE("sent messages reach delivered for an online contact and stay stored for an offline one",
          "[client][history]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    SystemRandom rng;
    const auto alice_seed = client::Identity::generate(rng).seed();
    std::vector<HistoryEntry> changes;
    auto alice_tweak = [&](ClientOptions& o) {
      o.on_delivery_state = [&](const HistoryEntry& e) { changes.push_back(e); };
    };
    auto alice = start_client_as(loop, net.config(), net.dir() / "alice", "alice", alice_seed, alice_tweak);
    auto bob = start_client(loop, net.config(), net.dir() / "bob", "bob");
    wait_for_bundle_published(loop, *bob);
    wait_for_bundle_published(loop, *alice);
    // Bob knows Alice: he sends her receipts.
    REQUIRE(bob->change_contacts([&](client::ContactBook& b) {
                  return b.add("alice", alice->identity().account(), 1);
                }).ok());
    std::vector<std::string> bob_got;
    bob->subscribe([&](const ReceivedMessage& m) { bob_got.emplace_back(m.text.begin(), m.text.end()); });
    alice->subscribe([](const ReceivedMessage&) {});
    const ConversationKey to_bob{false, bob->identity().account()};

    bool acked = false;
    alice->send(bob->identity().account(), as_bytes(std::string("while you are here")), [&](auto r) {
      REQUIRE(r.ok());
      acked = true;
    });
    // Recorded at once, as sending.
    CHECK(state_of(*alice, to_bob, "while you are here") == DeliveryState::sending);
    REQUIRE(loop.run_until([&] { return acked; }, std::chrono::seconds(15)));
    REQUIRE(loop.run_until([&] { return state_of(*alice, to_bob, "while you are here") == DeliveryState::delivered; },
                           std::chrono::seconds(15)));
    CHECK(bob_got == std::vector<std::string>{"while you are here"});
    REQUIRE(changes.size() >= 2);
    CHECK(changes.front().state == DeliveryState::stored);
    CHECK(changes.back().state == DeliveryState::delivered);
    CHECK(bob->stats().receipts_sent >= 1);

    // Bob goes offline: the next message is stored, and stays so.
    bob->unsubscribe();
    acked = false;
    alice->send(bob->identity().account(), as_bytes(std::string("while you are away")), [&](auto r) {
      REQUIRE(r.ok());
      acked = true;
    });
    REQUIRE(loop.run_until([&] { return acked; }, std::chrono::seconds(15)));
    loop.run_for(std::chrono::milliseconds(1500));
    CHECK(state_of(*alice, to_bob, "while you are away") == DeliveryState::stored);
    // Back online: delivered.
    bob->subscribe([&](const ReceivedMessage& m) { bob_got.emplace_back(m.text.begin(), m.text.end()); });
    REQUIRE(loop.run_until([&] { return state_of(*alice, to_bob, "while you are away") == DeliveryState::delivered; },
                           std::chrono::seconds(15)));

    // Bob's side: both received, in his history, from a contact (no request).
    const auto bob_side = bob->history().messages(ConversationKey{false, alice->identity().account()});
    REQUIRE(bob_side.size() == 2);
    CHECK_FALSE(bob_side[0].outgoing);
    CHECK(bob_side[0].state == DeliveryState::received);
    CHECK_FALSE(bob_side[1].request);

    // A stranger gets no receipt: Bob does not know Carol.
    auto carol = start_client(loop, net.config(), net.dir() / "carol", "carol");
    carol->subscribe([](const ReceivedMessage&) {});
    acked = false;
    carol->send(bob->identity().account(), as_bytes(std::string("hello stranger")), [&](auto r) {
      REQUIRE(r.ok());
      acked = true;
    });
    REQUIRE(loop.run_until([&] { return acked && bob_got.size() == 3; }, std::chrono::seconds(15)));
    loop.run_for(std::chrono::milliseconds(1500));
    CHECK(state_of(*carol, ConversationKey{false, bob->identity().account()}, "hello stranger") ==
          DeliveryState::stored);
    const auto request = bob->history().messages(ConversationKey{false, carol->identity().account()});
    REQUIRE(request.size() == 1);
    CHECK(request[0].request);

    // Alice's history survives a restart, states and all.
    alice->stop();
    loop.run_for(std::chrono::milliseconds(200));
    alice.reset();
    alice = start_client_as(loop, net.config(), net.dir() / "alice", "alice", alice_seed);
    const auto kept = alice->history().messages(to_bob);
    REQUIRE(kept.size() == 2);
    CHECK(kept[0].state == DeliveryState::delivered);
    CHECK(kept[1].state == DeliveryState::delivered);
    CHECK(std::string(kept[1].text.begin(), kept[1].text.end()) == "while you are away");
    alice->stop();
    bob->stop();
    carol->stop();
  }
  CHECK(loop.drain_and_close());
}
