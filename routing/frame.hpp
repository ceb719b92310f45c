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
};

inline constexpr std::size_t onion_frame_header = 1 + 8;

}  // namespace nightjar
