#include "swarm/swarm_ring.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "routing/wire.hpp"

namespace nightjar {

std::uint64_t ring_position(const Ed25519PublicKey& account) {
  static constexpr char label[] = "nightjar swarm v1";
  std::uint8_t input[sizeof label - 1 + 32];
  std::copy(label, label + sizeof label - 1, input);
  std::copy(account.bytes.begin(), account.bytes.end(), input + sizeof label - 1);
  const Hash256 h = crypto::blake2b_256(Bytes{input, sizeof input});
  return load_u64(h.data());
}

SwarmId nearest_swarm(std::span<const SwarmId> swarms, std::uint64_t position) {
  // The first swarm at or after `position`, and the one before it (both with
  // wraparound); the nearer of the two wins, the smaller ID on a tie.
  auto it = std::lower_bound(swarms.begin(), swarms.end(), position);
  const SwarmId after = it == swarms.end() ? swarms.front() : *it;
  const SwarmId before = it == swarms.begin() ? swarms.back() : *(it - 1);
  const std::uint64_t d_after = after - position;    // mod 2^64
  const std::uint64_t d_before = position - before;  // mod 2^64
  if (d_after != d_before) return d_after < d_before ? after : before;
  return std::min(after, before);
}

std::vector<SwarmId> swarm_ids(const SwarmAssignment& a) {
  std::set<SwarmId> ids;
  for (const auto& [node, swarm] : a)
    ids.insert(swarm);
  return {ids.begin(), ids.end()};
}

// How assign_swarms decides (docs/PROTOCOL.md, "Swarm placement", says the same).
// n is the number of distinct nodes, c the number of distinct swarm IDs in
// the previous assignment (including swarms none of whose members is still
// present), and sizes = min/ideal/max.
//
//  1. Keep. Every present node of the previous assignment stays in its swarm
//     for now. Nodes not in the previous assignment form the pool.
//  2. Count. k = max(c, floor(n / ideal)), then raised to ceil(n / max) and
//     lowered to max(1, floor(n / min)), the last bound winning. So a swarm is
//     created only when every swarm could then have `ideal` members or when
//     the swarms would otherwise exceed max, and one is dissolved only when
//     the nodes cannot fill c swarms to `min`: the gap between the thresholds
//     keeps churn from creating and dissolving the same swarm over and over.
//     With fewer than 2 * min nodes, k is 1.
//  3. Dissolve. If k < c, the c - k swarms with the fewest present members
//     are dissolved; ties go to the swarm with the smallest span of the ring
//     (half the gap to the previous ID plus half the gap to the next, each
//     rounded down), since its recipients are the ones that move, then to the
//     smaller ID. The members of dissolved swarms join the pool.
//  4. Create. If k > c, new swarm IDs are added one at a time, each the
//     midpoint of the largest gap of the ring (gap from ID a up to the next ID,
//     wrapping; ties: smaller a; midpoint a + floor(gap / 2)). The first ever
//     swarms (c = 0) are evenly spaced: i * floor(2^64 / k), so the first is 0.
//  5. Place. The pool, in order of BLAKE2b("nightjar swarm join v1" || 0^8 ||
//     node), joins one node at a time the smallest swarm (fewest members, ties:
//     smaller ID). New swarms and swarms below min and ideal fill first.
//  6. Seed. Each created swarm, in ID order, takes nodes from the largest
//     swarm (ties: smaller ID) while it has fewer than ideal members and the
//     largest has more than ideal.
//  7. Refill. While the smallest swarm has fewer than min members, it takes a
//     node from the largest swarm, as long as the two differ by 2 or more.
//  8. Trim. While the largest swarm has more than max members, it gives a node
//     to the smallest swarm, as long as the two differ by 2 or more.
//  A swarm that gives a node gives the member that moves first: members that
//  were not in it in the previous assignment first (they hold no data yet),
//  then the lowest BLAKE2b("nightjar swarm move v1" || u64be(swarm ID) || node),
//  then the lowest node ID.
//
// Why the bounds hold: k * min <= n <= k * max after step 2 whenever such a k
// exists, which for every n >= min needs max >= 2 * min - 1 (Session's 5/7/10
// and 3/4/6 qualify). Then a swarm below min implies one above min, and a swarm
// above max one below max, so steps 7 and 8 only stop at the bounds. Without
// such a k (say 4/4/5 and 6 nodes), k = floor(n / min) and step 8 balances the
// sizes, so a swarm may exceed max but none is below min.
// Every move goes from the largest to a smaller swarm, so steps 6 to 8 end.

namespace {

constexpr std::uint64_t half_ring = std::uint64_t{1} << 63;

// The first 8 bytes (big-endian) of BLAKE2b-256(label || u64be(salt) || node).
std::uint64_t labelled_hash(std::string_view label, std::uint64_t salt, const NodeId& node) {
  WireWriter w(label.size() + 8 + NodeId::size());
  w.raw(as_bytes(label)).u64(salt).fixed(node);
  return load_u64(crypto::blake2b_256(w.bytes()).data());
}

struct Member {
  bool settled;        // in this swarm in the previous assignment
  std::uint64_t rank;  // labelled_hash("nightjar swarm move v1", swarm, id)
  NodeId id;
};

struct MovesFirst {
  bool operator()(const Member& a, const Member& b) const {
    if (a.settled != b.settled) return !a.settled;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.id.bytes < b.id.bytes;
  }
};

// The swarms being built, indexed by size so that the smallest and largest
// swarm are found in O(log k).
class Placement {
 public:
  using SizeAndId = std::pair<std::size_t, SwarmId>;

