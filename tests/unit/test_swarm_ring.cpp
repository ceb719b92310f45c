// Tests of swarm/swarm_ring.hpp: nearest_swarm at the edges of the ring, and
// properties of assign_swarms over random networks (every node in one swarm,
// sizes within bounds, determinism, stability), edge cases, growth one node at
// a time, and how many recipients and nodes churn moves.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "swarm/swarm_events.hpp"
#include "swarm/swarm_ring.hpp"

using nightjar::assign_swarms;
using nightjar::changed_ranges;
using nightjar::nearest_swarm;
using nightjar::NodeId;
using nightjar::ring_fraction;
using nightjar::swarm_ids;
using nightjar::SwarmAssignment;
using nightjar::SwarmId;
using nightjar::SwarmSizes;

namespace {

constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();

NodeId random_node(std::mt19937_64& rng) {
  NodeId id;
  for (std::size_t i = 0; i < id.bytes.size(); i += 8) {
    std::uint64_t v = rng();
    for (std::size_t j = 0; j < 8; ++j, v >>= 8)
      id.bytes[i + j] = static_cast<std::uint8_t>(v);
  }
  return id;
}

std::vector<NodeId> random_nodes(std::mt19937_64& rng, std::size_t n) {
  std::vector<NodeId> nodes;
  for (std::size_t i = 0; i < n; ++i)
    nodes.push_back(random_node(rng));
  return nodes;
}

std::string describe(const SwarmSizes& s) {
  return std::to_string(s.min) + "/" + std::to_string(s.ideal) + "/" + std::to_string(s.max);
}

std::map<SwarmId, std::size_t> swarm_sizes(const SwarmAssignment& a) {
  std::map<SwarmId, std::size_t> sizes;
  for (const auto& [node, swarm] : a)
    ++sizes[swarm];
  return sizes;
}

// Empty when `a` is a valid assignment of exactly `nodes`, else what is wrong.
std::string violation(const SwarmAssignment& a, const std::vector<NodeId>& nodes,
                      const SwarmSizes& sizes) {
  const std::set<NodeId, nightjar::NodeIdLess> distinct(nodes.begin(), nodes.end());
  if (a.size() != distinct.size())
    return "assigned " + std::to_string(a.size()) + " of " + std::to_string(distinct.size());
  for (const NodeId& node : distinct)
    if (a.find(node) == a.end()) return "a node is not assigned";
  const auto counts = swarm_sizes(a);
  if (distinct.empty()) return {};
  if (distinct.size() < sizes.min) {
    return counts.size() == 1 ? std::string{} : "fewer than min nodes but several swarms";
  }
  for (const auto& [swarm, count] : counts) {
    if (count < sizes.min || count > sizes.max) {
      std::ostringstream out;
      out << "swarm " << swarm << " has " << count << " members (" << distinct.size() << " nodes, "
          << counts.size() << " swarms)";
      return out.str();
    }
  }
  return {};
}

// Nodes present in both assignments whose swarm differs.
std::size_t nodes_moved(const SwarmAssignment& before, const SwarmAssignment& after) {
  std::size_t moved = 0;
  for (const auto& [node, swarm] : after) {
    auto it = before.find(node);
    if (it != before.end() && it->second != swarm) ++moved;
  }
  return moved;
}

std::size_t nodes_kept(const SwarmAssignment& before, const SwarmAssignment& after) {
  std::size_t kept = 0;
  for (const auto& [node, swarm] : after)
    kept += before.count(node);
  return kept;
}

// How many swarm IDs one assignment has that the other has not.
std::size_t ids_changed(const SwarmAssignment& before, const SwarmAssignment& after) {
  const auto x = swarm_ids(before);
  const auto y = swarm_ids(after);
  std::vector<SwarmId> diff;
  std::set_symmetric_difference(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(diff));
  return diff.size();
}

const std::vector<SwarmSizes> all_sizes = {{5, 7, 10}, {3, 4, 6}, {2, 3, 4}, {1, 1, 1}, {4, 6, 8}};

}  // namespace

TEST_CASE("nearest_swarm with a single swarm owns the whole ring", "[swarm]") {
  const std::vector<SwarmId> one = {12345};
  for (std::uint64_t p : {std::uint64_t{0}, std::uint64_t{12345}, std::uint64_t{1} << 63, top})
    CHECK(nearest_swarm(one, p) == 12345u);
}

