// NetworkParams: the settings every node and client of one network must
// agree on. The authorities put them in every directory they sign, so a node
// or client learns them from the directory, never from its own config.
// Encoded canonically (routing/wire.hpp) inside the directory.
#pragma once

#include <cstdint>
#include <string>

#include "routing/bytes.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"

namespace nightjar {

struct SwarmSizes {
  std::uint32_t min = 5;    // a swarm below this is refilled or dissolved
  std::uint32_t ideal = 7;  // new swarms are formed at this size
  std::uint32_t max = 10;   // new nodes do not join a swarm this large
  bool valid() const { return min >= 1 && min <= ideal && ideal <= max && max <= 64; }
  friend bool operator==(const SwarmSizes&, const SwarmSizes&) = default;
};

// Anonymity defences (docs/ANONYMITY.md): all off (0) unless the network's
// authorities turn them on. Relays hold each cell and reply cell for a random
// delay (exponential with mean mix_delay_ms, never more than
// mix_delay_max_ms); clients send loop cells (which come back) and drop cells
// (which the destination discards), each a Poisson stream at its rate; a
// streamed long poll gets an answer at least every poll_padding_ms, empty
// when nothing arrived.
struct Defences {
  std::uint32_t mix_delay_ms = 0;
  std::uint32_t mix_delay_max_ms = 0;
  std::uint32_t loop_rate_millihertz = 0;  // loop cells per 1,000 s per client
  std::uint32_t drop_rate_millihertz = 0;  // drop cells per 1,000 s per client
  std::uint32_t poll_padding_ms = 0;
  bool any() const {
    return mix_delay_ms || loop_rate_millihertz || drop_rate_millihertz || poll_padding_ms;
  }
  // How much later than without delays a request's last answer can come:
  // every relay holds the cell, and then the reply, for at most the bound.
  std::uint32_t worst_round_trip_delay_ms(std::uint32_t relays) const {
    return mix_delay_ms ? 2 * relays * mix_delay_max_ms : 0;
  }
  friend bool operator==(const Defences&, const Defences&) = default;
};

struct NetworkParams {
  SwarmSizes swarm;
  // Copies that must be durable before a store is acknowledged, counting the
  // receiving node. 0 means a majority of the swarm.
  std::uint32_t quorum = 0;
  std::uint32_t cell_bytes = 1032;
  // Directory epoch: the authorities publish one directory per epoch.
  std::uint32_t directory_epoch_seconds = 300;
  // A directory stays valid for this many epochs after its own.
  std::uint32_t directory_lifetime_epochs = 3;
  // Onion keys rotate on their own schedule (routing/onion_keys.hpp).
  std::uint32_t onion_epoch_seconds = 3600;
  std::uint32_t onion_grace_seconds = 600;
  // Storage limits (each violation has its own error code).
  std::uint32_t ttl_min_seconds = 10;
  std::uint32_t ttl_max_seconds = 14 * 24 * 3600;
  std::uint32_t max_body_bytes = 440;  // fits one store request in a 1032-byte cell
  std::uint32_t recipient_quota_messages = 10'000;
  std::uint64_t recipient_quota_bytes = 8u << 20;
  Defences defences;

  // The quorum for a swarm of `swarm_size` members.
  std::uint32_t quorum_for(std::uint32_t swarm_size) const;
  // Empty when valid, else what is wrong (for operators).
  std::string check() const;

  void encode(WireWriter& w) const;
  static Result<NetworkParams, WireError> decode(WireReader& r);
  friend bool operator==(const NetworkParams&, const NetworkParams&) = default;
};

}  // namespace nightjar
