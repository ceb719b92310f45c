#include "client/node_backoff.hpp"

#include <algorithm>
#include <limits>

namespace nightjar {

namespace {

std::uint64_t add_saturating(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

}  // namespace

std::uint64_t NodeBackoff::backoff_ms(std::uint32_t failures) const {
  if (failures == 0) return 0;
  std::uint64_t b = config_.base_ms;
  for (std::uint32_t i = 1; i < failures && b < config_.max_ms; ++i)
    b *= 2;
  return std::min(b, config_.max_ms);
}

bool NodeBackoff::report_failure(const NodeId& node, std::uint64_t now_ms) {
  NodeHealth& h = health_[node];
  if (h.failures > 0 && now_ms < h.avoid_until_ms) return false;
  if (h.failures == 0) h.first_failure_ms = now_ms;
  if (h.failures < std::numeric_limits<std::uint32_t>::max()) ++h.failures;
  h.last_failure_ms = std::max(h.last_failure_ms, now_ms);
  h.first_failure_ms = std::min(h.first_failure_ms, h.last_failure_ms);
  h.avoid_until_ms = add_saturating(now_ms, backoff_ms(h.failures));
  h.timeouts = 0;
  return true;
}

void NodeBackoff::report_timeout(const NodeId& node, std::uint64_t now_ms) {
  NodeHealth& h = health_[node];
  if (++h.timeouts < std::max<std::uint32_t>(config_.timeouts_per_failure, 1)) return;
  h.timeouts = 0;
  report_failure(node, now_ms);
}

void NodeBackoff::report_success(const NodeId& node, std::uint64_t now_ms) {
  health_.erase(node);
  last_success_ms_ = std::max(last_success_ms_, now_ms);
}

bool NodeBackoff::avoided(const NodeId& node, std::uint64_t now_ms) const {
  const NodeHealth* h = find(node);
  return h && h->failures > 0 && now_ms < h->avoid_until_ms;
}

const NodeHealth* NodeBackoff::find(const NodeId& node) const {
  auto it = health_.find(node);
  return it == health_.end() ? nullptr : &it->second;
}

void NodeBackoff::restore(const NodeId& node, std::uint32_t failures,
                          std::uint64_t first_failure_ms, std::uint64_t last_failure_ms) {
  if (failures == 0) {
    health_.erase(node);
    return;
  }
  NodeHealth& h = health_[node];
  h.failures = failures;
  h.first_failure_ms = std::min(first_failure_ms, last_failure_ms);
  h.last_failure_ms = last_failure_ms;
  h.avoid_until_ms = add_saturating(last_failure_ms, backoff_ms(failures));
  h.timeouts = 0;
}

void NodeBackoff::prune(const std::function<bool(const NodeId&)>& keep) {
  std::erase_if(health_, [&](const auto& kv) { return !keep(kv.first); });
}

}  // namespace nightjar
