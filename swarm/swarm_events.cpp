#include "swarm/swarm_events.hpp"

#include <algorithm>
#include <iterator>
#include <limits>

namespace nightjar {

const char* to_string(SwarmEventKind kind) {
  switch (kind) {
    case SwarmEventKind::left_swarm:
      return "left_swarm";
    case SwarmEventKind::joined_swarm:
      return "joined_swarm";
    case SwarmEventKind::member_left:
      return "member_left";
    case SwarmEventKind::member_joined:
      return "member_joined";
    case SwarmEventKind::swarm_dissolved:
      return "swarm_dissolved";
    case SwarmEventKind::swarm_created:
      return "swarm_created";
  }
  return "unknown";
}

namespace {

std::optional<SwarmId> swarm_of(const SwarmAssignment& a, const NodeId& node) {
  auto it = a.find(node);
  if (it == a.end()) return std::nullopt;
  return it->second;
}

// Sorted by NodeIdLess, since the assignment is.
std::vector<NodeId> members_of(const SwarmAssignment& a, SwarmId swarm) {
  std::vector<NodeId> members;
  for (const auto& [node, id] : a)
    if (id == swarm) members.push_back(node);
  return members;
}

std::vector<NodeId> minus(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  std::vector<NodeId> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out),
                      NodeIdLess{});
  return out;
}

bool event_less(const SwarmEvent& a, const SwarmEvent& b) {
  if (a.kind != b.kind) return a.kind < b.kind;
  if (a.swarm != b.swarm) return a.swarm < b.swarm;
  if (!a.node || !b.node) return !a.node && b.node;
  return a.node->bytes < b.node->bytes;
}

// Where ownership starts: the ring split into runs, each from `start` up to
// the next run's start (the last one up to 2^64 - 1), owned by `owner`.
struct OwnedRun {
  std::uint64_t start;
  SwarmId owner;
};

// The runs of a sorted, distinct, non-empty ID list. Between an ID a and the
// next ID b (wrapping), with gap g = b - a mod 2^64, the position a + t is
// nearer to a while 2t < g; at 2t = g it is a tie, won by the smaller ID.
std::vector<OwnedRun> owned_runs(std::span<const SwarmId> ids) {
  if (ids.size() == 1) return {{0, ids[0]}};
  std::vector<OwnedRun> runs;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const SwarmId a = ids[i];
    const SwarmId b = ids[(i + 1) % ids.size()];
    const std::uint64_t gap = b - a;  // mod 2^64
    const bool tie_to_b = gap % 2 == 0 && b < a;
    runs.push_back({a + gap / 2 + (tie_to_b ? 0 : 1), b});
  }
  std::sort(runs.begin(), runs.end(),
            [](const OwnedRun& x, const OwnedRun& y) { return x.start < y.start; });
  if (runs.front().start == 0) return runs;
  // The last run wraps past 2^64 - 1 to 0.
  std::vector<OwnedRun> from_zero{{0, runs.back().owner}};
  from_zero.insert(from_zero.end(), runs.begin(), runs.end());
  return from_zero;
}

}  // namespace

std::vector<SwarmEvent> swarm_events(const SwarmAssignment* old, const SwarmAssignment& now,
                                     const NodeId& self) {
  std::vector<SwarmEvent> events;
  const std::optional<SwarmId> is = swarm_of(now, self);
  if (old == nullptr) {
    if (is) events.push_back({SwarmEventKind::joined_swarm, *is, std::nullopt});
    return events;
  }
  const std::optional<SwarmId> was = swarm_of(*old, self);
  if (was && was != is) events.push_back({SwarmEventKind::left_swarm, *was, std::nullopt});
  if (is && was != is) events.push_back({SwarmEventKind::joined_swarm, *is, std::nullopt});

  if (is) {
    const std::vector<NodeId> before = members_of(*old, *is);
    const std::vector<NodeId> after = members_of(now, *is);
    for (const NodeId& node : minus(before, after))
      if (!(node == self)) events.push_back({SwarmEventKind::member_left, *is, node});
    for (const NodeId& node : minus(after, before))
      if (!(node == self)) events.push_back({SwarmEventKind::member_joined, *is, node});
  }

  const std::vector<SwarmId> old_ids = swarm_ids(*old);
  const std::vector<SwarmId> new_ids = swarm_ids(now);
  std::vector<SwarmId> gone;
  std::vector<SwarmId> added;
  std::set_difference(old_ids.begin(), old_ids.end(), new_ids.begin(), new_ids.end(),
                      std::back_inserter(gone));
  std::set_difference(new_ids.begin(), new_ids.end(), old_ids.begin(), old_ids.end(),
                      std::back_inserter(added));
  for (SwarmId id : gone)
    events.push_back({SwarmEventKind::swarm_dissolved, id, std::nullopt});
  for (SwarmId id : added)
    events.push_back({SwarmEventKind::swarm_created, id, std::nullopt});

  std::sort(events.begin(), events.end(), event_less);
  return events;
}

std::vector<RingRange> changed_ranges(std::span<const SwarmId> old_ids,
                                      std::span<const SwarmId> new_ids) {
  std::vector<RingRange> ranges;
  if (old_ids.empty() || new_ids.empty()) return ranges;
  const std::vector<OwnedRun> a = owned_runs(old_ids);
  const std::vector<OwnedRun> b = owned_runs(new_ids);
  constexpr std::uint64_t ring_end = std::numeric_limits<std::uint64_t>::max();
  // Both run lists start at 0: walk their union of starts.
  std::size_t i = 0;
  std::size_t j = 0;
  std::uint64_t start = 0;
  for (;;) {
    const std::uint64_t next_a = i + 1 < a.size() ? a[i + 1].start : 0;
    const std::uint64_t next_b = j + 1 < b.size() ? b[j + 1].start : 0;
    const bool a_ends = i + 1 == a.size();
    const bool b_ends = j + 1 == b.size();
    // The start of the next piece; 0 stands for "past the end of the ring".
    std::uint64_t next = 0;
    if (!a_ends && !b_ends)
      next = std::min(next_a, next_b);
    else if (!a_ends)
      next = next_a;
    else if (!b_ends)
      next = next_b;
    const std::uint64_t last = next == 0 ? ring_end : next - 1;
    if (a[i].owner != b[j].owner) {
      if (!ranges.empty() && ranges.back().last + 1 == start && ranges.back().from == a[i].owner &&
          ranges.back().to == b[j].owner) {
        ranges.back().last = last;
      } else {
        ranges.push_back({start, last, a[i].owner, b[j].owner});
      }
    }
    if (next == 0) break;
    if (!a_ends && next_a == next) ++i;
    if (!b_ends && next_b == next) ++j;
    start = next;
  }
  return ranges;
}

double ring_fraction(std::span<const RingRange> ranges) {
  long double covered = 0;
  for (const RingRange& r : ranges)
    covered += static_cast<long double>(r.last - r.first) + 1;
  return static_cast<double>(covered / 18446744073709551616.0L);  // 2^64
}

bool ring_changed(std::span<const SwarmId> old_ids, std::span<const SwarmId> new_ids) {
  return !std::equal(old_ids.begin(), old_ids.end(), new_ids.begin(), new_ids.end());
}

std::optional<OwnerChange> owner_change(std::span<const SwarmId> old_ids,
                                        std::span<const SwarmId> new_ids, std::uint64_t position) {
  const SwarmId from = nearest_swarm(old_ids, position);
  const SwarmId to = nearest_swarm(new_ids, position);
  if (from == to) return std::nullopt;
  return OwnerChange{from, to};
}

}  // namespace nightjar
