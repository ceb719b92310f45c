#include "client/path_selector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "client/onion_client.hpp"

namespace nightjar {

const char* to_string(PathError e) {
  switch (e) {
    case PathError::no_directory:
      return "no directory yet";
    case PathError::unknown_swarm:
      return "the swarm has no usable member";
    case PathError::unknown_destination:
      return "the destination is not in the directory or has no live onion key";
    case PathError::too_few_nodes:
      return "too few usable nodes in the directory for a path";
  }
  return "unknown path error";
}

std::uint64_t network_prefix(const Endpoint& e) {
  const Bytes ip = e.ip_bytes();
  auto be = [&](std::size_t from, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = from; i < from + n; ++i)
      v = (v << 8) | ip[i];
    return v;
  };
  if (ip.size() == 4) return (std::uint64_t{4} << 32) | be(0, 2);
  if (ip.size() != 16) return 0;
  const bool v4_mapped = std::all_of(ip.begin(), ip.begin() + 10, [](auto b) { return b == 0; }) &&
                         ip[10] == 0xff && ip[11] == 0xff;
  if (v4_mapped) return (std::uint64_t{4} << 32) | be(12, 2);
  return (std::uint64_t{6} << 32) | be(0, 4);
}

double relay_choice_entropy_bits(const UseCounts& counts) {
  double total = 0;
  for (const auto& [node, n] : counts)
    total += static_cast<double>(n);
  if (total == 0) return 0;
  double h = 0;
  for (const auto& [node, n] : counts) {
    if (n == 0) continue;
    const double p = static_cast<double>(n) / total;
    h -= p * std::log2(p);
  }
  return h;
}

PathSelector::PathSelector(PathConfig config, RandomSource& rng)
    : config_(config), rng_(rng), backoff_(config.backoff) {
  if (config_.relays == 0 || config_.min_relays == 0 || config_.min_relays > config_.relays)
    throw std::invalid_argument("path config: need 1 <= min_relays <= relays");
  // The guard state text holds at most max_guard_state_guards guards, and
  // every guard, backups included, must survive a restart.
  if (config_.guard_count == 0 || config_.guard_count > max_guard_state_guards ||
      config_.backup_guards > max_guard_state_guards - config_.guard_count)
    throw std::invalid_argument(
        "path config: need 1 <= guard_count and guard_count + backup_guards <= " +
        std::to_string(max_guard_state_guards));
  if (config_.backoff.base_ms == 0 || config_.backoff.max_ms < config_.backoff.base_ms)
    throw std::invalid_argument("path config: need 0 < backoff base <= backoff max");
}

std::size_t PathSelector::uniform(std::size_t n) {
  // Rejection sampling (as arc4random_uniform): values below 2^64 mod n would
  // make the low residues more likely.
  const std::uint64_t range = n;
  const std::uint64_t reject_below = (0 - range) % range;
  std::uint64_t x = 0;
  for (int attempt = 0; attempt < 64; ++attempt) {  // one retry in 2^64/n
    std::uint8_t b[8];
    rng_.fill(b);
    x = 0;
    for (std::uint8_t byte : b)
      x = (x << 8) | byte;
    if (x >= reject_below) break;
  }
  return static_cast<std::size_t>(x % range);
}

const PathSelector::Candidate* PathSelector::candidate(const NodeId& id) const {
  auto it = std::lower_bound(
      nodes_.begin(), nodes_.end(), id,
      [](const Candidate& c, const NodeId& k) { return NodeIdLess{}(c.entry->node.id, k); });
  return it != nodes_.end() && it->entry->node.id == id ? &*it : nullptr;
}

bool PathSelector::usable(const Candidate& c, std::uint64_t now_ms) const {
  return c.entry->node.onion_key_at(now_ms / 1000) != nullptr;
}

bool PathSelector::not_avoided(const Candidate& c, std::uint64_t now_ms) const {
  return !backoff_.avoided(c.entry->node.id, now_ms);
}

bool PathSelector::never_failed(const Candidate& c, std::uint64_t) const {
  const NodeHealth* h = backoff_.find(c.entry->node.id);
  return !h || h->failures == 0;
}