  void add_swarm(SwarmId swarm) {
    if (swarms_.try_emplace(swarm).second) by_size_.insert({0, swarm});
  }
  void insert(SwarmId swarm, const NodeId& node, bool settled) {
    auto& members = swarms_.at(swarm);
    by_size_.erase({members.size(), swarm});
    members.insert({settled, labelled_hash("nightjar swarm move v1", swarm, node), node});
    by_size_.insert({members.size(), swarm});
  }
  // Removes a swarm and returns its members.
  std::vector<NodeId> remove_swarm(SwarmId swarm) {
    auto it = swarms_.find(swarm);
    std::vector<NodeId> members;
    for (const Member& m : it->second)
      members.push_back(m.id);
    by_size_.erase({it->second.size(), swarm});
    swarms_.erase(it);
    return members;
  }
  void move_one(SwarmId from, SwarmId to) {
    auto& donor = swarms_.at(from);
    const NodeId node = donor.begin()->id;
    by_size_.erase({donor.size(), from});
    donor.erase(donor.begin());
    by_size_.insert({donor.size(), from});
    insert(to, node, false);
  }
  std::size_t size_of(SwarmId swarm) const { return swarms_.at(swarm).size(); }
  SizeAndId smallest() const { return *by_size_.begin(); }
  // The largest size, and the smallest ID among the swarms of that size.
  SizeAndId largest() const { return *by_size_.lower_bound({by_size_.rbegin()->first, 0}); }
  std::vector<SwarmId> ids() const {
    std::vector<SwarmId> out;
    for (const auto& [id, members] : swarms_)
      out.push_back(id);
    return out;
  }
  SwarmAssignment result() const {
    SwarmAssignment out;
    for (const auto& [id, members] : swarms_)
      for (const Member& m : members)
        out.emplace(m.id, id);
    return out;
  }

