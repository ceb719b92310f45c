// Tests of swarm/swarm_events.hpp: the events a node sees between two
// assignments (first directory, no change, members joining and leaving, a
// move, dissolution, a new swarm), their order, and the ring ranges whose
// owner changed, checked against nearest_swarm.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "swarm/swarm_events.hpp"
#include "swarm/swarm_ring.hpp"

using nightjar::assign_swarms;
using nightjar::changed_ranges;
using nightjar::nearest_swarm;
using nightjar::NodeId;
using nightjar::owner_change;
using nightjar::ring_changed;
using nightjar::ring_fraction;
using nightjar::RingRange;
using nightjar::swarm_events;
using nightjar::swarm_ids;
using nightjar::SwarmAssignment;
using nightjar::SwarmEvent;
using nightjar::SwarmId;
using Kind = nightjar::SwarmEventKind;

namespace {

constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t quarter = std::uint64_t{1} << 62;

NodeId node(std::uint8_t b) {
  NodeId id;
  id.bytes.fill(b);
  return id;
}

const NodeId a = node(0xa0);
const NodeId b = node(0xb0);
const NodeId c = node(0xc0);
const NodeId d = node(0xd0);

SwarmEvent event(Kind kind, SwarmId swarm) {
  return {kind, swarm, std::nullopt};
}
SwarmEvent event(Kind kind, SwarmId swarm, const NodeId& n) {
  return {kind, swarm, n};
}

// The range of `ranges` that holds `position`, if any.
const RingRange* range_at(const std::vector<RingRange>& ranges, std::uint64_t position) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), position,
                             [](std::uint64_t p, const RingRange& r) { return p < r.first; });
  if (it == ranges.begin()) return nullptr;
  --it;
  return position <= it->last ? &*it : nullptr;
}

// Checks changed_ranges against owner_change (that is, nearest_swarm) at the
// edges of every range and at `samples` random positions; returns the share of
// the random positions that moved.
double check_ranges(const std::vector<SwarmId>& before, const std::vector<SwarmId>& after,
                    std::mt19937_64& rng, int samples) {
  const std::vector<RingRange> ranges = changed_ranges(before, after);
  auto agrees = [&](std::uint64_t p) {
    const auto change = owner_change(before, after, p);
    const RingRange* r = range_at(ranges, p);
    if (!change || !r) return !change && !r;
    return change->from == r->from && change->to == r->to;
  };
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const RingRange& r = ranges[i];
    REQUIRE(r.first <= r.last);
    if (i > 0) REQUIRE(ranges[i - 1].last < r.first);
    for (std::uint64_t p : {r.first - 1, r.first, r.last, r.last + 1}) {
      INFO("position " << p);
      REQUIRE(agrees(p));
    }
  }
  int moved = 0;
  for (int i = 0; i < samples; ++i) {
    const std::uint64_t p = rng();
    REQUIRE(agrees(p));
    if (owner_change(before, after, p)) ++moved;
  }
  return samples == 0 ? 0.0 : static_cast<double>(moved) / samples;
}

std::vector<SwarmId> random_ids(std::mt19937_64& rng, std::size_t n) {
  std::set<SwarmId> ids;
  while (ids.size() < n)
    ids.insert(rng());
  return {ids.begin(), ids.end()};
}

}  // namespace

TEST_CASE("swarm_events for the first directory", "[swarm]") {
  const SwarmAssignment now = {{a, 1}, {b, 1}, {c, 2}};
  CHECK(swarm_events(nullptr, now, a) == std::vector{event(Kind::joined_swarm, 1)});
  CHECK(swarm_events(nullptr, now, c) == std::vector{event(Kind::joined_swarm, 2)});
  CHECK(swarm_events(nullptr, now, d).empty());  // not in the directory
}

TEST_CASE("swarm_events with no change", "[swarm]") {
  const SwarmAssignment now = {{a, 1}, {b, 1}, {c, 2}};
  for (const NodeId& self : {a, b, c, d})
    CHECK(swarm_events(&now, now, self).empty());
}

TEST_CASE("swarm_events when a member joins or leaves", "[swarm]") {
  const SwarmAssignment old = {{a, 1}, {b, 1}, {c, 1}};
  const SwarmAssignment joined = {{a, 1}, {b, 1}, {c, 1}, {d, 1}};
  CHECK(swarm_events(&old, joined, a) == std::vector{event(Kind::member_joined, 1, d)});
  CHECK(swarm_events(&old, joined, d) == std::vector{event(Kind::joined_swarm, 1)});

  const SwarmAssignment left = {{a, 1}, {b, 1}};
  CHECK(swarm_events(&old, left, b) == std::vector{event(Kind::member_left, 1, c)});
  CHECK(swarm_events(&old, left, c) == std::vector{event(Kind::left_swarm, 1)});
}

