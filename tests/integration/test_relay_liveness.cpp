// A relay whose next hop goes silent (a partition that leaves TCP up) while a
// long poll is parked at the destination: the relay's link notices within its
// liveness timeout and the relay answers the stranded cell with
// next_hop_unreachable, so the client learns in seconds rather than at its
// own timeout. Every relay's count of awaited replies goes back to zero.
#include <catch2/catch.hpp>
#include <chrono>

#include "tests/support/onion_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace std::chrono_literals;

namespace {

// Drops every frame to and from one peer while `cut` is set.
struct CutPolicy final : LinkFaults {
  std::optional<X25519PublicKey> peer;
  bool cut = false;
  FrameFate decide(FrameDirection, const std::optional<X25519PublicKey>& other, std::uint8_t) override {
    return FrameFate{cut && other && other == peer, 0ms};
  }
};

}  // namespace

TEST_CASE("a relay answers a cell stranded behind a silent next hop within its liveness timeout",
          "[onion][liveness][integration]") {
  TestLoop loop;
  {
    // Nodes 1 and 2 (relays 2 and 3) get a policy for the link between them,
    // on both ends; the default liveness check (1 s probes, 4 s timeout).
    auto at1 = std::make_shared<CutPolicy>(), at2 = std::make_shared<CutPolicy>();
    RelayNetwork net(loop, 4, RelayConfig{}, [&](std::size_t i, LinkConfig& link) {
      if (i == 1) link.faults = at1;
      if (i == 2) link.faults = at2;
    });
    at1->peer = net.nodes[2]->link_key->pub;
    at2->peer = net.nodes[1]->link_key->pub;

    auto& dest = *net.nodes[3];
    dest.hold = true;  // a parked long poll: no answer for now
    CellClient client(loop, *net.nodes[0]);
    client.send(1, net.build({0, 1, 2, 3}, "wait for mail"));
    REQUIRE(loop.run_until([&] { return dest.held.size() == 1; }));
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(net.nodes[i]->relay->awaiting_replies() == 1);

    // The link between relays 2 and 3 goes silent. Without the liveness check
    // the client would hear nothing until the relay table's 120 s TTL.
    at1->cut = at2->cut = true;
    const auto cut_at = std::chrono::steady_clock::now();
    REQUIRE(loop.run_until([&] { return !client.replies.empty(); }, 15s));
    const auto waited = std::chrono::steady_clock::now() - cut_at;
    INFO("relay error after "
         << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
    const auto& got = client.replies[0];
    CHECK(got.id == 1);
    CHECK(got.reply.kind == ReplyKind::relay_error);
    CHECK(got.reply.hop == 1);
    CHECK(got.reply.code == static_cast<std::uint8_t>(RelayErrorCode::next_hop_unreachable));
    CHECK(test::log_contains("peer silent while awaited"));
    CHECK(net.nodes[1]->relay->outgoing_links() == 0);  // the silent link was closed

    // The relays in front of the cut are done with the request.
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(net.nodes[i]->relay->entries() == 0);
      CHECK(net.nodes[i]->relay->awaiting_replies() == 0);
    }
    // Relay 3 still awaits the destination's answer; when it comes, it has
    // nowhere to go, and the wait ends there too.
    CHECK(net.nodes[2]->relay->awaiting_replies() == 1);
    REQUIRE(dest.held[0].reply(text("mail")));
    REQUIRE(loop.run_until([&] { return net.nodes[2]->relay->entries() == 0; }));
    CHECK(net.nodes[2]->relay->awaiting_replies() == 0);
    CHECK(client.replies.size() == 1);

    // The path heals: a new request gets through on a fresh link.
    at1->cut = at2->cut = false;
    dest.hold = false;
    client.send(2, net.build({0, 1, 2, 3}, "again"));
    REQUIRE(loop.run_until([&] { return client.replies.size() == 2; }));
    CHECK(client.replies[1].reply.data == text("re: again"));
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(net.nodes[i]->relay->awaiting_replies() == 0);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a relay waiting on a next hop that answers pings keeps the long poll",
          "[onion][liveness][integration]") {
  TestLoop loop;
  {
    // Short probes so that the test covers several liveness timeouts quickly.
    RelayNetwork net(loop, 4, RelayConfig{}, [](std::size_t, LinkConfig& link) {
      link.liveness_probe = 200ms;
      link.liveness_timeout = 1000ms;
    });
    auto& dest = *net.nodes[3];
    dest.hold = true;
    CellClient client(loop, *net.nodes[0]);
    client.send(1, net.build({0, 1, 2, 3}, "wait for mail"));
    REQUIRE(loop.run_until([&] { return dest.held.size() == 1; }));
    loop.run_for(3000ms);  // three liveness timeouts with no answer
    CHECK(client.replies.empty());
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(net.nodes[i]->relay->awaiting_replies() == 1);
    REQUIRE(dest.held[0].reply(text("mail")));
    REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
    CHECK(client.replies[0].reply.kind == ReplyKind::response);
    CHECK(client.replies[0].reply.data == text("mail"));
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(net.nodes[i]->relay->awaiting_replies() == 0);
  }
  CHECK(loop.drain_and_close());
}
