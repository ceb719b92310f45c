// The faults in force during an in-process run, and the LinkFaults policy
// (routing/link_faults.hpp) each in-process node's links consult. The runner
// changes FaultState as the fault schedule says (partitions, link latency and
// loss per node); every node's SimLinkFaults reads it for each frame.
//
// Which frames a node's policy judges, so that each frame is judged once:
// every frame it receives (from nodes and clients) and every frame it sends
// to a client (clients have no policy of their own). Authorities get no
// policy: faults are for the service nodes.
//
// A frame between two service nodes on different sides of a partition is
// held back until the partition heals, as TCP would hold it: a connection
// across a partition delivers its bytes late, or dies; it never loses a
// frame and carries on. A link that closes meanwhile (a liveness check that
// gives up on a silent peer, a node that stops) loses what it held. (An
// earlier model dropped such frames on links that stayed open, which no TCP
// connection does; it lost, for example, a relay's error reply for good
// while the link it was sent on survived the partition.) Latency and loss
// apply when either end of a node-to-node frame has link faults on (or the
// node, for client frames): the larger latency, each end's loss in turn
// (loss drops the frame: a harsher model than TCP's retransmissions).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "node/peer_links.hpp"
#include "routing/link_faults.hpp"
#include "simnet/workload.hpp"

namespace nightjar::simnet {

struct NodeLinkFaults {
  double latency_ms = 0;
  double jitter_ms = 0;
  double loss = 0;
  bool active() const { return latency_ms > 0 || jitter_ms > 0 || loss > 0; }
};

class FaultState {
 public:
  FaultState(std::size_t nodes, std::uint64_t seed);

  // Node `index` has this link key (set at creation; kept across restarts).
  void set_link_key(std::size_t index, const X25519PublicKey& key);
  std::optional<std::size_t> node_of(const X25519PublicKey& key) const;

  // Cuts `side` off from every other service node until `lasts` from now
  // (nullopt: until heal()); replaces any partition.
  void partition(const std::vector<std::size_t>& side,
                 std::optional<std::chrono::milliseconds> lasts = std::nullopt);
  void heal();
  bool partitioned(std::size_t a, std::size_t b) const;

  void set_link_faults(std::size_t node, NodeLinkFaults f);
  const NodeLinkFaults& link_faults(std::size_t node) const { return links_.at(node); }

  // The fate of a frame at node `self`, whose peer is node `peer` (nullopt:
  // a client).
  FrameFate judge(std::size_t self, std::optional<std::size_t> peer);

  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t delayed() const { return delayed_; }
  std::uint64_t held() const { return held_; }  // frames held back by a partition

 private:
  std::vector<int> side_;  // 1: cut off
  std::chrono::steady_clock::time_point heal_at_;
  std::vector<NodeLinkFaults> links_;
  std::unordered_map<X25519PublicKey, std::size_t, LinkKeyHash> by_key_;
  SimRandom rng_;
  std::uint64_t dropped_ = 0, delayed_ = 0, held_ = 0;
};

class SimLinkFaults final : public LinkFaults {
 public:
  SimLinkFaults(std::shared_ptr<FaultState> state, std::size_t self)
      : state_(std::move(state)), self_(self) {}
  FrameFate decide(FrameDirection direction, const std::optional<X25519PublicKey>& peer,
                   std::uint8_t frame_type) override;

 private:
  std::shared_ptr<FaultState> state_;
  std::size_t self_;
};

}  // namespace nightjar::simnet
