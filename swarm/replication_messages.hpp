// Frames that swarm members exchange to keep their replicas equal
// (swarm/replication.hpp): pushes of new messages with acknowledgements,
// tombstones, anti-entropy summaries, bucket listings and fetches. Codecs
// only. Each frame starts with its FrameType byte (routing/frame.hpp,
// repl_push .. repl_fetch).
// docs/PROTOCOL.md, "Replication", has the layouts.
#pragma once

#include <cstdint>
#include <vector>

#include "routing/frame.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"
#include "swarm/message_store.hpp"
#include "swarm/swarm_ring.hpp"

namespace nightjar::replication {

enum class AckStatus : std::uint8_t {
  stored = 0,       // durable here (new or duplicate)
  wrong_swarm = 1,  // not mine to keep
  refused = 2,      // a limit or an error; see the store's error
  deleted = 3,      // I hold a tombstone for it
};

struct Push {
  std::uint64_t request_id = 0;
  StoredMessage message;
};
struct PushAck {
  std::uint64_t request_id = 0;
  AckStatus status = AckStatus::stored;
};
struct Tombstone {
  Mailbox mailbox;
  MessageId id;
  std::uint64_t expiry_ms = 0;
};
struct Summary {
  SwarmId swarm = 0;
  StoreSummary buckets{};
};
struct BucketList {
  std::uint8_t bucket = 0;
  bool last = true;  // the final frame of this bucket's listing
  std::vector<EntryState> entries;
};
struct Fetch {
  std::vector<MessageId> ids;
};

inline constexpr std::size_t max_bucket_entries_per_frame = 1000;
inline constexpr std::size_t max_fetch_ids = 256;
inline constexpr std::size_t max_body_bytes = 65535;

// Encoding is canonical: each decoder accepts only what its encoder produces.
// A bucket listing's entries all lie in its bucket (the ID's first byte) in
// strictly increasing ID order, at most max_bucket_entries_per_frame per
// frame; a fetch asks for 1..max_fetch_ids IDs. Encoders throw
// std::length_error or std::invalid_argument for a frame that breaks these
// rules (a programming error, as in WireWriter); decoders reject it.
std::vector<std::uint8_t> encode(const Push& m);
std::vector<std::uint8_t> encode(const PushAck& m);
std::vector<std::uint8_t> encode(const Tombstone& m);
std::vector<std::uint8_t> encode(const Summary& m);
std::vector<std::uint8_t> encode(const BucketList& m);
std::vector<std::uint8_t> encode(const Fetch& m);

Result<Push, WireError> decode_push(Bytes frame);
Result<PushAck, WireError> decode_push_ack(Bytes frame);
Result<Tombstone, WireError> decode_tombstone(Bytes frame);
Result<Summary, WireError> decode_summary(Bytes frame);
Result<BucketList, WireError> decode_bucket(Bytes frame);
Result<Fetch, WireError> decode_fetch(Bytes frame);

// Splits a bucket's entries over as many frames as needed (at least one; an
// empty bucket is one frame with no entries). The entries need not be sorted:
// they are sorted here, and an ID listed twice is sent once (its first
// entry). Every entry must lie in `bucket`.
std::vector<std::vector<std::uint8_t>> encode_bucket(std::uint8_t bucket,
                                                     const std::vector<EntryState>& entries);

}  // namespace nightjar::replication
