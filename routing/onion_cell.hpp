// Onion cells: the fixed-size packets that carry a request over a path of up
// to five nodes, and the reply cells that carry the answer back. Clients call
// build_cell and open_reply; nodes call peel_cell, make_reply and wrap_reply.
// docs/PROTOCOL.md, section "Onion cells", specifies every byte.
//
// Cell = alpha (32) || beta (5 slots of 88) || gamma (16) || payload.
//  - alpha: this hop's ephemeral X25519 key (top bit: key-epoch parity);
//    one X25519 per hop, no Sphinx blinding.
//  - beta: routing slots, shifted one slot per hop, refilled with keystream
//    so the length never changes; gamma: Poly1305 over alpha || beta.
//  - payload: LIONESS-encrypted per hop, so tampering destroys all of it.
// A reply cell is the same size; each hop on the way back LIONESS-encrypts it
// under a key derived from that hop's shared secret.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/frame.hpp"
#include "routing/lioness.hpp"
#include "routing/onion_keys.hpp"
#include "routing/random_source.hpp"
#include "routing/result.hpp"

namespace nightjar {

// A node is named by its Ed25519 identity key.
using NodeId = Ed25519PublicKey;
struct ReplyKeyTag;
using ReplyKey = Secret<32, ReplyKeyTag>;

namespace onion {
inline constexpr std::size_t max_hops = 5;
inline constexpr std::size_t slot_bytes = 88;
inline constexpr std::size_t alpha_bytes = 32;
inline constexpr std::size_t beta_bytes = max_hops * slot_bytes;
inline constexpr std::size_t mac_bytes = 16;
inline constexpr std::size_t header_bytes = alpha_bytes + beta_bytes + mac_bytes;  // 488
inline constexpr std::size_t zero_prefix = 16;  // integrity check on opened payloads
inline constexpr std::size_t request_prefix = zero_prefix + 2;
inline constexpr std::size_t reply_prefix = zero_prefix + 4;
inline constexpr std::size_t default_cell_bytes = 1032;  // payload 544: LIONESS R = 512
inline constexpr std::size_t min_cell_bytes = header_bytes + 64;
inline constexpr std::size_t max_cell_bytes = 16384;

inline constexpr std::size_t payload_bytes(std::size_t cell_bytes) {
  return cell_bytes - header_bytes;
}
inline constexpr std::size_t max_request_data(std::size_t cell_bytes) {
  return payload_bytes(cell_bytes) - request_prefix;
}
inline constexpr std::size_t max_reply_data(std::size_t cell_bytes) {
  return cell_bytes - reply_prefix;
}
inline constexpr bool valid_cell_size(std::size_t cell_bytes) {
  return cell_bytes >= min_cell_bytes && cell_bytes <= max_cell_bytes;
}

enum class SlotType : std::uint8_t { relay = 1, deliver = 2 };
}  // namespace onion

enum class OnionError {
  bad_path_length,  // 0 or more than onion::max_hops hops
  bad_cell_size,
  data_too_large,  // more than the cell (or reply cell) can carry
  low_order_key,   // an onion key in the path is a low-order point
};
const char* to_string(OnionError e);

// --- Client side ---------------------------------------------------------------

struct OnionHop {
  NodeId node;
  X25519PublicKey onion_key;
  std::uint64_t key_epoch = 0;
};

struct BuiltCell {
  std::vector<std::uint8_t> cell;
  NodeId first_hop;
  std::vector<ReplyKey> reply_keys;  // one per hop, in path order: opens replies
};

Result<BuiltCell, OnionError> build_cell(std::size_t cell_bytes, std::span<const OnionHop> path,
                                         Bytes data, RandomSource& rng);

enum class ReplyKind : std::uint8_t { response = 0, relay_error = 1 };
// The code of a response cell: 0 in every cell of an answer but the last cell
// of an answer that leaves the request open (a segment of a streamed answer,
// sent as onion_reply), which carries this.
inline constexpr std::uint8_t reply_segment_end = 1;

struct OpenedReply {
  std::size_t hop = 0;  // index in the path of the node that answered
  ReplyKind kind = ReplyKind::response;
  std::uint8_t code = 0;
  std::vector<std::uint8_t> data;
};

enum class ReplyError { bad_size, unreadable, bad_length };
const char* to_string(ReplyError e);

// Removes the layers of a reply cell (in place) with the keys from build_cell.
Result<OpenedReply, ReplyError> open_reply(std::span<const ReplyKey> reply_keys, MutableBytes cell);

// --- Node side -----------------------------------------------------------------

enum class PeelDrop {
  wrong_size,         // not the network's cell size
  expired_key,        // no live onion key for the cell's epoch parity
  low_order_key,      // alpha is a low-order point
  bad_mac,            // header tampered, or built for another key
  replay,             // seen before in this key epoch
  replay_cache_full,  // cannot check, so refused
  bad_slot,           // unknown slot type, non-zero reserved bytes, or a deliver
                      // slot with a non-zero byte after its type
  bad_payload,        // destination: integrity prefix or length wrong, or a
                      // non-zero byte after the request
};
const char* to_string(PeelDrop d);

struct Peeled {
  onion::SlotType action = onion::SlotType::relay;
  NodeId next_hop;  // relay: where the (rewritten) cell goes next
  Bytes data;       // deliver: the request, a view into the cell buffer
  ReplyKey reply_key;
  std::uint64_t epoch = 0;
};

// Peels one layer in place. On `relay`, `cell` now holds the cell for the
// next hop; on `deliver`, `data` points at the request inside `cell`.
Result<Peeled, PeelDrop> peel_cell(const OnionKeyring& keys, ReplayCache& replay, MutableBytes cell,
                                   std::size_t cell_bytes, std::uint64_t now);

// Builds a reply cell answered by this hop (destination, or a relay reporting
// an error), encrypted under its reply key.
Result<std::vector<std::uint8_t>, OnionError> make_reply(std::size_t cell_bytes,
                                                         const ReplyKey& reply_key, ReplyKind kind,
                                                         std::uint8_t code, Bytes data);
// Adds this hop's layer to a reply cell travelling back, in place.
void wrap_reply(const ReplyKey& reply_key, MutableBytes cell);

// --- Onion frames ----------------------------------------------------------------

// Between nodes, a cell or reply cell travels in a link frame:
// type (1) || request_id (8, big-endian) || cell; routing/frame.hpp has the
// types and onion_frame_header. Clients and relays build these.

// Writes the header into the first onion_frame_header bytes of `frame`, for a
// buffer that holds (or will hold) the cell after them. Throws
// std::length_error if `frame` is shorter than the header (a programming error).
void write_onion_frame_header(MutableBytes frame, FrameType type, std::uint64_t request_id);
// A whole frame: the header, then a copy of `cell`.
std::vector<std::uint8_t> make_onion_frame(FrameType type, std::uint64_t request_id, Bytes cell);

}  // namespace nightjar
