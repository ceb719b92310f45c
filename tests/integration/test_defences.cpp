// The anonymity defences (docs/ANONYMITY.md) on real nodes and clients over
// loopback: relays hold cells for exponential mixing delays of the network's
// mean, never drawing past its bound; an idle client's cover traffic leaves
// at the network's rate, in cells of the network's cell size, and its loop
// cells come back; padded long polls answer at their pace with nothing to
// say. The network parameters reach every node and client through the
// directory, as in production.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "client/client.hpp"
#include "routing/frame.hpp"
#include "routing/link_session.hpp"
#include "tests/support/client_setup.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using nightjar::client::Client;
using nightjar::client::ClientOptions;

namespace {

std::size_t cell_frame_bytes(const NetworkParams& p) {
  return p.cell_bytes + onion_frame_header + LinkSession::frame_overhead;
}

// Counts what a client's links carry: frames out by size, frames in.
struct FrameCounter final : LinkObserver {
  std::size_t cell_bytes = 0;
  std::uint64_t cells_out = 0, other_large_out = 0, small_out = 0, cells_in = 0;
  bool counting = false;
  void frame(FrameDirection d, const std::optional<X25519PublicKey>&, std::size_t bytes) override {
    if (!counting) return;
    if (d == FrameDirection::in) {
      cells_in += bytes == cell_bytes;
      return;
    }
    if (bytes == cell_bytes)
      ++cells_out;
    else if (bytes >= 100)
      ++other_large_out;  // would tell a cover cell from a real one: must stay 0
    else
      ++small_out;  // link pings and pongs
  }
};

void start_network(TestLoop& loop, TestNetwork& net) {
  net.start_authorities(1);
  net.add_nodes(8);
  REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(20)));
}

}  // namespace

TEST_CASE("relays hold cells for mixing delays of the network's mean and never draw past its bound",
          "[integration][defences]") {
  constexpr double mean_ms = 20, bound_ms = 100;
  NetworkParams params = TestNetwork::small_params();
  params.defences.mix_delay_ms = static_cast<std::uint32_t>(mean_ms);
  params.defences.mix_delay_max_ms = static_cast<std::uint32_t>(bound_ms);
  TestLoop loop;
  TestNetwork net(loop, params);
  std::vector<double> drawn_ms, held_ms;
  net.customize = [&](const std::string&, NodeOptions& o) {
    o.relay.on_mix_released = [&](std::chrono::microseconds drawn, std::chrono::microseconds held) {
      drawn_ms.push_back(static_cast<double>(drawn.count()) / 1000);
      held_ms.push_back(static_cast<double>(held.count()) / 1000);
    };
  };
  start_network(loop, net);
  auto alice = start_client(loop, net.config(), net.dir() / "alice", "alice",
                            [](ClientOptions& o) { o.forward_secret = false; });
  auto bob = start_client(loop, net.config(), net.dir() / "bob", "bob",
                          [](ClientOptions& o) { o.publish_prekeys = false; });
  drawn_ms.clear();
  held_ms.clear();

  // Each store passes three relays each way: six delays per message. One
  // message every 10 ms, as a busy client sends: the loop keeps up, so the
  // time held is the delay drawn (a loop saturated by hundreds of sends at
  // once releases cells late, which this would measure too).
  constexpr int messages = 250;
  int acked = 0, failed = 0;
  for (int i = 0; i < messages; ++i) {
    const std::string text = "mixed " + std::to_string(i);
    alice->send(bob->identity().account(), as_bytes(text), [&](auto r) { ++(r ? acked : failed); });
    loop.run_for(std::chrono::milliseconds(10));
  }
  REQUIRE(loop.run_until([&] { return acked + failed == messages; }, std::chrono::seconds(60)));
  CHECK(failed == 0);
  REQUIRE(drawn_ms.size() >= 1000);

  double sum = 0, drawn_sum = 0, max_drawn = 0, max_late = 0;
  std::size_t below_median = 0, over_twice = 0;
  for (std::size_t i = 0; i < held_ms.size(); ++i) {
    sum += held_ms[i];
    drawn_sum += drawn_ms[i];
    max_drawn = std::max(max_drawn, drawn_ms[i]);
    max_late = std::max(max_late, held_ms[i] - drawn_ms[i]);
    below_median += drawn_ms[i] < mean_ms * std::log(2.0);
    over_twice += drawn_ms[i] > 2 * mean_ms;
  }
  const auto n = static_cast<double>(held_ms.size());
  INFO(held_ms.size() << " cells held, mean " << sum / n << " ms (drawn " << drawn_sum / n
                      << " ms), longest drawn " << max_drawn
                      << " ms, latest release " << max_late << " ms after its time");
  // The mean of an exponential cut at 5 means is 0.9933 of its mean.
  const double expected = mean_ms * (1 - std::exp(-bound_ms / mean_ms));
  CHECK(std::abs(sum / n - expected) <= 0.1 * expected);
  // The shape: half below the median (mean x ln 2), e^-2 over twice the mean.
  CHECK(std::abs(static_cast<double>(below_median) / n - 0.5) < 0.06);
  CHECK(std::abs(static_cast<double>(over_twice) / n - std::exp(-2.0)) < 0.05);
  CHECK(max_drawn <= bound_ms);
  // Released on time: the timer has millisecond resolution, so a cell leaves
  // within about a millisecond of its time unless the loop is busy (or the
  // machine is: the longest lateness is reported, not checked).
  std::vector<double> late;
  for (std::size_t i = 0; i < held_ms.size(); ++i) late.push_back(held_ms[i] - drawn_ms[i]);
  std::nth_element(late.begin(), late.begin() + static_cast<std::ptrdiff_t>(late.size() / 2), late.end());
  CHECK(late[late.size() / 2] < 3);
  CHECK(*std::min_element(late.begin(), late.end()) > -1.01);  // never over a millisecond early
  std::uint64_t released = 0;
  for (auto& node : net.nodes()) released += node->relay()->stats().mix_released;
  CHECK(released == drawn_ms.size());
}

