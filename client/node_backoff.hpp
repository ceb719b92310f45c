// NodeBackoff: which nodes a client should avoid for a while because requests
// through them failed. PathSelector keeps one and asks it, for every hop, whether
// a node is in backoff; the client library feeds it through PathSelector's
// report_* functions. Pure bookkeeping: times are passed in (unix ms).
//
// Policy (docs/PATHS.md, "Failure avoidance"):
//  - A failure puts a node in backoff for base_ms * 2^(failures - 1), capped
//    at max_ms (30 s, 1 min, 2 min, ... 10 min by default).
//  - A failure reported while the node is already in backoff is not counted:
//    it is almost always another request that was in flight when the first
//    one failed, and counting it would turn one outage into many failures.
//  - A success forgets the node's failures at once.
//  - A timeout names no node; each node of the timed-out path gets a
//    suspicion, and timeouts_per_failure suspicions since the node's last
//    success count as one failure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "swarm/swarm_ring.hpp"

namespace nightjar {

struct BackoffConfig {
  std::uint64_t base_ms = 30'000;
  std::uint64_t max_ms = 600'000;
  std::uint32_t timeouts_per_failure = 2;
};

struct NodeHealth {
  std::uint32_t failures = 0;  // counted failures since the last success
  std::uint64_t first_failure_ms = 0;
  std::uint64_t last_failure_ms = 0;
  std::uint64_t avoid_until_ms = 0;
  std::uint32_t timeouts = 0;  // suspicions not yet turned into a failure
};

class NodeBackoff {
 public:
  explicit NodeBackoff(BackoffConfig config) : config_(config) {}

  // Returns whether the failure was counted (the node was not in backoff).
  bool report_failure(const NodeId& node, std::uint64_t now_ms);
  void report_timeout(const NodeId& node, std::uint64_t now_ms);
  void report_success(const NodeId& node, std::uint64_t now_ms);

  bool avoided(const NodeId& node, std::uint64_t now_ms) const;
  // Null when the node has neither failures nor suspicions.
  const NodeHealth* find(const NodeId& node) const;
  // Sets a node's failure streak as saved earlier (failures 0 forgets it);
  // the backoff is recomputed from last_failure_ms.
  void restore(const NodeId& node, std::uint32_t failures, std::uint64_t first_failure_ms,
               std::uint64_t last_failure_ms);
  // Forgets every node for which keep() is false (nodes gone from the
  // directory), so memory stays bounded by the directory's size.
  void prune(const std::function<bool(const NodeId&)>& keep);

  // The backoff after `failures` counted failures.
  std::uint64_t backoff_ms(std::uint32_t failures) const;
  // When any node last succeeded (0: never): evidence that the client's own
  // connection works.
  std::uint64_t last_success_ms() const { return last_success_ms_; }
  std::size_t size() const { return health_.size(); }

 private:
  BackoffConfig config_;
  std::map<NodeId, NodeHealth, NodeIdLess> health_;
  std::uint64_t last_success_ms_ = 0;
};

}  // namespace nightjar