TEST_CASE("swarm_events when this node moves to another swarm", "[swarm]") {
  const SwarmAssignment old = {{a, 1}, {b, 1}, {c, 2}, {d, 2}};
  const SwarmAssignment now = {{a, 2}, {b, 1}, {c, 2}, {d, 2}};
  CHECK(swarm_events(&old, now, a) ==
        std::vector{event(Kind::left_swarm, 1), event(Kind::joined_swarm, 2)});
  CHECK(swarm_events(&old, now, b) == std::vector{event(Kind::member_left, 1, a)});
  CHECK(swarm_events(&old, now, c) == std::vector{event(Kind::member_joined, 2, a)});
}

TEST_CASE("swarm_events when a swarm is dissolved", "[swarm]") {
  const SwarmAssignment old = {{a, 1}, {b, 1}, {c, 2}, {d, 2}};
  const SwarmAssignment now = {{a, 2}, {b, 2}, {c, 2}, {d, 2}};
  CHECK(swarm_events(&old, now, a) ==
        std::vector{event(Kind::left_swarm, 1), event(Kind::joined_swarm, 2),
                    event(Kind::member_joined, 2, b), event(Kind::swarm_dissolved, 1)});
  CHECK(swarm_events(&old, now, d) == std::vector{event(Kind::member_joined, 2, a),
                                                  event(Kind::member_joined, 2, b),
                                                  event(Kind::swarm_dissolved, 1)});
}

TEST_CASE("swarm_events when a new swarm appears", "[swarm]") {
  const SwarmAssignment old = {{a, 1}, {b, 1}, {c, 1}, {d, 1}};
  const SwarmAssignment now = {{a, 1}, {b, 1}, {c, 5}, {d, 5}};
  CHECK(swarm_events(&old, now, a) == std::vector{event(Kind::member_left, 1, c),
                                                  event(Kind::member_left, 1, d),
                                                  event(Kind::swarm_created, 5)});
  CHECK(swarm_events(&old, now, c) ==
        std::vector{event(Kind::left_swarm, 1), event(Kind::joined_swarm, 5),
                    event(Kind::member_joined, 5, d), event(Kind::swarm_created, 5)});
}

TEST_CASE("swarm_events when this node leaves the network", "[swarm]") {
  const SwarmAssignment old = {{a, 1}, {b, 1}, {c, 2}, {d, 2}};
  const SwarmAssignment now = {{b, 2}, {c, 2}, {d, 2}};
  CHECK(swarm_events(&old, now, a) ==
        std::vector{event(Kind::left_swarm, 1), event(Kind::swarm_dissolved, 1)});
  CHECK(swarm_events(&old, SwarmAssignment{}, c) == std::vector{event(Kind::left_swarm, 2),
                                                                event(Kind::swarm_dissolved, 1),
                                                                event(Kind::swarm_dissolved, 2)});
}

TEST_CASE("swarm_events agree with assign_swarms under churn", "[swarm]") {
  std::mt19937_64 rng(31);
  std::vector<NodeId> nodes;
  for (int i = 0; i < 150; ++i) {
    NodeId id;
    for (auto& byte : id.bytes)
      byte = static_cast<std::uint8_t>(rng());
    nodes.push_back(id);
  }
  const std::vector<NodeId> first_nodes(nodes.begin(), nodes.begin() + 100);
  const std::vector<NodeId> next_nodes(nodes.begin() + 30, nodes.end());
  const SwarmAssignment old = assign_swarms({}, first_nodes, {5, 7, 10});
  const SwarmAssignment now = assign_swarms(old, next_nodes, {5, 7, 10});
  for (const NodeId& self : nodes) {
    const auto events = swarm_events(&old, now, self);
    CHECK(std::is_sorted(events.begin(), events.end(),
                         [](const SwarmEvent& x, const SwarmEvent& y) { return x.kind < y.kind; }));
    const auto was = old.find(self);
    const auto is = now.find(self);
    const bool moved = was == old.end() || is == now.end() || was->second != is->second;
    const bool joined = std::any_of(events.begin(), events.end(), [](const SwarmEvent& e) {
      return e.kind == Kind::joined_swarm;
    });
    CHECK(joined == (moved && is != now.end()));
    for (const SwarmEvent& e : events) {
      if (e.kind != Kind::member_joined) continue;
      REQUIRE(e.node);
      CHECK(now.at(*e.node) == e.swarm);
      CHECK((old.count(*e.node) == 0 || old.at(*e.node) != e.swarm));
    }
  }
}