TEST_CASE("an idle client's cover traffic leaves at the network's rate in cells of the cell size "
          "and its loops come back",
          "[integration][defences]") {
  constexpr double loop_rate = 10, drop_rate = 10;  // per second: 1,200 cells a minute
  NetworkParams params = TestNetwork::small_params();
  params.defences.loop_rate_millihertz = static_cast<std::uint32_t>(loop_rate * 1000);
  params.defences.drop_rate_millihertz = static_cast<std::uint32_t>(drop_rate * 1000);
  TestLoop loop;
  TestNetwork net(loop, params);
  start_network(loop, net);
  auto counter = std::make_shared<FrameCounter>();
  counter->cell_bytes = cell_frame_bytes(params);
  auto carol = start_client(loop, net.config(), net.dir() / "carol", "carol", [&](ClientOptions& o) {
    o.link_observer = counter;
    o.poll_wait_ms = 25'000;
    o.publish_prekeys = false;
  });
  carol->subscribe([](const client::ReceivedMessage&) {});
  counter->counting = true;
  const auto before = carol->stats();
  loop.run_for(std::chrono::seconds(60));
  carol->unsubscribe();
  const auto sent = carol->stats();
  counter->counting = false;
  loop.run_for(std::chrono::seconds(3));  // loops still on their way come back
  const auto after = carol->stats();

  const std::uint64_t cover = (sent.cover_loops - before.cover_loops) + (sent.cover_drops - before.cover_drops);
  INFO(cover << " cover cells in 60 s (" << sent.cover_loops - before.cover_loops << " loops), "
             << counter->cells_out << " cells out, " << counter->cells_in << " in");
  const double expected = (loop_rate + drop_rate) * 60;
  CHECK(std::abs(static_cast<double>(cover) - expected) <= 0.1 * expected);
  // Loops and drops in the proportion of their rates (binomial, 1,200 draws).
  CHECK(std::abs(static_cast<double>(sent.cover_loops - before.cover_loops) / static_cast<double>(cover) -
                 loop_rate / (loop_rate + drop_rate)) < 0.06);
  // Every cover cell went out as a cell of the network's size; the only
  // other cells are the client's own polls. Nothing else of size.
  CHECK(counter->cells_out >= cover);
  CHECK(counter->cells_out <= cover + (sent.retrieves - before.retrieves) + 5);
  CHECK(counter->other_large_out == 0);
  CHECK(after.cover_failed == before.cover_failed);
  CHECK(after.cover_loops_returned - before.cover_loops_returned ==
        sent.cover_loops - before.cover_loops);
  std::uint64_t loops_seen = 0, drops_seen = 0;
  for (auto& node : net.nodes()) {
    loops_seen += node->storage()->stats().cover_loops;
    drops_seen += node->storage()->stats().cover_drops;
  }
  CHECK(loops_seen == after.cover_loops);
  CHECK(drops_seen == after.cover_drops);
}

TEST_CASE("a padded long poll answers at its pace with nothing to say and still delivers",
          "[integration][defences]") {
  NetworkParams params = TestNetwork::small_params();
  params.defences.poll_padding_ms = 200;
  TestLoop loop;
  TestNetwork net(loop, params);
  start_network(loop, net);
  auto dave = start_client(loop, net.config(), net.dir() / "dave", "dave", [](ClientOptions& o) {
    o.poll_wait_ms = 25'000;
    o.publish_prekeys = false;
  });
  auto erin = start_client(loop, net.config(), net.dir() / "erin", "erin",
                           [](ClientOptions& o) { o.forward_secret = false; });
  std::vector<std::string> got;
  dave->subscribe([&](const client::ReceivedMessage& m) { got.emplace_back(m.text.begin(), m.text.end()); });
  REQUIRE(loop.run_until([&] { return dave->stats().poll_segments > 0; }, std::chrono::seconds(10)));
  const auto before = dave->stats();
  loop.run_for(std::chrono::seconds(5));
  const auto idle = dave->stats();
  // 5 s at one answer per 200 ms, all empty.
  const auto segments = idle.poll_segments - before.poll_segments;
  INFO(segments << " segments in 5 s");
  CHECK(segments >= 20);
  CHECK(segments <= 27);
  CHECK(got.empty());
  bool acked = false;
  erin->send(dave->identity().account(), as_bytes(std::string("padded")), [&](auto r) { acked = r.ok(); });
  REQUIRE(loop.run_until([&] { return !got.empty(); }, std::chrono::seconds(10)));
  CHECK(acked);
  CHECK(got == std::vector<std::string>{"padded"});
  std::uint64_t padding = 0;
  for (auto& node : net.nodes()) padding += node->storage()->stats().padding_segments;
  CHECK(padding >= 20);
}