TEST_CASE("nearest_swarm wraps around the ring", "[swarm]") {
  const std::vector<SwarmId> ids = {100, top - 50};
  CHECK(nearest_swarm(ids, 0) == top - 50);    // 51 down through 0, 100 up
  CHECK(nearest_swarm(ids, 40) == 100u);       // 91 down through 0, 60 up
  CHECK(nearest_swarm(ids, top) == top - 50);  // 50 down, 101 up through 0
  CHECK(nearest_swarm(ids, top - 49) == top - 50);
  CHECK(nearest_swarm(ids, 200) == 100u);
  // Position 24: 75 down through 0 (to 2^64 - 51) and 76 up: down wins;
  // position 25: 76 down and 75 up.
  CHECK(nearest_swarm(ids, 24) == top - 50);
  CHECK(nearest_swarm(ids, 25) == 100u);
}

TEST_CASE("nearest_swarm gives a tie to the smaller ID", "[swarm]") {
  const std::vector<SwarmId> ids = {1000, 2000};
  CHECK(nearest_swarm(ids, 1500) == 1000u);
  CHECK(nearest_swarm(ids, 1501) == 2000u);
  CHECK(nearest_swarm(ids, 1499) == 1000u);
  // A tie across 0: 10 and 2^64 - 10 are both 10 away from 0.
  const std::vector<SwarmId> around = {10, top - 9};
  CHECK(nearest_swarm(around, 0) == 10u);
  CHECK(nearest_swarm(around, top) == top - 9);
}

TEST_CASE("nearest_swarm at positions 0 and 2^64-1", "[swarm]") {
  const std::vector<SwarmId> ids = {0, std::uint64_t{1} << 62, std::uint64_t{1} << 63};
  CHECK(nearest_swarm(ids, 0) == 0u);
  CHECK(nearest_swarm(ids, top) == 0u);
  const std::vector<SwarmId> ends = {0, top};
  CHECK(nearest_swarm(ends, 0) == 0u);
  CHECK(nearest_swarm(ends, top) == top);
  // 2^63 is 2^63 above 0 and 2^63 - 1 below 2^64 - 1.
  CHECK(nearest_swarm(ends, std::uint64_t{1} << 63) == top);
  CHECK(nearest_swarm(ends, (std::uint64_t{1} << 63) - 1) == 0u);
}

TEST_CASE("assign_swarms keeps its invariants on random networks", "[swarm]") {
  for (const SwarmSizes& sizes : all_sizes) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      std::mt19937_64 rng(seed);
      for (std::size_t n : {10u, 11u, 12u, 13u, 29u, 64u, 100u, 257u, 1000u, 2000u}) {
        INFO("sizes " << describe(sizes) << " seed " << seed << " nodes " << n);
        std::vector<NodeId> nodes = random_nodes(rng, n);
        const SwarmAssignment first = assign_swarms({}, nodes, sizes);
        REQUIRE(violation(first, nodes, sizes).empty());

        std::shuffle(nodes.begin(), nodes.end(), rng);
        CHECK(assign_swarms({}, nodes, sizes) == first);
        // Stable: the same inputs again change nothing.
        const SwarmAssignment again = assign_swarms(first, nodes, sizes);
        CHECK(again == first);
        CHECK(assign_swarms(first, nodes, sizes) == again);

        // A random change: a third leave, a quarter as many join.
        std::vector<NodeId> next(nodes.begin(), nodes.begin() + static_cast<long>(n * 2 / 3));
        const std::vector<NodeId> joining = random_nodes(rng, n / 4);
        next.insert(next.end(), joining.begin(), joining.end());
        const SwarmAssignment changed = assign_swarms(first, next, sizes);
        REQUIRE(violation(changed, next, sizes).empty());
        std::shuffle(next.begin(), next.end(), rng);
        CHECK(assign_swarms(first, next, sizes) == changed);
        CHECK(assign_swarms(changed, next, sizes) == changed);
      }
    }
  }
}

