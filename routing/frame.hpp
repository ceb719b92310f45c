// The first byte of every link frame names what it carries. Each protocol
// that runs over links (the link layer's own liveness probes, onion cells,
// directory, replication) registers its types here, or for replication its
// range, so the numbers never collide.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nightjar {

enum class FrameType : std::uint8_t {
  onion_cell = 0x01,        // request_id (8) || cell
  onion_reply = 0x02,       // request_id (8) || reply cell; more cells follow
  onion_reply_last = 0x03,  // request_id (8) || reply cell; the last one

  // Link-internal (routing/link.hpp, liveness check): the Link answers and
  // consumes these itself; they never reach the application. No payload.
  link_ping = 0x04,  // are you there? Answered at once with a pong
  link_pong = 0x05,  // the answer to a ping

  // Directory protocol (swarm/dir_messages.hpp, docs/PROTOCOL.md "Directory protocol").
  dir_register = 0x10,        // node -> authority: a signed descriptor
  dir_register_reply = 0x11,  // authority -> node: accepted or why not
  dir_fetch = 0x12,           // anyone -> any node: send me a directory newer than epoch E
  dir_chunk = 0x13,           // a piece of a directory or of a vote
  dir_none = 0x14,            // no newer directory than the one asked about
  auth_vote = 0x15,           // authority -> authority: a piece of its vote (chunked)
  auth_signature = 0x16,      // authority -> authority: its signature over a directory

  // Replication between swarm members: 0x20..0x2f, its types in
  // swarm/replication_messages.hpp (replication::Type).
  // Storage API requests travel inside onion cells, not as frames.
};

inline constexpr std::size_t onion_frame_header = 1 + 8;

// True for the types the link layer keeps to itself.
inline constexpr bool is_link_internal(std::uint8_t type) {
  return type == static_cast<std::uint8_t>(FrameType::link_ping) ||
         type == static_cast<std::uint8_t>(FrameType::link_pong);
}

}  // namespace nightjar
