// A node's per-link rate limit on real links: a client that sends more onion
// cells than its link's budget gets "overloaded" relay errors from the first
// hop for the excess (within the refusal budget), the cells within budget are
// answered normally, and the node counts what it refused and dropped.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
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

TEST_CASE("node rate limit: cells over a client link's budget are refused as overloaded",
          "[integration][rate_limit]") {
  TestLoop loop;
  TestNetwork net(loop);
  net.start_authorities(1);
  net.add_nodes(4);

  // One more node, with a tiny budget for client links: 2 cells at once, 2
  // refusals, 1 more of each per second.
  NodeOptions o;
  o.data_dir = net.dir().path() / "limited";
  o.network = net.config();
  o.listen = *Endpoint::parse("127.0.0.1:0");
  o.log = capture_logger("limited");
  o.rate_limits.client = RateLimit{1, 2};
  auto created = Node::create(loop.get(), std::move(o));
  REQUIRE(created.ok());
  std::unique_ptr<Node> limited = std::move(*created);
  REQUIRE(limited->start().ok());
  REQUIRE(loop.run_until(
      [&] {
        auto d = limited->directory().current();
        return d && d->entries.size() == 5 && net.agree_on(5);
      },
      20s));

  SystemRandom rng;
  OnionClientConfig cc;
  cc.link.prologue.assign(net.config().network_id.bytes.begin(),
                          net.config().network_id.bytes.end());
  cc.timeout = 2s;
  cc.log = capture_logger("client");
  OnionClient client(loop.get(), cc, rng);
  client.set_directory(limited->directory().current());

  const std::vector<NodeId> relays = {limited->id(), net.nodes()[0]->id(), net.nodes()[1]->id()};
  const NodeId destination = net.nodes()[2]->id();
  const auto request = storage::encode(storage::Request{storage::InfoRequest{}});
  constexpr int sent = 6;
  int answered = 0, overloaded = 0, other = 0, done = 0;
  for (int i = 0; i < sent; ++i) {
    client.send(relays, destination, request, [&](auto r) {
      ++done;
      if (r)
        ++answered;
      else if (r.error().error == RequestError::relay_error && r.error().failed_hop == 0 &&
               r.error().relay_code == static_cast<std::uint8_t>(RelayErrorCode::overloaded))
        ++overloaded;
      else
        ++other;
    });
  }
  REQUIRE(loop.run_until([&] { return done == sent; }, 10s));
  // Within budget: answered. Over it: refused while the refusal budget
  // lasts, then dropped (those time out). A token earned while the cells
  // were in flight can move one cell up a class, never below.
  CHECK(answered >= 2);
  CHECK(overloaded >= 1);
  CHECK(answered + overloaded + other == sent);
  const RateLimitStats& s = limited->rate_limit_stats();
  CHECK(s.cells_refused == static_cast<std::uint64_t>(overloaded));
  CHECK(s.cells_refused + s.cells_dropped + static_cast<std::uint64_t>(answered) ==
        static_cast<std::uint64_t>(sent));
  CHECK(s.frames_dropped == 0);
  // Other nodes' links to it (peers) were not limited: the network still works.
  // (Polled: at an epoch boundary the members adopt the next directory one by one.)
  CHECK(loop.run_until([&] { return net.agree_on(5); }, 5s));

  client.close();
  limited->stop();
  loop.run_for(50ms);
}