// Tiers, best first: own prefix and healthy; own prefix but unhealthy; shared
// prefix and healthy; shared and unhealthy. Diversity comes before health: a
// path through a shared network is a risk to anonymity, a failing node only to
// this request. Among healthy nodes the choice is uniform (or the first, in
// the guards' order); among unhealthy ones it is the least recently failed.
PathSelector::Pick PathSelector::pick(const std::vector<const Candidate*>& candidates,
                                      const std::vector<std::uint64_t>& used_prefixes,
                                      HealthyFn healthy, std::uint64_t now_ms, bool take_first) {
  auto tier = [&](const Candidate& c) {
    const bool shared =
        std::find(used_prefixes.begin(), used_prefixes.end(), c.prefix) != used_prefixes.end();
    return (shared ? 2 : 0) + ((this->*healthy)(c, now_ms) ? 0 : 1);
  };
  int best = 4;
  for (const Candidate* c : candidates)
    best = std::min(best, tier(*c));
  if (best == 4) return {};

  std::vector<const Candidate*> chosen;
  const bool unhealthy = best % 2 == 1;
  std::uint64_t oldest_failure = std::numeric_limits<std::uint64_t>::max();
  for (const Candidate* c : candidates) {
    if (tier(*c) != best) continue;
    if (unhealthy) {
      const NodeHealth* h = backoff_.find(c->entry->node.id);
      const std::uint64_t last = h ? h->last_failure_ms : 0;
      if (last > oldest_failure) continue;
      if (last < oldest_failure) chosen.clear();
      oldest_failure = last;
    }
    chosen.push_back(c);
  }
  const std::size_t i = take_first ? 0 : uniform(chosen.size());
  return Pick{chosen[i], best < 2, unhealthy};
}

void PathSelector::set_directory(std::shared_ptr<const Directory> d) {
  directory_ = std::move(d);
  nodes_.clear();
  if (!directory_) return;
  for (const DirectoryEntry& e : directory_->entries)
    nodes_.push_back({&e, network_prefix(e.node.address)});
  std::sort(nodes_.begin(), nodes_.end(), [](const Candidate& a, const Candidate& b) {
    return NodeIdLess{}(a.entry->node.id, b.entry->node.id);
  });
  backoff_.prune([this](const NodeId& id) { return candidate(id) != nullptr; });
  reconcile_guards();
}

void PathSelector::reconcile_guards() {
  if (!directory_) return;
  const std::size_t before = guards_.size();
  std::erase_if(guards_, [this](const NodeId& g) { return candidate(g) == nullptr; });
  stats_.guards_dropped_gone += before - guards_.size();
  fill_guards();
}

std::span<const NodeId> PathSelector::primary_guards() const {
  return std::span<const NodeId>(guards_).first(std::min(config_.guard_count, guards_.size()));
}

std::span<const NodeId> PathSelector::backup_guards() const {
  return std::span<const NodeId>(guards_).subspan(primary_guards().size());
}

// Backups are chosen by the rules of primary guards and appended, so the
// list stays in the order of choice and a dropped primary guard's place goes
// to the first backup.
void PathSelector::fill_guards() {
  const std::size_t target = std::min(config_.guard_count + config_.backup_guards, nodes_.size());
  while (guards_.size() < target) {
    std::vector<const Candidate*> others;
    std::vector<std::uint64_t> prefixes;
    for (const Candidate& c : nodes_) {
      if (std::find(guards_.begin(), guards_.end(), c.entry->node.id) == guards_.end())
        others.push_back(&c);
      else
        prefixes.push_back(c.prefix);
    }
    const Pick p = pick(others, prefixes, &PathSelector::never_failed, 0, false);
    if (!p.node) return;
    guards_.push_back(p.node->entry->node.id);
    ++stats_.guards_added;
  }
}

bool PathSelector::guard_failed_too_long(const NodeId& guard, std::uint64_t now_ms) const {
  const NodeHealth* h = backoff_.find(guard);
  if (!h || h->failures < config_.guard_drop_failures) return false;
  const std::uint64_t failing_for = now_ms > h->first_failure_ms ? now_ms - h->first_failure_ms : 0;
  const bool online = backoff_.last_success_ms() > h->first_failure_ms;
  return failing_for >= (online ? config_.guard_drop_after_ms : config_.guard_drop_offline_ms);
}

