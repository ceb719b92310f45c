// The first byte of every link frame names what it carries. Each protocol
// that runs over links (onion cells today; directory and replication later)
// registers its types here, so the numbers never collide.
#pragma once

#include <cstdint>

namespace nightjar {

enum class FrameType : std::uint8_t {
  onion_cell = 0x01,        // request_id (8) || cell
  onion_reply = 0x02,       // request_id (8) || reply cell; more cells follow
  onion_reply_last = 0x03,  // request_id (8) || reply cell; the last one

  // Directory protocol (swarm/dir_messages.hpp, docs/PROTOCOL.md "Directory protocol").
  dir_register = 0x10,        // node -> authority: a signed descriptor
  dir_register_reply = 0x11,  // authority -> node: accepted or why not
  dir_fetch = 0x12,           // anyone -> any node: send me a directory newer than epoch E
  dir_chunk = 0x13,           // a piece of a directory or of a vote
  dir_none = 0x14,            // no newer directory than the one asked about
  auth_vote = 0x15,           // authority -> authority: a piece of its vote (chunked)
  auth_signature = 0x16,      // authority -> authority: its signature over a directory

  // Replication between swarm members (swarm/replication.hpp): 0x20..0x2f.
  // Storage API requests travel inside onion cells, not as frames.
};

inline constexpr std::size_t onion_frame_header = 1 + 8;

}  // namespace nightjar
