#include "swarm/swarm_ring.hpp"

#include <algorithm>
#include <set>

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
  for (const auto& [node, swarm] : a) ids.insert(swarm);
  return {ids.begin(), ids.end()};
}

}  // namespace nightjar
