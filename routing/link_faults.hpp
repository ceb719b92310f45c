// Fault injection for the link layer: the simnet (and tests) give links an
// optional LinkFaults policy in LinkConfig::faults, which a Link consults for
// every application frame it receives and every frame it sends, to drop it
// or hold it back for a while (latency). Without a policy nothing changes:
// production nodes never set one.
//
// Frames are dropped or delayed whole, after decryption on the way in and
// before sealing on the way out, so the encrypted stream stays intact (a lost
// frame looks like a frame the peer never sent). Handshake messages are never
// touched. Delayed frames keep their order per link and direction:
// FrameDelayQueue (pure, tested without sockets) holds them, and the link's
// delay timer releases them; frames still held when the link closes are lost.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "routing/crypto.hpp"

namespace nightjar {

enum class FrameDirection : std::uint8_t { in, out };

struct FrameFate {
  bool drop = false;
  std::chrono::milliseconds delay{0};
};

// The policy. Called on the link's loop thread, for frames of any type.
class LinkFaults {
 public:
  virtual ~LinkFaults() = default;
  // `peer` is the peer's static link key, known on node-to-node links and
  // absent on a client's anonymous link; `frame_type` is the frame's first
  // byte (routing/frame.hpp; 0 for an empty frame), so that a policy can hold
  // back one protocol only (a test that delays replication but not onion
  // cells).
  virtual FrameFate decide(FrameDirection direction, const std::optional<X25519PublicKey>& peer,
                           std::uint8_t frame_type) = 0;
};

// Frames held back, in release order. A frame may not overtake an earlier one
// of the same direction: its release time is at least the previous one's.
class FrameDelayQueue {
 public:
  struct Frame {
    std::uint64_t due_ms = 0;
    FrameDirection direction = FrameDirection::in;
    std::vector<std::uint8_t> bytes;
  };

  // Holds `bytes` until now_ms + delay (or the direction's last release time,
  // if later).
  void push(FrameDirection direction, std::uint64_t now_ms, std::chrono::milliseconds delay,
            std::vector<std::uint8_t> bytes);
  // The earliest release time; nullopt when empty.
  std::optional<std::uint64_t> next_due() const;
  // Removes and returns the frames due at now_ms, earliest first (in before
  // out on a tie).
  std::vector<Frame> take_due(std::uint64_t now_ms);
  std::size_t size() const { return in_.size() + out_.size(); }
  // True while frames of this direction are held: a later frame must queue
  // behind them, even with no delay of its own.
  bool holds(FrameDirection direction) const {
    return !(direction == FrameDirection::in ? in_ : out_).empty();
  }
  std::size_t bytes() const { return bytes_; }
  void clear();

 private:
  std::deque<Frame> in_, out_;  // each sorted by due_ms
  std::uint64_t last_in_ms_ = 0, last_out_ms_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace nightjar