TEST_CASE("assign_swarms repairs an arbitrary previous assignment", "[swarm]") {
  // A previous assignment made with other sizes, or by another algorithm:
  // swarms of random sizes, some far too big or too small.
  std::mt19937_64 rng(7);
  for (const SwarmSizes& sizes : all_sizes) {
    for (std::size_t n : {5u, 20u, 150u, 900u}) {
      INFO("sizes " << describe(sizes) << " nodes " << n);
      const std::vector<NodeId> nodes = random_nodes(rng, n);
      SwarmAssignment previous;
      const std::size_t swarms = 1 + rng() % (n / 2 + 1);
      for (const NodeId& node : nodes)
        previous[node] = rng() % swarms * 0x9e3779b97f4a7c15ull;
      const SwarmAssignment a = assign_swarms(previous, nodes, sizes);
      REQUIRE(violation(a, nodes, sizes).empty());
      CHECK(assign_swarms(a, nodes, sizes) == a);
    }
  }
}

TEST_CASE("assign_swarms edge-case network sizes", "[swarm]") {
  std::mt19937_64 rng(11);
  for (const SwarmSizes& sizes : {SwarmSizes{5, 7, 10}, SwarmSizes{3, 4, 6}}) {
    const std::size_t min = sizes.min;
    const std::size_t max = sizes.max;
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, min - 1, min, max, max + 1,
                          std::size_t{11}, std::size_t{12}, 2 * max + 1}) {
      INFO("sizes " << describe(sizes) << " nodes " << n);
      const std::vector<NodeId> nodes = random_nodes(rng, n);
      const SwarmAssignment a = assign_swarms({}, nodes, sizes);
      REQUIRE(violation(a, nodes, sizes).empty());
      const auto counts = swarm_sizes(a);
      if (n == 0) CHECK(a.empty());
      if (n > 0 && n <= max) CHECK(counts.size() == 1);
      if (n > max) CHECK(counts.size() >= 2);
      if (n == 1) CHECK(a.begin()->second == 0u);  // the first swarm is ID 0
    }
  }
  // Session's sizes: 11 and 12 nodes make two swarms, never one of 11 or a 4.
  const std::vector<NodeId> twelve = random_nodes(rng, 12);
  for (std::size_t n : {11u, 12u}) {
    const std::vector<NodeId> nodes(twelve.begin(), twelve.begin() + static_cast<long>(n));
    const auto counts = swarm_sizes(assign_swarms({}, nodes, {5, 7, 10}));
    REQUIRE(counts.size() == 2);
    for (const auto& [swarm, count] : counts)
      CHECK(count >= 5);
  }
}

TEST_CASE("assign_swarms with sizes too narrow to split every count", "[swarm]") {
  // 4/4/5 cannot split 6 or 7 nodes (one swarm is too big, two too small): the
  // documented fallback keeps every swarm at min or more and balances them.
  std::mt19937_64 rng(19);
  const SwarmSizes narrow{4, 4, 5};
  const std::vector<NodeId> all = random_nodes(rng, 40);
  SwarmAssignment a;
  for (std::size_t n = 4; n <= all.size(); ++n) {
    INFO("nodes " << n);
    const std::vector<NodeId> nodes(all.begin(), all.begin() + static_cast<long>(n));
    a = assign_swarms(a, nodes, narrow);
    REQUIRE(a.size() == n);
    std::size_t smallest = n;
    std::size_t largest = 0;
    for (const auto& [swarm, count] : swarm_sizes(a)) {
      smallest = std::min(smallest, count);
      largest = std::max(largest, count);
    }
    CHECK(smallest >= narrow.min);
    if (largest > narrow.max) CHECK(largest - smallest <= 1);
  }
}

TEST_CASE("assign_swarms ignores duplicate nodes", "[swarm]") {
  std::mt19937_64 rng(12);
  std::vector<NodeId> nodes = random_nodes(rng, 30);
  const SwarmAssignment once = assign_swarms({}, nodes, {5, 7, 10});
  nodes.insert(nodes.end(), nodes.begin(), nodes.begin() + 10);
  CHECK(assign_swarms({}, nodes, {5, 7, 10}) == once);
}

