#include "simnet/sim_faults.hpp"

#include <algorithm>
#include <cmath>

namespace nightjar::simnet {

namespace {
constexpr std::uint64_t stream_links = 4;
}

FaultState::FaultState(std::size_t nodes, std::uint64_t seed)
    : side_(nodes, 0), links_(nodes), rng_(seed, stream_links) {}

void FaultState::set_link_key(std::size_t index, const X25519PublicKey& key) {
  by_key_[key] = index;
}

std::optional<std::size_t> FaultState::node_of(const X25519PublicKey& key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

void FaultState::partition(const std::vector<std::size_t>& side,
                           std::optional<std::chrono::milliseconds> lasts) {
  // "Until heal()": an hour is longer than any run holds a frame.
  heal_at_ = std::chrono::steady_clock::now() + lasts.value_or(std::chrono::hours(1));
  std::fill(side_.begin(), side_.end(), 0);
  for (auto i : side)
    if (i < side_.size()) side_[i] = 1;
}

void FaultState::heal() {
  std::fill(side_.begin(), side_.end(), 0);
}

bool FaultState::partitioned(std::size_t a, std::size_t b) const {
  return a < side_.size() && b < side_.size() && side_[a] != side_[b];
}

void FaultState::set_link_faults(std::size_t node, NodeLinkFaults f) {
  if (node < links_.size()) links_[node] = f;
}

FrameFate FaultState::judge(std::size_t self, std::optional<std::size_t> peer) {
  FrameFate fate;
  if (peer && partitioned(self, *peer)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        heal_at_ - std::chrono::steady_clock::now());
    fate.delay = std::max(left, std::chrono::milliseconds(1));
    ++held_;
    return fate;
  }
  double latency = 0;
  for (std::optional<std::size_t> end : {std::optional<std::size_t>(self), peer}) {
    if (!end || *end >= links_.size()) continue;
    const NodeLinkFaults& f = links_[*end];
    if (!f.active()) continue;
    if (f.loss > 0 && rng_.uniform() < f.loss) {
      fate.drop = true;
      ++dropped_;
      return fate;
    }
    const double l = f.latency_ms + (f.jitter_ms > 0 ? rng_.uniform() * f.jitter_ms : 0);
    latency = std::max(latency, l);
  }
  if (latency > 0) {
    fate.delay = std::chrono::milliseconds(static_cast<std::int64_t>(std::lround(latency)));
    if (fate.delay.count() > 0) ++delayed_;
  }
  return fate;
}

FrameFate SimLinkFaults::decide(FrameDirection direction,
                                const std::optional<X25519PublicKey>& peer, std::uint8_t) {
  std::optional<std::size_t> peer_node;
  if (peer) {
    peer_node = state_->node_of(*peer);
    // A node's link to something that is neither a service node nor a
    // client (an authority): not faulted.
    if (!peer_node) return {};
  }
  // Node-to-node frames are judged where they arrive; frames to clients
  // where they leave.
  if (direction == FrameDirection::out && peer) return {};
  return state_->judge(self_, peer_node);
}

}  // namespace nightjar::simnet
