// The storage API's requests and responses: what a client sends, inside an
// onion cell, to a member of a recipient's swarm, and what comes back in the
// reply cells. Codecs and the request signatures only; node/storage_service
// handles them, client/ builds them.
//
// Every request fits in one cell (onion::max_request_data: 526 bytes with the
// default 1032-byte cell); a response may span several reply cells.
// docs/PROTOCOL.md, "Storage API", has the layouts.
//
// retrieve, delete and delete_all are signed by the recipient (its account ID
// is an Ed25519 key) over a label, the method's arguments and a timestamp in
// unix milliseconds; a node accepts the timestamp within ±60 s of its clock
// and otherwise answers clock_skew with its own time, so the client corrects
// its offset and retries without the user ever seeing an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"
#include "swarm/message_store.hpp"
#include "swarm/swarm_ring.hpp"

namespace nightjar::storage {

inline constexpr std::uint8_t version = 1;
inline constexpr std::uint64_t signature_window_ms = 60'000;
inline constexpr std::uint16_t max_retrieve_limit = 256;
inline constexpr std::uint32_t max_wait_ms = 60'000;

enum class Method : std::uint8_t { store = 1, retrieve = 2, erase = 3, erase_all = 4, info = 5 };

struct StoreRequest {
  Ed25519PublicKey recipient;
  std::uint32_t ttl_seconds = 0;
  std::vector<std::uint8_t> body;
};
struct RetrieveRequest {
  Ed25519PublicKey recipient;
  Cursor after;
  std::uint16_t limit = 100;
  std::uint32_t wait_ms = 0;  // long poll: answer when a message arrives, or after this
  std::uint64_t timestamp_ms = 0;
  Ed25519Signature signature;
};
struct DeleteRequest {
  Ed25519PublicKey recipient;
  MessageId id;
  std::uint64_t timestamp_ms = 0;
  Ed25519Signature signature;
};
struct DeleteAllRequest {
  Ed25519PublicKey recipient;
  std::uint64_t timestamp_ms = 0;
  Ed25519Signature signature;
};
struct InfoRequest {};

using Request =
    std::variant<StoreRequest, RetrieveRequest, DeleteRequest, DeleteAllRequest, InfoRequest>;

std::vector<std::uint8_t> encode(const Request& r);
Result<Request, WireError> decode_request(Bytes bytes);

// The bytes a recipient signs for each authenticated request (label, all
// arguments, timestamp), and signing/verifying helpers.
std::vector<std::uint8_t> signed_bytes(const RetrieveRequest& r);
std::vector<std::uint8_t> signed_bytes(const DeleteRequest& r);
std::vector<std::uint8_t> signed_bytes(const DeleteAllRequest& r);
template <class R>
void sign(R& r, const Ed25519SecretKey& key) {
  r.signature = crypto::sign(key, signed_bytes(r));
}
template <class R>
bool verify(const R& r) {
  return crypto::verify(r.recipient, signed_bytes(r), r.signature);
}

enum class Status : std::uint8_t {
  ok = 0,
  bad_request = 1,       // did not decode
  wrong_swarm = 2,       // this node is not in the recipient's swarm; the right one follows
  clock_skew = 3,        // timestamp outside ±60 s; the server's time follows
  bad_signature = 4,
  ttl_out_of_range = 5,
  body_too_large = 6,
  quota_messages = 7,
  quota_bytes = 8,
  disk_full = 9,
  not_found = 10,        // delete: no such message
  quorum_failed = 11,    // stored here, but too few replicas confirmed in time
  overloaded = 12,
  deleted = 13,          // the recipient deleted this message before
  internal = 14,         // the node failed (logged there)
  not_ready = 15,        // the node has no directory yet
};
const char* to_string(Status s);

struct StoreResult {
  MessageId id;
  std::uint64_t timestamp_ms = 0;
  std::uint8_t replicas = 0;  // copies confirmed durable, this node included
};
struct RetrieveResult {
  std::vector<StoredMessage> messages;
  bool more = false;  // the limit cut the list short
};
struct DeleteResult {
  std::uint32_t deleted = 0;
};
struct InfoResult {
  std::string version;
  std::uint64_t server_time_ms = 0;
  SwarmId swarm = 0;
};
struct WrongSwarm {
  SwarmId swarm = 0;
  std::vector<NodeId> members;
};
struct ClockSkew {
  std::uint64_t server_time_ms = 0;
};

// A response: a status, and for some statuses a body.
struct Response {
  Status status = Status::ok;
  std::variant<std::monostate, StoreResult, RetrieveResult, DeleteResult, InfoResult, WrongSwarm,
               ClockSkew>
      body;
};

// `method` tells the decoder which body an ok response carries.
std::vector<std::uint8_t> encode(const Response& r);
Result<Response, WireError> decode_response(Method method, Bytes bytes);

}  // namespace nightjar::storage
