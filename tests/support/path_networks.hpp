// In-memory directories for the [paths] tests of client/path_selector: nodes
// with random IDs, addresses laid out over as many /16 networks as a test
// wants, swarms of a fixed size, and onion keys valid for every time the tests
// use. Nothing is signed: PathSelector never checks signatures.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "routing/endpoint.hpp"
#include "routing/random_source.hpp"
#include "swarm/directory.hpp"

namespace nightjar::test {

// Unix ms the tests start at (November 2023).
inline constexpr std::uint64_t t0_ms = 1'700'000'000'000;

// Node i's IPv4 address: `prefixes` distinct /16 networks, node i in network
// i % prefixes; prefixes == 0 puts every node on 127.0.0.1 (a simnet).
inline Endpoint address_for(std::size_t i, std::size_t prefixes) {
  if (prefixes == 0)
    return Endpoint::from_ip(std::array<std::uint8_t, 4>{127, 0, 0, 1},
                             static_cast<std::uint16_t>(9000 + i));
  const std::size_t net = i % prefixes;
  const std::array<std::uint8_t, 4> ip{
      static_cast<std::uint8_t>(1 + net / 250), static_cast<std::uint8_t>(net % 250),
      static_cast<std::uint8_t>(i / 256 % 256), static_cast<std::uint8_t>(i % 256)};
  return Endpoint::from_ip(ip, 9000);
}

inline NodeDescriptor path_test_node(std::mt19937_64& rng, const Endpoint& address) {
  NodeDescriptor d;
  for (auto& b : d.id.bytes)
    b = static_cast<std::uint8_t>(rng());
  d.address = address;
  d.published = t0_ms / 1000;
  OnionKeyInfo k;
  k.epoch = 1;
  k.key.bytes.fill(0x22);
  k.valid_from = 0;
  k.valid_until = std::uint64_t{1} << 40;
  d.onion_keys.push_back(k);
  return d;
}

// n nodes, in swarms of `swarm_size` (node i in swarm i / swarm_size + 1).
inline std::shared_ptr<Directory> path_network(std::size_t n, std::size_t prefixes,
                                               std::uint64_t seed = 1, std::size_t swarm_size = 5) {
  std::mt19937_64 rng(seed);
  auto d = std::make_shared<Directory>();
  d->epoch = 1;
  d->valid_after = t0_ms / 1000;
  d->valid_until = t0_ms / 1000 + 3600;
  for (std::size_t i = 0; i < n; ++i)
    d->entries.push_back({path_test_node(rng, address_for(i, prefixes)), i / swarm_size + 1});
  d->sort_entries();
  return d;
}

// A copy of `d` without `gone`.
inline std::shared_ptr<Directory> without(const Directory& d, const std::vector<NodeId>& gone) {
  auto out = std::make_shared<Directory>(d);
  std::erase_if(out->entries, [&](const DirectoryEntry& e) {
    for (const NodeId& g : gone)
      if (e.node.id == g) return true;
    return false;
  });
  return out;
}

inline DeterministicRandom seeded_random(std::uint8_t seed) {
  std::array<std::uint8_t, 32> s{};
  s.fill(seed);
  return DeterministicRandom(s);
}

}  // namespace nightjar::test
