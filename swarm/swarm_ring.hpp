// Swarm placement: which swarm each node belongs to, and which swarm holds a
// recipient's messages. Pure functions of their inputs, so every node, client
// and authority computes the same answer from the same directory.
//
// Swarm IDs are points on a 64-bit ring. A recipient's position is a 64-bit
// hash of its account key; its swarm is the one whose ID is nearest to that
// position, going either way round the ring (ties go to the smaller ID).
//
// assign_swarms is what the authorities run every epoch: it starts from the
// previous epoch's assignment and changes as little as it can, so that churn
// moves few recipients to another swarm. Callers: swarm/directory.cpp (the
// authority builds a directory), swarm/swarm_events.hpp (what changed for a
// node), clients (swarm_for).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "routing/crypto.hpp"
#include "swarm/network_params.hpp"

namespace nightjar {

using NodeId = Ed25519PublicKey;
using SwarmId = std::uint64_t;

struct NodeIdLess {
  bool operator()(const NodeId& a, const NodeId& b) const { return a.bytes < b.bytes; }
};
using SwarmAssignment = std::map<NodeId, SwarmId, NodeIdLess>;

// The ring position of an account: the first 8 bytes (big-endian) of
// BLAKE2b-256("nightjar swarm v1" || account key).
std::uint64_t ring_position(const Ed25519PublicKey& account);

// The swarm nearest to `position`; `swarms` must be sorted and not empty.
SwarmId nearest_swarm(std::span<const SwarmId> swarms, std::uint64_t position);

// The sorted, distinct swarm IDs of an assignment.
std::vector<SwarmId> swarm_ids(const SwarmAssignment& a);

// The new assignment for `nodes`, given the previous one (empty for the first
// directory). Deterministic: the same inputs give the same output on every
// machine, whatever the order of `nodes` (duplicates count once). Guarantees:
//  - every node of `nodes` is in exactly one swarm, and no other node is;
//  - with at least sizes.min nodes, every swarm has between sizes.min and
//    sizes.max members; with fewer, all nodes form one swarm. (This needs
//    sizes.max >= 2 * sizes.min - 1, true of 5/7/10 and 3/4/6; with narrower
//    sizes some node counts cannot be split, and swarms may then exceed max.)
//  - nodes of the previous assignment that are still present keep their swarm
//    unless a rule below moves them, and swarm IDs are kept, so churn moves
//    few recipients; applying it again to its own output changes nothing;
//  - new nodes join the smallest swarms (below ideal first); a swarm below
//    sizes.min is refilled from the largest swarms (those above ideal first),
//    or dissolved when the nodes cannot fill every swarm to min; a new swarm
//    is formed when every swarm could have sizes.ideal members, its ID the
//    midpoint of the largest gap of the ring (the first swarms are evenly
//    spaced from ID 0).
// The exact rules are in swarm_ring.cpp and docs/PROTOCOL.md ("Swarm placement"). Which node moves
// is decided by a hash of its ID, never by input order. Sizes that are not
// valid() are first raised to min >= 1 and min <= ideal <= max.
SwarmAssignment assign_swarms(const SwarmAssignment& previous, std::span<const NodeId> nodes,
                              const SwarmSizes& sizes);

}  // namespace nightjar
