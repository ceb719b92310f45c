// OnionClient with a guard that goes silent (a partition that leaves the TCP
// connection up): requests pending on the guard link fail with link_failed
// within the link's liveness timeout instead of waiting out their own
// timeouts, and the client's next request dials the guard afresh. A guard
// link with nothing pending is not probed, however long it is silent.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "client/onion_client.hpp"
#include "node/node.hpp"
#include "routing/random_source.hpp"
#include "swarm/storage_messages.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/test_network.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace std::chrono_literals;

namespace {

// Drops every frame, both ways, while `silent` is set.
struct SilencePolicy final : LinkFaults {
  bool silent = false;
  FrameFate decide(FrameDirection, const std::optional<X25519PublicKey>&, std::uint8_t) override {
    return FrameFate{silent, 0ms};
  }
};

}  // namespace

TEST_CASE("a client whose guard goes silent fails its pending requests within seconds",
          "[client][liveness][integration]") {
  TestLoop loop;
  TestNetwork net(loop);
  net.start_authorities(1);
  net.add_nodes(4);
  REQUIRE(loop.run_until([&] { return net.agree_on(4); }, 20s));

  auto silence = std::make_shared<SilencePolicy>();
  SystemRandom rng;
  OnionClientConfig cc;
  cc.link.prologue.assign(net.config().network_id.bytes.begin(),
                          net.config().network_id.bytes.end());
  cc.link.faults = silence;  // the default liveness check: 1 s probes, 4 s timeout
  cc.log = capture_logger("client");
  OnionClient client(loop.get(), cc, rng);
  client.set_directory(net.nodes()[0]->directory().current());

  const std::vector<NodeId> relays = {net.nodes()[0]->id(), net.nodes()[1]->id(),
                                      net.nodes()[2]->id()};
  const NodeId destination = net.nodes()[3]->id();
  const auto request = storage::encode(storage::Request{storage::InfoRequest{}});
  std::optional<Result<std::vector<std::uint8_t>, RequestFailure>> answer;
  auto ask = [&](std::chrono::milliseconds timeout) {
    answer.reset();
    client.send(
        relays, destination, request, [&](auto r) { answer = std::move(r); }, timeout);
  };

  // The path works.
  ask(10s);
  REQUIRE(loop.run_until([&] { return answer.has_value(); }, 15s));
  REQUIRE(answer->ok());

  // The guard goes silent. With nothing pending, the guard link is not
  // probed and stays open.
  silence->silent = true;
  loop.run_for(6000ms);  // one and a half liveness timeouts
  CHECK_FALSE(test::log_contains("peer silent while awaited"));

  // A request now gets no answer. Its own timeout is 30 s; the guard link's
  // liveness check fails it in about 4 s.
  ask(30s);
  const auto sent_at = std::chrono::steady_clock::now();
  REQUIRE(loop.run_until([&] { return answer.has_value(); }, 15s));
  INFO("failed after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - sent_at)
                              .count()
                       << " ms");
  REQUIRE_FALSE(answer->ok());
  CHECK(answer->error().error == RequestError::link_failed);
  CHECK(answer->error().failed_hop == 0);
  CHECK(answer->error().failed_node == relays[0]);
  CHECK(client.in_flight() == 0);
  CHECK(test::log_contains("peer silent while awaited"));

  // The partition heals: the next request dials the guard again.
  silence->silent = false;
  ask(10s);
  REQUIRE(loop.run_until([&] { return answer.has_value(); }, 15s));
  CHECK(answer->ok());

  client.close();
  loop.run_for(50ms);
}
