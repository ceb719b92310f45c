// Sample descriptors, directories and network configs for the [directory]
// unit tests and the seed corpora of the directory fuzz targets: keys come
// from a seed byte, so failures reproduce and the seeds are stable.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/endpoint.hpp"
#include "swarm/descriptor.hpp"
#include "swarm/directory.hpp"
#include "swarm/network_config.hpp"

namespace nightjar::test {

inline Ed25519KeyPair identity_from(std::uint8_t seed_byte, std::uint8_t salt = 0) {
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i)
    seed.data()[i] = static_cast<std::uint8_t>(seed_byte + i * 7 + salt);
  return crypto::ed25519_from_seed(seed);
}

inline X25519PublicKey x25519_from(std::uint8_t b) {
  X25519PublicKey k;
  k.bytes.fill(b);
  return k;
}

// A signed descriptor: IPv4 and one onion key (203 bytes), or IPv6 and two
// onion keys (271 bytes).
inline NodeDescriptor make_descriptor(const Ed25519KeyPair& identity, bool ipv6 = false,
                                      std::uint16_t port = 9000) {
  NodeDescriptor d;
  d.protocol_version = 1;
  d.id = identity.pub;
  d.link_key = x25519_from(0x11);
  d.address = *Endpoint::parse(ipv6 ? "[::1]:" + std::to_string(port)
                                    : "127.0.0.1:" + std::to_string(port));
  d.published = 1'700'000'000;
  d.onion_keys.push_back({472'222, x25519_from(0x22), 1'699'999'400, 1'700'004'200});
  if (ipv6) d.onion_keys.push_back({472'223, x25519_from(0x33), 1'700'002'800, 1'700'007'800});
  d.sign(identity.sec);
  return d;
}

// A descriptor with random keys and an unchecked signature: directories of
// thousands of entries do not need real signatures to test the codec.
inline NodeDescriptor random_descriptor(std::mt19937_64& rng) {
  NodeDescriptor d;
  for (auto& b : d.id.bytes)
    b = static_cast<std::uint8_t>(rng());
  for (auto& b : d.link_key.bytes)
    b = static_cast<std::uint8_t>(rng());
  std::uint8_t ip[4] = {127, static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                        static_cast<std::uint8_t>(rng())};
  d.address = Endpoint::from_ip(ip, static_cast<std::uint16_t>(1 + rng() % 65535));
  d.published = rng() % 2'000'000'000;
  OnionKeyInfo k;
  k.epoch = rng() % 1'000'000;
  for (auto& b : k.key.bytes)
    b = static_cast<std::uint8_t>(rng());
  k.valid_from = rng() % 2'000'000'000;
  k.valid_until = k.valid_from + 4200;
  d.onion_keys.push_back(k);
  for (auto& b : d.signature.bytes)
    b = static_cast<std::uint8_t>(rng());
  return d;
}

inline NetworkId network_id_from(std::uint8_t b) {
  NetworkId id;
  id.bytes.fill(b);
  return id;
}

// An unsigned directory of `n` entries with random descriptors, spread over
// swarms of about five nodes.
inline Directory make_directory(std::size_t n, std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  Directory d;
  d.network_id = network_id_from(0xab);
  d.epoch = 5'666'666;
  d.valid_after = 1'700'000'000;
  d.valid_until = 1'700'000'900;
  const std::size_t swarm_count = n / 5 + 1;
  std::vector<SwarmId> swarm_ids;
  for (std::size_t i = 0; i < swarm_count; ++i)
    swarm_ids.push_back(rng());
  for (std::size_t i = 0; i < n; ++i)
    d.entries.push_back({random_descriptor(rng), swarm_ids[i % swarm_count]});
  d.sort_entries();
  return d;
}

inline NetworkConfig make_config(const std::vector<const Ed25519KeyPair*>& authorities,
                                 std::uint32_t threshold = 0) {
  NetworkConfig c;
  c.network_id = network_id_from(0xab);
  c.name = "test network";
  c.threshold = threshold;
  for (std::size_t i = 0; i < authorities.size(); ++i) {
    AuthorityInfo a;
    a.name = "auth" + std::to_string(i);
    a.id = authorities[i]->pub;
    a.link_key = x25519_from(static_cast<std::uint8_t>(0x40 + i));
    a.address = *Endpoint::parse("127.0.0.1:" + std::to_string(7000 + i));
    c.authorities.push_back(a);
  }
  return c;
}

}  // namespace nightjar::test