 private:
  std::map<SwarmId, std::set<Member, MovesFirst>> swarms_;
  std::set<SizeAndId> by_size_;
};

// `count` new swarm IDs for a ring that already holds the sorted, distinct
// `existing` IDs (step 4 of the rules).
std::vector<SwarmId> new_swarm_ids(std::vector<SwarmId> existing, std::size_t count) {
  std::vector<SwarmId> created;
  if (count == 0) return created;
  if (existing.empty()) {
    // floor(2^64 / count), computed without a 65-bit integer.
    const std::uint64_t all = ~std::uint64_t{0};
    const std::uint64_t step = all / count + (all % count + 1 == count ? 1 : 0);
    for (std::size_t i = 0; i < count; ++i)
      created.push_back(step * i);
    return created;
  }
  if (existing.size() == 1) {  // the only gap is the whole ring
    const SwarmId only = existing[0];
    const SwarmId opposite = only + half_ring;
    created.push_back(opposite);
    existing = {std::min(only, opposite), std::max(only, opposite)};
  }
  // Gaps as (length, start), the largest first and the smaller start on a tie.
  struct LargestFirst {
    bool operator()(const std::pair<std::uint64_t, SwarmId>& a,
                    const std::pair<std::uint64_t, SwarmId>& b) const {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    }
  };
  std::set<std::pair<std::uint64_t, SwarmId>, LargestFirst> gaps;
  for (std::size_t i = 0; i < existing.size(); ++i) {
    const SwarmId next = existing[(i + 1) % existing.size()];
    gaps.insert({next - existing[i], existing[i]});  // mod 2^64
  }
  while (created.size() < count) {
    const auto [length, start] = *gaps.begin();
    gaps.erase(gaps.begin());
    const SwarmId mid = start + length / 2;
    created.push_back(mid);
    gaps.insert({length / 2, start});
    gaps.insert({length - length / 2, mid});
  }
  return created;
}

// Sizes that satisfy valid() except for the upper limit of 64, which does not
// matter here; keeps a bad directory from dividing by zero.
SwarmSizes usable(SwarmSizes s) {
  s.min = std::max<std::uint32_t>(s.min, 1);
  s.ideal = std::max(s.ideal, s.min);
  s.max = std::max(s.max, s.ideal);
  return s;
}

}  // namespace

SwarmAssignment assign_swarms(const SwarmAssignment& previous, std::span<const NodeId> nodes,
                              const SwarmSizes& requested) {
  const SwarmSizes sizes = usable(requested);
  std::vector<NodeId> present(nodes.begin(), nodes.end());
  std::sort(present.begin(), present.end(), NodeIdLess{});
  present.erase(std::unique(present.begin(), present.end()), present.end());
  if (present.empty()) return {};
  const std::size_t n = present.size();

  // 1. Keep.
  Placement placement;
  std::vector<NodeId> pool;
  for (const auto& [node, swarm] : previous)
    placement.add_swarm(swarm);
  for (const NodeId& node : present) {
    auto it = previous.find(node);
    if (it == previous.end()) {
      pool.push_back(node);
    } else {
      placement.insert(it->second, node, true);
    }
  }
  std::vector<SwarmId> ids = placement.ids();
  const std::size_t c = ids.size();

  // 2. Count.
  std::size_t k = std::max(c, n / sizes.ideal);
  k = std::max(k, (n + sizes.max - 1) / sizes.max);
  k = std::min(k, std::max<std::size_t>(1, n / sizes.min));

  // 3. Dissolve.
  if (k < c) {
    // (present members, span of the ring, ID); c >= 2 here since k >= 1.
    std::vector<std::tuple<std::size_t, std::uint64_t, SwarmId>> candidates;
    for (std::size_t i = 0; i < c; ++i) {
      const SwarmId before = ids[(i + c - 1) % c];
      const SwarmId after = ids[(i + 1) % c];
      const std::uint64_t span = (ids[i] - before) / 2 + (after - ids[i]) / 2;  // mod 2^64
      candidates.push_back({placement.size_of(ids[i]), span, ids[i]});
    }
    std::sort(candidates.begin(), candidates.end());
    for (std::size_t i = 0; i < c - k; ++i) {
      std::vector<NodeId> members = placement.remove_swarm(std::get<2>(candidates[i]));
      pool.insert(pool.end(), members.begin(), members.end());
    }
    ids = placement.ids();
  }

  // 4. Create.
  const std::vector<SwarmId> created = new_swarm_ids(ids, k > c ? k - c : 0);
  for (SwarmId id : created)
    placement.add_swarm(id);

  // 5. Place.
  std::vector<std::pair<std::uint64_t, NodeId>> joining;
  for (const NodeId& node : pool)
    joining.push_back({labelled_hash("nightjar swarm join v1", 0, node), node});
  std::sort(joining.begin(), joining.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.bytes < b.second.bytes;
  });
  for (const auto& [rank, node] : joining)
    placement.insert(placement.smallest().second, node, false);

  // 6. Seed.
  std::vector<SwarmId> created_sorted = created;
  std::sort(created_sorted.begin(), created_sorted.end());
  for (SwarmId id : created_sorted) {
    while (placement.size_of(id) < sizes.ideal && placement.largest().first > sizes.ideal)
      placement.move_one(placement.largest().second, id);
  }

  // 7. Refill.
  for (;;) {
    const auto [small_size, small_id] = placement.smallest();
    const auto [large_size, large_id] = placement.largest();
    if (small_size >= sizes.min || large_size < small_size + 2) break;
    placement.move_one(large_id, small_id);
  }

  // 8. Trim.
  for (;;) {
    const auto [small_size, small_id] = placement.smallest();
    const auto [large_size, large_id] = placement.largest();
    if (large_size <= sizes.max || large_size < small_size + 2) break;
    placement.move_one(large_id, small_id);
  }

  return placement.result();
}

}  // namespace nightjar