TEST_CASE("assign_swarms with every member of one swarm leaving", "[swarm]") {
  std::mt19937_64 rng(13);
  const SwarmSizes sizes{5, 7, 10};
  const std::vector<NodeId> nodes = random_nodes(rng, 100);
  const SwarmAssignment before = assign_swarms({}, nodes, sizes);
  const SwarmId gone = before.begin()->second;
  std::vector<NodeId> rest;
  for (const auto& [node, swarm] : before)
    if (swarm != gone) rest.push_back(node);

  // Enough nodes remain to fill every swarm to min: the empty swarm is
  // refilled from the others and keeps its part of the ring.
  const SwarmAssignment refilled = assign_swarms(before, rest, sizes);
  REQUIRE(violation(refilled, rest, sizes).empty());
  CHECK(swarm_ids(refilled) == swarm_ids(before));
  CHECK(nodes_moved(before, refilled) == sizes.min);

  // New nodes arriving at the same time fill it instead; nobody moves.
  std::vector<NodeId> replaced = rest;
  const std::vector<NodeId> joining = random_nodes(rng, 100 - rest.size());
  replaced.insert(replaced.end(), joining.begin(), joining.end());
  const SwarmAssignment filled = assign_swarms(before, replaced, sizes);
  REQUIRE(violation(filled, replaced, sizes).empty());
  CHECK(swarm_ids(filled) == swarm_ids(before));
  CHECK(nodes_moved(before, filled) == 0);

  // Too few nodes for that many swarms: the empty swarm is the one dissolved.
  const std::size_t swarms = swarm_ids(before).size();
  std::vector<NodeId> few;
  std::map<SwarmId, std::size_t> taken;
  for (const auto& [node, swarm] : before)
    if (swarm != gone && taken[swarm]++ < sizes.min) few.push_back(node);
  few.pop_back();  // (swarms - 1) * min - 1 nodes: one more swarm must go
  const SwarmAssignment shrunk = assign_swarms(before, few, sizes);
  REQUIRE(violation(shrunk, few, sizes).empty());
  const auto ids = swarm_ids(shrunk);
  CHECK(ids.size() == swarms - 2);
  CHECK(std::find(ids.begin(), ids.end(), gone) == ids.end());
}

TEST_CASE("assign_swarms while a network grows and shrinks one node at a time", "[swarm]") {
  for (const SwarmSizes& sizes : {SwarmSizes{5, 7, 10}, SwarmSizes{3, 4, 6}}) {
    std::mt19937_64 rng(17);
    const std::vector<NodeId> all = random_nodes(rng, 200);
    SwarmAssignment a;
    std::size_t moves = 0;
    std::size_t ring_changes = 0;
    for (std::size_t n = 1; n <= all.size(); ++n) {
      INFO("sizes " << describe(sizes) << " growing to " << n);
      const std::vector<NodeId> nodes(all.begin(), all.begin() + static_cast<long>(n));
      const SwarmAssignment next = assign_swarms(a, nodes, sizes);
      REQUIRE(violation(next, nodes, sizes).empty());
      moves += nodes_moved(a, next);
      if (swarm_ids(a) != swarm_ids(next)) ++ring_changes;
      CHECK(ids_changed(a, next) <= 1);
      a = next;
    }
    for (std::size_t n = all.size() - 1; n >= 1; --n) {
      INFO("sizes " << describe(sizes) << " shrinking to " << n);
      const std::vector<NodeId> nodes(all.begin(), all.begin() + static_cast<long>(n));
      const SwarmAssignment next = assign_swarms(a, nodes, sizes);
      REQUIRE(violation(next, nodes, sizes).empty());
      moves += nodes_moved(a, next);
      if (swarm_ids(a) != swarm_ids(next)) ++ring_changes;
      CHECK(ids_changed(a, next) <= 1);
      a = next;
    }
    std::cout << "[swarm] grow 1->200->1 with " << describe(sizes) << ": " << moves
              << " node moves, " << ring_changes << " ring changes in 398 steps\n";
    // Each step adds or removes one node: a swarm is created or dissolved at
    // most once per `min` steps in either direction (the count thresholds are
    // `ideal` and `min` nodes apart per swarm).
    CHECK(ring_changes <= 2 * 200 / sizes.min);
  }
}

