// Swarm events: what changed for one node between two swarm assignments, and
// which parts of the ring changed owner. Pure functions, so a node computes
// them from the directories it already holds, with no extra messages.
//
// Callers: the node's replication code, each time it accepts a new directory.
// It brings new members of its swarm up to date (member_joined), fetches its
// swarm's messages after a move (joined_swarm), and hands over the messages it
// holds whose recipients now belong to another swarm (changed_ranges, on
// swarm_dissolved or swarm_created).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "swarm/swarm_ring.hpp"

namespace nightjar {

// The kinds, in the order swarm_events sorts them.
enum class SwarmEventKind : std::uint8_t {
  // This node is no longer in `swarm`: it moved, or it left the directory.
  // Its messages for that swarm should go to their owners before it drops them.
  left_swarm,
  // This node is now in `swarm`: its first directory, or it moved. It fetches
  // the swarm's messages from the other members.
  joined_swarm,
  // `node` was in this node's current swarm and no longer is.
  member_left,
  // `node` is in this node's current swarm and was not before (also when the
  // swarm is new, for every other member). The old members bring it up to date.
  member_joined,
  // `swarm` is in the old directory and not in the new one: its part of the
  // ring went to its neighbours. Reported to every node of the network.
  swarm_dissolved,
  // `swarm` is in the new directory and not in the old one: it took over part
  // of the ring from its neighbours. Reported to every node of the network.
  swarm_created,
};
const char* to_string(SwarmEventKind kind);

struct SwarmEvent {
  SwarmEventKind kind;
  SwarmId swarm;
  std::optional<NodeId> node;  // set for member_left and member_joined only
  friend bool operator==(const SwarmEvent&, const SwarmEvent&) = default;
};

// The events for `self` when the directory's assignment goes from `old` to
// `now`. `old` is null for the first directory this node accepts: it then gets
// only joined_swarm (if it is in `now`), since nothing needs to move yet.
// Member events are about self's swarm in `now`, compared with the members
// that swarm had in `old` (so every member computes the same ones); a node
// absent from `now` gets only left_swarm and the ring events.
// Sorted by kind (in declaration order), then swarm ID, then node ID.
std::vector<SwarmEvent> swarm_events(const SwarmAssignment* old, const SwarmAssignment& now,
                                     const NodeId& self);

// A run of ring positions [first, last] (inclusive, never wrapping past
// 2^64 - 1) whose swarm was `from` and is `to`.
struct RingRange {
  std::uint64_t first;
  std::uint64_t last;
  SwarmId from;
  SwarmId to;
  friend bool operator==(const RingRange&, const RingRange&) = default;
};

// The positions whose nearest swarm differs between two sorted, distinct ID
// lists (swarm_ids of two assignments), in ascending order; neighbouring runs
// with the same `from` and `to` are merged, except across position 0. Empty
// when the lists are equal or when either is empty (no owner to compare).
std::vector<RingRange> changed_ranges(std::span<const SwarmId> old_ids,
                                      std::span<const SwarmId> new_ids);

// The fraction of the ring, 0 to 1, that `ranges` cover.
double ring_fraction(std::span<const RingRange> ranges);

// True when some position has another owner: the lists differ.
bool ring_changed(std::span<const SwarmId> old_ids, std::span<const SwarmId> new_ids);

// Where a recipient at `position` moved: nullopt when its swarm is the same
// under both lists (which must be sorted and not empty).
struct OwnerChange {
  SwarmId from;
  SwarmId to;
};
std::optional<OwnerChange> owner_change(std::span<const SwarmId> old_ids,
                                        std::span<const SwarmId> new_ids, std::uint64_t position);

}  // namespace nightjar
