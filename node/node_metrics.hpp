// The metrics of one Node: registers a collector for each of its stats in a
// MetricsRegistry (metrics.hpp), which nightjar-node serves at /metrics
// (http_server.hpp). Collectors read the Node's stats structs when a scrape
// asks, so the hot path pays nothing. Call after Node::start (the role's
// parts exist only then); the registry must not outlive the Node.
//
// Metric names and meanings are listed in docs/OPERATING.md ("Metrics");
// they are an interface for operators' dashboards, so rename nothing
// lightly. Service nodes get the relay, storage, store and replication
// families; authorities get the authority family; both get the rest.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "node/metrics.hpp"
#include "node/node.hpp"

namespace nightjar {

struct NodeMetricsOptions {
  // When the process started (uptime is measured from here).
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // Where time comes from, for tests.
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

void register_node_metrics(MetricsRegistry& registry, Node& node, NodeMetricsOptions options = {});

}  // namespace nightjar