TEST_CASE("changed_ranges of equal and empty rings", "[swarm]") {
  const std::vector<SwarmId> ids = {3, 1000, top};
  CHECK(changed_ranges(ids, ids).empty());
  CHECK_FALSE(ring_changed(ids, ids));
  CHECK(changed_ranges({}, ids).empty());
  CHECK(changed_ranges(ids, {}).empty());
  CHECK(ring_changed({}, ids));
  CHECK_FALSE(owner_change(ids, ids, 12345));
}

TEST_CASE("changed_ranges when a second swarm splits the ring", "[swarm]") {
  const std::vector<SwarmId> one = {0};
  const std::vector<SwarmId> two = {0, 2 * quarter};
  // 2^62 and 3 * 2^62 are as far from 0 as from 2^63: ties go to 0.
  const std::vector<RingRange> expected = {{quarter + 1, 3 * quarter - 1, 0, 2 * quarter}};
  CHECK(changed_ranges(one, two) == expected);
  CHECK(ring_changed(one, two));
  CHECK(ring_fraction(expected) == Approx(0.5));
  const auto change = owner_change(one, two, 2 * quarter);
  REQUIRE(change);
  CHECK(change->from == 0u);
  CHECK(change->to == 2 * quarter);
  CHECK_FALSE(owner_change(one, two, quarter));
  CHECK_FALSE(owner_change(one, two, 3 * quarter));
}

TEST_CASE("changed_ranges across position 0", "[swarm]") {
  // Dissolving the swarm at 2^64 - 1 hands positions on both sides of 0 to
  // its neighbours, so its range appears as two pieces.
  const std::vector<SwarmId> before = {quarter, 2 * quarter, top};
  const std::vector<SwarmId> after = {quarter, 2 * quarter};
  const auto ranges = changed_ranges(before, after);
  REQUIRE(ranges.size() == 3);
  CHECK(ranges.front().first == 0u);
  CHECK(ranges.back().last == top);
  std::mt19937_64 rng(41);
  check_ranges(before, after, rng, 1000);
}

TEST_CASE("changed_ranges match nearest_swarm on random rings", "[swarm]") {
  std::mt19937_64 rng(43);
  for (int round = 0; round < 200; ++round) {
    INFO("round " << round);
    const std::vector<SwarmId> before = random_ids(rng, 1 + rng() % 40);
    // The new ring keeps some IDs and adds others.
    std::set<SwarmId> next;
    for (SwarmId id : before)
      if (rng() % 4 != 0) next.insert(id);
    const std::vector<SwarmId> extra = random_ids(rng, rng() % 6);
    next.insert(extra.begin(), extra.end());
    if (next.empty()) next.insert(rng());
    const std::vector<SwarmId> after(next.begin(), next.end());
    const double sampled = check_ranges(before, after, rng, round < 20 ? 20'000 : 500);
    if (round < 20) {
      // 20,000 samples: the standard error is at most 0.35%.
      CHECK(sampled == Approx(ring_fraction(changed_ranges(before, after))).margin(0.02));
    }
  }
}

TEST_CASE("changed_ranges with ties at the boundaries", "[swarm]") {
  // Small gaps, even and odd, on both sides of 0, where ties decide.
  std::mt19937_64 rng(47);
  const std::vector<std::vector<SwarmId>> rings = {{0, 2, 4}, {1, 4, top - 1}, {0, top},
                                                   {5},       {top - 3, top},  {0, 1, 2, 3}};
  for (const auto& before : rings) {
    for (const auto& after : rings) {
      check_ranges(before, after, rng, 100);
      for (std::uint64_t p :
           {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3},
            std::uint64_t{4}, std::uint64_t{5}, top, top - 1, top - 2, top - 3, top - 4}) {
        const auto ranges = changed_ranges(before, after);
        const RingRange* r = range_at(ranges, p);
        CHECK((r != nullptr) == owner_change(before, after, p).has_value());
      }
    }
  }
}