namespace {

struct ChurnFigures {
  double recipients_mean = 0;  // fraction of the ring whose swarm changed, per round
  double recipients_max = 0;
  double nodes_mean = 0;  // fraction of the staying nodes that changed swarm, per round
  double nodes_max = 0;
};

// `rounds` directories of a network of `n` nodes: each round `leave` of the
// nodes leave and `join` new ones arrive (fractions of the current count).
ChurnFigures measure_churn(const SwarmSizes& sizes, std::size_t n, double leave, double join,
                           std::uint64_t seed) {
  constexpr int rounds = 10;
  std::mt19937_64 rng(seed);
  std::vector<NodeId> nodes = random_nodes(rng, n);
  SwarmAssignment a = assign_swarms({}, nodes, sizes);
  ChurnFigures f;
  for (int round = 0; round < rounds; ++round) {
    const auto count = static_cast<double>(nodes.size());
    std::shuffle(nodes.begin(), nodes.end(), rng);
    nodes.resize(nodes.size() - static_cast<std::size_t>(count * leave));
    const std::vector<NodeId> joining = random_nodes(rng, static_cast<std::size_t>(count * join));
    nodes.insert(nodes.end(), joining.begin(), joining.end());
    const SwarmAssignment next = assign_swarms(a, nodes, sizes);
    REQUIRE(violation(next, nodes, sizes).empty());

    const double recipients = ring_fraction(changed_ranges(swarm_ids(a), swarm_ids(next)));
    const double moved = static_cast<double>(nodes_moved(a, next)) /
                         static_cast<double>(std::max<std::size_t>(1, nodes_kept(a, next)));
    f.recipients_mean += recipients / rounds;
    f.recipients_max = std::max(f.recipients_max, recipients);
    f.nodes_mean += moved / rounds;
    f.nodes_max = std::max(f.nodes_max, moved);
    a = next;
  }
  return f;
}

void report(const char* scenario, const SwarmSizes& sizes, const ChurnFigures& f) {
  std::cout << "[swarm] churn " << scenario << " " << describe(sizes) << ": recipients moved mean "
            << 100 * f.recipients_mean << "% max " << 100 * f.recipients_max
            << "%, nodes moved mean " << 100 * f.nodes_mean << "% max " << 100 * f.nodes_max
            << "%\n";
}

}  // namespace

TEST_CASE("assign_swarms under churn moves few recipients and nodes", "[swarm]") {
  for (const SwarmSizes& sizes : {SwarmSizes{5, 7, 10}, SwarmSizes{3, 4, 6}}) {
    for (std::uint64_t seed : {21u, 22u}) {
      INFO("sizes " << describe(sizes) << " seed " << seed);
      // 10% of 2,000 nodes replaced each round: the count stays between the
      // thresholds of rule 2, so no swarm is created or dissolved and the new
      // nodes fill the places the leavers left.
      const ChurnFigures replaced = measure_churn(sizes, 2000, 0.10, 0.10, seed);
      report("10% replaced", sizes, replaced);
      CHECK(replaced.recipients_max == 0.0);
      CHECK(replaced.nodes_max <= 0.01);

      // Growth by 10% a round: about c / 10 new swarms, each taking half of
      // the largest gap. Always splitting the largest gap of an evenly spaced
      // ring keeps every gap within a factor 2 of the others, so half the
      // largest gap is at most the mean gap 1 / c: at most about 10% of the
      // recipients move, 11% allowing for rounding of the swarm count.
      const ChurnFigures grown = measure_churn(sizes, 2000, 0.0, 0.10, seed);
      report("10% joined", sizes, grown);
      CHECK(grown.recipients_max <= 0.11);
      CHECK(grown.nodes_max <= 0.01);  // new swarms are seeded with new nodes

      // Shrinking by 10% a round: nothing is dissolved until the nodes no
      // longer fill every swarm to min, then about 10% of the swarms go in a
      // round, those with the fewest members first. Their spans average 1 / c
      // but are not all equal, hence 15%. Their members, about 10% of the
      // swarms times fewer than min members, move: at most 10% of the nodes.
      const ChurnFigures shrunk = measure_churn(sizes, 2000, 0.10, 0.0, seed);
      report("10% left", sizes, shrunk);
      CHECK(shrunk.recipients_max <= 0.15);
      CHECK(shrunk.recipients_mean <= 0.10);
      CHECK(shrunk.nodes_max <= 0.10);
    }
  }
}
