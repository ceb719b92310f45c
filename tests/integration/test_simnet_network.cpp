// The simnet's networks without clients: in-process nodes and nightjar-node
// processes start on loopback, every node gets listed, a killed node comes
// back from its data directory, and stopping collects every node's figures.
// Epochs are 1 s; every wait is bounded.
#include <catch2/catch.hpp>

#include "simnet/sim_network.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace nightjar::simnet;
using namespace std::chrono_literals;
using nightjar::test::TempDir;
using nightjar::test::TestLoop;

namespace {

NetworkSetup small_setup(const TempDir& dir, Mode mode) {
  NetworkSetup setup;
  setup.scenario.mode = mode;
  setup.scenario.nodes = 6;
  setup.scenario.swarm_min = 3;
  setup.scenario.swarm_ideal = 3;
  setup.scenario.swarm_max = 5;
  setup.scenario.epoch_seconds = 1;
  setup.run_dir = dir.path();
  setup.node_binary = NIGHTJAR_NODE_BINARY;
  setup.log = test::capture_logger("simnet");
  return setup;
}

// Kills node 2, waits until the directory drops it, restarts it, waits
// until it is listed again.
void kill_and_restart(TestLoop& loop, SimNetwork& net) {
  net.kill(2);
  CHECK_FALSE(net.nodes()[2].running);
  CHECK(net.running_count() == 5);
  REQUIRE(loop.run_until(
      [&] {
        auto d = net.directory();
        return d && !d->find(net.nodes()[2].id);
      },
      20s));
  REQUIRE(loop.run_until(
      [&] {
        auto r = net.restart(2);
        REQUIRE(r.ok());
        return *r;
      },
      10s));
  CHECK(net.nodes()[2].restarts == 1);
  REQUIRE(loop.run_until([&] { return net.ready(); }, 20s));
}

void stop(TestLoop& loop, SimNetwork& net) {
  bool stopped = false;
  net.stop([&] { stopped = true; });
  REQUIRE(loop.run_until([&] { return stopped; }, 20s));
  const auto reports = net.node_reports();
  REQUIRE(reports.size() == 6);
  CHECK(reports[0].name == "node0");
  CHECK(reports[2].restarts == 1);
  CHECK(net.held_messages().size() == 6);
}

}  // namespace

TEST_CASE("an in-process simnet network starts, survives a kill and stops",
          "[simnet][integration]") {
  TestLoop loop;
  TempDir dir("nightjar-simnet");
  {
    auto net = make_inproc_network(loop.get(), small_setup(dir, Mode::inproc));
    REQUIRE(net->start().ok());
    REQUIRE(loop.run_until([&] { return net->ready(); }, 20s));
    CHECK(net->directory()->entries.size() == 6);
    CHECK(net->index_of(net->nodes()[4].id) == 4u);
    CHECK(net->partition({0, 1}, 2s));
    net->heal();
    kill_and_restart(loop, *net);
    stop(loop, *net);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a process-mode simnet network runs nightjar-node processes and stops them",
          "[simnet][integration]") {
  TestLoop loop;
  TempDir dir("nightjar-simnet");
  {
    auto net = make_process_network(loop.get(), small_setup(dir, Mode::process));
    REQUIRE(net->start().ok());
    REQUIRE(loop.run_until([&] { return net->ready(); }, 30s));
    CHECK_FALSE(net->partition({0}, std::nullopt));  // not in process mode
    kill_and_restart(loop, *net);
    stop(loop, *net);
    for (const auto& n : net->nodes())
      CHECK(std::filesystem::exists(n.data_dir / "node.log"));
  }
  CHECK(loop.drain_and_close());
}