void PathSelector::drop_failing_guards(std::uint64_t now_ms) {
  if (std::none_of(guards_.begin(), guards_.end(),
                   [&](const NodeId& g) { return guard_failed_too_long(g, now_ms); }))
    return;
  // Dropping a guard for a node that has failed too gains nothing, so a guard
  // goes only when a never-failed replacement is waiting.
  std::size_t replacements = 0;
  for (const Candidate& c : nodes_)
    if (never_failed(c, now_ms) &&
        std::find(guards_.begin(), guards_.end(), c.entry->node.id) == guards_.end())
      ++replacements;
  const std::size_t before = guards_.size();
  std::erase_if(guards_, [&](const NodeId& g) {
    if (replacements == 0 || !guard_failed_too_long(g, now_ms)) return false;
    --replacements;
    return true;
  });
  if (guards_.size() == before) return;
  stats_.guards_dropped_failing += before - guards_.size();
  fill_guards();
}

Result<Path, PathError> PathSelector::path_to_node(const NodeId& destination,
                                                   std::uint64_t now_ms) {
  if (!directory_) return fail(PathError::no_directory);
  const Candidate* d = candidate(destination);
  if (!d || !usable(*d, now_ms)) return fail(PathError::unknown_destination);
  return build(*d, false, now_ms);
}

Result<Path, PathError> PathSelector::path_to_swarm(SwarmId swarm, std::uint64_t now_ms,
                                                    std::optional<NodeId> exclude_destination) {
  if (!directory_) return fail(PathError::no_directory);
  std::vector<const Candidate*> members;
  for (const Candidate& c : nodes_)
    if (c.entry->swarm == swarm && usable(c, now_ms) &&
        !(exclude_destination && c.entry->node.id == *exclude_destination))
      members.push_back(&c);
  const Pick d = pick(members, {}, &PathSelector::not_avoided, now_ms, false);
  if (!d.node) return fail(PathError::unknown_swarm);
  return build(*d.node, d.fallback, now_ms);
}

Result<Path, PathError> PathSelector::build(const Candidate& destination, bool fallback,
                                            std::uint64_t now_ms) {
  drop_failing_guards(now_ms);
  const NodeId& dest = destination.entry->node.id;
  std::vector<const Candidate*> others;
  for (const Candidate& c : nodes_)
    if (!(c.entry->node.id == dest) && usable(c, now_ms)) others.push_back(&c);
  const std::size_t relay_count = std::min(config_.relays, others.size());
  if (relay_count < config_.min_relays) return fail(PathError::too_few_nodes);

  Path path;
  path.destination = dest;
  path.fallback = fallback;
  std::vector<std::uint64_t> prefixes{destination.prefix};
  auto add = [&](const Pick& p) {
    path.relays.push_back(p.node->entry->node.id);
    prefixes.push_back(p.node->prefix);
    path.diverse = path.diverse && p.diverse;
    path.fallback = path.fallback || p.fallback;
  };

  add(pick_first_hop(dest, prefixes, others, now_ms, path));

  for (std::size_t hop = 1; hop < relay_count; ++hop) {
    const NodeId& previous = path.relays.back();
    std::erase_if(others, [&](const Candidate* c) { return c->entry->node.id == previous; });
    add(pick(others, prefixes, &PathSelector::not_avoided, now_ms, false));
  }

  ++stats_.paths;
  if (path.relays.size() < config_.relays) ++stats_.short_paths;
  if (!path.diverse) ++stats_.non_diverse_paths;
  if (path.fallback) ++stats_.fallback_paths;
  if (!path.guard_first) ++stats_.non_guard_first_hops;
  const auto backups = backup_guards();
  if (std::find(backups.begin(), backups.end(), path.relays.front()) != backups.end())
    ++stats_.backup_guard_first_hops;
  ++stats_.first_hop_use[path.relays.front()];
  for (std::size_t i = 1; i < path.relays.size(); ++i)
    ++stats_.middle_use[path.relays[i]];
  return path;
}

