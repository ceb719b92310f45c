// Delivery to online recipients without lookback sweeps (they are off in
// every test here): bursts of messages from many senders at once, whose
// replicas reach the polled member in any order, arrive exactly once.
// Real nodes on loopback, real RocksDB stores, real onion paths.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "client/client.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using nightjar::client::Client;
using nightjar::client::ClientOptions;
using nightjar::client::Identity;
using nightjar::client::ReceivedMessage;

namespace {

std::unique_ptr<Client> started_client(TestLoop& loop, const NetworkConfig& network,
                                       const std::filesystem::path& profile,
                                       const std::string& name) {
  ClientOptions o;
  o.network = network;
  o.profile_dir = profile;
  o.poll_wait_ms = 5000;
  o.request_timeout = std::chrono::milliseconds(4000);
  o.lookback = std::chrono::milliseconds(0);  // no sweeps: delivery must not need them
  o.log = capture_logger(name);
  SystemRandom rng;
  auto c = std::make_unique<Client>(loop.get(), o, Identity::generate(rng));
  bool ready = false;
  c->start([&](Result<void, std::string> r) {
    REQUIRE(r.ok());
    ready = true;
  });
  REQUIRE(loop.run_until([&] { return ready; }, std::chrono::seconds(20)));
  return c;
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
