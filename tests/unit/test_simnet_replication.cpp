// The replication figure: the fraction of stored messages every member of
// their recipient's swarm holds.
#include <catch2/catch.hpp>

#include "simnet/sim_network.hpp"

using namespace nightjar;
using namespace nightjar::simnet;

namespace {

NodeId node_id(std::uint8_t b) {
  NodeId id;
  id.bytes.fill(b);
  return id;
}

MessageId msg(std::uint8_t b) {
  MessageId id;
  id.bytes.fill(b);
  return id;
}

// One swarm of three nodes (IDs 1, 2, 3).
Directory one_swarm() {
  Directory d;
  for (std::uint8_t b = 1; b <= 3; ++b) {
    DirectoryEntry e;
    e.node.id = node_id(b);
    e.swarm = 100;
    d.entries.push_back(e);
  }
  return d;
}

}  // namespace

TEST_CASE("replication is complete when every member holds every message",
          "[simnet-report][unit]") {
  const Directory d = one_swarm();
  const Ed25519PublicKey alice = node_id(9);
  HeldMessages full{{alice, {msg(1), msg(2)}}};
  const auto fig =
      replication_completeness(d, {node_id(1), node_id(2), node_id(3)}, {full, full, full});
  CHECK(fig.messages == 2);
  CHECK(fig.complete == 2);
  CHECK(fig.fraction() == 1.0);
}

TEST_CASE("a message missing on one member, or a member holding nothing, counts against",
          "[simnet-report][unit]") {
  const Directory d = one_swarm();
  const Ed25519PublicKey alice = node_id(9);
  HeldMessages both{{alice, {msg(1), msg(2)}}};
  HeldMessages first{{alice, {msg(1)}}};
  auto fig = replication_completeness(d, {node_id(1), node_id(2), node_id(3)}, {both, both, first});
  CHECK(fig.messages == 2);
  CHECK(fig.complete == 1);
  CHECK(fig.fraction() == 0.5);
  // Node 3 is not among those inspected (stopped): nothing is complete.
  fig = replication_completeness(d, {node_id(1), node_id(2)}, {both, both});
  CHECK(fig.complete == 0);
  // A holder outside the swarm adds the message to the total.
  HeldMessages extra{{alice, {msg(3)}}};
  fig = replication_completeness(d, {node_id(1), node_id(2), node_id(3), node_id(4)},
                                 {both, both, both, extra});
  CHECK(fig.messages == 3);
  CHECK(fig.complete == 2);
}

TEST_CASE("no messages at all is complete replication", "[simnet-report][unit]") {
  const auto fig = replication_completeness(one_swarm(), {}, {});
  CHECK(fig.messages == 0);
  CHECK(fig.fraction() == 1.0);
}

TEST_CASE("an acknowledged message no node holds counts against, where the stored figure cannot see it",
          "[simnet-report][unit]") {
  const Directory d = one_swarm();
  const Ed25519PublicKey alice = node_id(9);
  const std::vector<NodeId> ids = {node_id(1), node_id(2), node_id(3)};
  HeldMessages both{{alice, {msg(1), msg(2)}}};
  HeldMessages first{{alice, {msg(1)}}};
  // Message 3 was acknowledged and is gone; message 2 (two fragments: 2, 1)
  // is held by every member; message 4's fragments are 1 and 2, and node 3
  // lacks 2.
  const std::vector<AckedMessage> acked = {
      {alice, {msg(3)}}, {alice, {msg(2), msg(1)}}, {alice, {msg(1), msg(2)}}};
  CHECK(replication_completeness(d, ids, {both, both, both}).fraction() == 1.0);
  auto fig = acked_replication(d, ids, {both, both, both}, acked);
  CHECK(fig.messages == 3);
  CHECK(fig.complete == 2);
  CHECK(fig.held_nowhere == 1);
  fig = acked_replication(d, ids, {both, both, first}, acked);
  CHECK(fig.complete == 0);
  CHECK(fig.held_nowhere == 1);
  CHECK(acked_replication(d, ids, {both, both, both}, {}).fraction() == 1.0);
}