// A primary guard while any usable one is out of backoff; else the first
// backup out of backoff, in guard order, so that as few nodes as possible see
// the client's address. When every guard is in backoff, the least recently
// failed primary guard, as without backups: the client's own connection is
// then the likely culprit (Tor, when its whole sample is down, also starts
// again from its primary guards), and showing the address to more nodes
// would not help.
// Any node only when no guard is usable at all.
PathSelector::Pick PathSelector::pick_first_hop(const NodeId& dest,
                                                const std::vector<std::uint64_t>& prefixes,
                                                const std::vector<const Candidate*>& others,
                                                std::uint64_t now_ms, Path& path) {
  std::vector<const Candidate*> primary, backup;
  for (std::size_t i = 0; i < guards_.size(); ++i) {
    const Candidate* c = candidate(guards_[i]);
    if (!c || guards_[i] == dest || !usable(*c, now_ms)) continue;
    (i < config_.guard_count ? primary : backup).push_back(c);
  }
  auto avoided = [&](const Candidate* c) { return !not_avoided(*c, now_ms); };
  const bool take_first = config_.guard_use == GuardUse::first_usable;
  if (!primary.empty() && !std::all_of(primary.begin(), primary.end(), avoided))
    return pick(primary, prefixes, &PathSelector::not_avoided, now_ms, take_first);

  std::vector<const Candidate*> healthy_backups = backup;
  std::erase_if(healthy_backups, avoided);
  if (!healthy_backups.empty())
    return pick(healthy_backups, prefixes, &PathSelector::not_avoided, now_ms, true);
  if (!primary.empty())
    return pick(primary, prefixes, &PathSelector::not_avoided, now_ms, take_first);
  // No primary guard is usable (one guard that is the destination, or no live
  // onion key) and every backup is in backoff.
  if (!backup.empty()) return pick(backup, prefixes, &PathSelector::not_avoided, now_ms, true);
  path.guard_first = false;
  return pick(others, prefixes, &PathSelector::not_avoided, now_ms, false);
}

void PathSelector::report_failure(const NodeId& node, std::uint64_t now_ms) {
  backoff_.report_failure(node, now_ms);
  if (std::find(guards_.begin(), guards_.end(), node) != guards_.end()) drop_failing_guards(now_ms);
}

void PathSelector::report_success(const NodeId& node, std::uint64_t now_ms) {
  backoff_.report_success(node, now_ms);
}

void PathSelector::report_path_success(const Path& path, std::uint64_t now_ms) {
  for (const NodeId& n : path.relays)
    report_success(n, now_ms);
  report_success(path.destination, now_ms);
}

void PathSelector::report_path_failure(const Path& path, const RequestFailure& f,
                                       std::uint64_t now_ms) {
  std::vector<NodeId> nodes = path.relays;
  nodes.push_back(path.destination);
  if (f.failed_node) {
    // A relay error came back through the hops before the culprit: they work.
    if (f.error == RequestError::relay_error)
      for (const NodeId& n : nodes) {
        if (n == *f.failed_node) break;
        report_success(n, now_ms);
      }
    report_failure(*f.failed_node, now_ms);
    return;
  }
  // A timeout or a reply that did not open: some hop failed, nobody knows
  // which. Every other error without a node is the client's own (no
  // directory, too large, overloaded, shutting down) and blames nobody.
  if (f.error != RequestError::timeout && f.error != RequestError::bad_reply) return;
  bool guard_blamed = false;
  for (const NodeId& n : nodes) {
    backoff_.report_timeout(n, now_ms);
    guard_blamed = guard_blamed || std::find(guards_.begin(), guards_.end(), n) != guards_.end();
  }
  if (guard_blamed) drop_failing_guards(now_ms);
}

std::string PathSelector::save_guards() const {
  std::vector<GuardRecord> records;
  for (const NodeId& g : guards_) {
    GuardRecord r{g, 0, 0, 0};
    if (const NodeHealth* h = backoff_.find(g); h && h->failures > 0)
      r = {g, h->failures, h->first_failure_ms, h->last_failure_ms};
    records.push_back(r);
  }
  return encode_guard_state(records);
}

Result<void, std::string> PathSelector::load_guards(std::string_view text) {
  auto records = parse_guard_state(text);
  if (!records) return records.failure();
  guards_.clear();
  for (const GuardRecord& r : *records) {
    if (guards_.size() == config_.guard_count + config_.backup_guards) break;
    guards_.push_back(r.id);
    backoff_.restore(r.id, r.failures, r.first_failure_ms, r.last_failure_ms);
  }
  reconcile_guards();
  return {};
}

}  // namespace nightjar
