// Authorities and service nodes on loopback agree on one signed directory:
// one authority and 12 nodes; three authorities and 12 nodes; and three
// authorities with one stopped still publish. Epochs are 1 second; "within 3
// epochs" is checked in epoch numbers, not in wall time, and every wait is
// bounded.
#include <catch2/catch.hpp>

#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;

namespace {

// The epoch in which the network first agreed on `nodes` nodes, or 0 if it
// did not within `epochs` epochs (plus slack for slow machines).
std::uint64_t agreed_epoch(TestLoop& loop, TestNetwork& net, std::size_t nodes,
                           std::uint64_t start_epoch, std::uint64_t epochs) {
  const bool ok = loop.run_until([&] { return net.agree_on(nodes); },
                                 std::chrono::seconds(epochs + 10));
  if (!ok) return 0;
  const std::uint64_t e = net.newest_epoch();
  return e <= start_epoch + epochs ? e : 0;
}

std::uint64_t current_epoch() { return static_cast<std::uint64_t>(std::time(nullptr)); }

}  // namespace

TEST_CASE("one authority and 12 nodes agree on a directory within 3 epochs", "[directory]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(12);
    // Counted from the moment the nodes run (creating 12 stores takes a while
    // under the sanitizers).
    const std::uint64_t start = current_epoch();
    const std::uint64_t e = agreed_epoch(loop, net, 12, start, 3);
    INFO("started in epoch " << start << ", agreed in " << net.newest_epoch());
    REQUIRE(e != 0);

    auto d = net.nodes()[0]->directory().current();
    // 12 nodes with swarm sizes 5/7/10: two swarms, each within bounds.
    const auto swarms = d->swarms();
    REQUIRE(swarms.size() == 2);
    for (SwarmId s : swarms) {
      CHECK(d->members(s).size() >= 5);
      CHECK(d->members(s).size() <= 10);
    }
    CHECK(d->signatures.size() == 1);
    // Every node is listed with the address it listens on.
    for (const auto& n : net.nodes()) {
      const DirectoryEntry* entry = d->find(n->id());
      REQUIRE(entry != nullptr);
      CHECK(entry->node.address.to_string() == n->address().to_string());
      CHECK(entry->node.onion_keys.size() == 2);
    }
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("three authorities and 12 nodes agree, and two authorities go on without the third",
          "[directory]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(3);
    net.add_nodes(12);
    const std::uint64_t start = current_epoch();
    REQUIRE(agreed_epoch(loop, net, 12, start, 3) != 0);
    auto d = net.nodes()[0]->directory().current();
    CHECK(d->signatures.size() >= 2);

    // One authority down: the other two still publish newer directories.
    net.stop_authority(2);
    const std::uint64_t before = net.newest_epoch();
    REQUIRE(loop.run_until(
        [&] {
          for (const auto& n : net.nodes())
            if (n->directory().epoch() < before + 2) return false;
          return true;
        },
        std::chrono::seconds(12)));
    auto later = net.nodes()[0]->directory().current();
    CHECK(later->entries.size() == 12);
    CHECK(later->signatures.size() == 2);
    CHECK(net.agree_on(12));
  }
  CHECK(loop.drain_and_close());
}
