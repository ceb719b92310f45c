// The first byte of every link frame names what it carries. Every type of
// every protocol that runs over links (the link layer's own liveness probes,
// onion cells, directory, replication) is numbered here and named in
// frame_types below, so the numbers never collide; a node dispatches on them
// through a FrameRegistry (routing/frame_registry.hpp).
#pragma once

#include <array>
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

  // Replication between swarm members (swarm/replication_messages.hpp,
  // docs/PROTOCOL.md "Replication"); only on links between directory nodes.
  repl_push = 0x20,       // a message; request_id 0: no acknowledgement wanted
  repl_push_ack = 0x21,   // request_id, status
  repl_tombstone = 0x22,  // a delete
  repl_summary = 0x23,    // 256 bucket summaries
  repl_bucket = 0x24,     // the entries of one bucket (maybe in several frames)
  repl_fetch = 0x25,      // send me these messages (answered with pushes, request_id 0)

  // Storage API requests travel inside onion cells, not as frames.
};

struct FrameTypeInfo {
  FrameType type;
  const char* name;
};

// Every frame type, in number order.
inline constexpr std::array<FrameTypeInfo, 18> frame_types{{
    {FrameType::onion_cell, "onion_cell"},
    {FrameType::onion_reply, "onion_reply"},
    {FrameType::onion_reply_last, "onion_reply_last"},
    {FrameType::link_ping, "link_ping"},
    {FrameType::link_pong, "link_pong"},
    {FrameType::dir_register, "dir_register"},
    {FrameType::dir_register_reply, "dir_register_reply"},
    {FrameType::dir_fetch, "dir_fetch"},
    {FrameType::dir_chunk, "dir_chunk"},
    {FrameType::dir_none, "dir_none"},
    {FrameType::auth_vote, "auth_vote"},
    {FrameType::auth_signature, "auth_signature"},
    {FrameType::repl_push, "repl_push"},
    {FrameType::repl_push_ack, "repl_push_ack"},
    {FrameType::repl_tombstone, "repl_tombstone"},
    {FrameType::repl_summary, "repl_summary"},
    {FrameType::repl_bucket, "repl_bucket"},
    {FrameType::repl_fetch, "repl_fetch"},
}};

// The type's name, or nullptr for a number that is not a frame type.
constexpr const char* frame_type_name(std::uint8_t type) {
  for (const auto& t : frame_types)
    if (static_cast<std::uint8_t>(t.type) == type) return t.name;
  return nullptr;
}

constexpr bool frame_types_in_order() {
  for (std::size_t i = 1; i < frame_types.size(); ++i)
    if (!(frame_types[i - 1].type < frame_types[i].type)) return false;
  return true;
}
static_assert(frame_types_in_order(), "frame_types: in number order, each number once");

inline constexpr std::size_t onion_frame_header = 1 + 8;

// True for the types the link layer keeps to itself.
inline constexpr bool is_link_internal(std::uint8_t type) {
  return type == static_cast<std::uint8_t>(FrameType::link_ping) ||
         type == static_cast<std::uint8_t>(FrameType::link_pong);
}

}  // namespace nightjar
