// The storage API's requests and responses: what a client sends, inside an
// onion cell, to a member of a recipient's swarm, and what comes back in the
// reply cells. Codecs and the request signatures only; node/storage_service
// handles them, client/ builds them.
//
// Every request fits in one cell (onion::max_request_data: 526 bytes with the
// default 1032-byte cell, so a store body of up to 486 bytes); a response may
// span several reply cells.
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

// Version 4 added namespaces (a namespace byte before every mailbox owner)
// and lookup.
inline constexpr std::uint8_t version = 4;
inline constexpr std::uint64_t signature_window_ms = 60'000;
inline constexpr std::uint16_t max_retrieve_limit = 256;
inline constexpr std::uint32_t max_wait_ms = 60'000;

enum class Method : std::uint8_t {
  store = 1,
  retrieve = 2,
  erase = 3,
  erase_all = 4,
  info = 5,
  lookup = 6,  // a public record, by owner and type; unsigned
  cover = 7,   // cover traffic (docs/ANONYMITY.md): a loop is answered, a drop is not
};

// store, retrieve, delete and delete_all name a mailbox: a namespace and its
// owner (`recipient`). In the records namespace a store publishes a public
// record (swarm/public_record.hpp) and its body must be one, signed by the
// owner; retrieve, delete and delete_all are signed by the owner whatever the
// namespace.
struct StoreRequest {
  Ed25519PublicKey recipient;
  std::uint32_t ttl_seconds = 0;
  std::vector<std::uint8_t> body;
  Namespace ns = Namespace::messages;  // last, so that older aggregate initialisers still read
};
// Asks for the recipient's messages that arrived at this node after `since`
// (the arrival cursor of this node's last answer to the client) and sort
// after `floor`, in the order they arrived. When `since` is not this node's
// (another node's, from before a wipe, or zero: the client never asked this
// node), it counts as the start of the node's arrival order, and `floor`
// alone decides: the client's cursor, which means the same on every member.
// With a wait, the node answers when a message for the recipient arrives
// (whatever its timestamp), or when the wait ends. With `stream` as well, it
// keeps the request open after such an answer: each later arrival is sent as
// one more answer (a reply segment, see Responder::reply_segment) until the
// wait ends, and the last answer closes the request.
struct RetrieveRequest {
  Ed25519PublicKey recipient;
  ArrivalCursor since;
  Cursor floor;
  std::uint16_t limit = 100;
  std::uint32_t wait_ms = 0;  // long poll: answer when a message arrives, or after this
  bool stream = false;        // keep answering arrivals until wait_ms ends (needs a wait)
  std::uint64_t timestamp_ms = 0;
  Ed25519Signature signature;
  Namespace ns = Namespace::messages;  // last, so that older aggregate initialisers still read
};
struct DeleteRequest {
  Ed25519PublicKey recipient;
  MessageId id;
  std::uint64_t timestamp_ms = 0;
  Ed25519Signature signature;
  Namespace ns = Namespace::messages;  // last, so that older aggregate initialisers still read
};
struct DeleteAllRequest {
  Ed25519PublicKey recipient;
  std::uint64_t timestamp_ms = 0;
  Ed25519Signature signature;
  Namespace ns = Namespace::messages;  // last, so that older aggregate initialisers still read
};
struct InfoRequest {};
// The newest public record of `type` that the owner published: readable by
// anyone, so not signed.
struct LookupRequest {
  Ed25519PublicKey owner;
  std::uint8_t type = 0;
};

// A cover cell's request. A loop is answered with an empty ok (the cell
// comes back to its client); a drop is discarded without an answer. Nothing
// else: the destination learns only that a client sent cover.
struct CoverRequest {
  bool loop = false;
};

template <class R>
Mailbox mailbox_of(const R& r) {
  return Mailbox{r.ns, r.recipient};
}

using Request = std::variant<StoreRequest, RetrieveRequest, DeleteRequest, DeleteAllRequest,
                             InfoRequest, LookupRequest, CoverRequest>;

// Request = version (1) || method (1) || the method's fields. Encoding is
// canonical: decode_request accepts only what encode produces (it rejects a
// limit of 0 or over max_retrieve_limit and a wait over max_wait_ms; the node
// checks the body against the network's own, smaller limit).
std::vector<std::uint8_t> encode(const Request& r);
Result<Request, WireError> decode_request(Bytes bytes);

// The bytes a recipient signs for each authenticated request: an ASCII label
// naming the method ("nightjar retrieve v4", "nightjar delete v2",
// "nightjar delete_all v2"), then the request's encoding from the namespace up
// to and including the timestamp. No label is a prefix of another, so a
// signature never verifies for a method other than its own.
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
  stale = 16,            // publish: the mailbox holds a newer version of this record
};
inline constexpr std::size_t status_count = 17;
const char* to_string(Status s);

struct StoreResult {
  MessageId id;
  std::uint64_t timestamp_ms = 0;
  std::uint8_t replicas = 0;  // copies confirmed durable, this node included
};
struct RetrieveResult {
  std::vector<StoredMessage> messages;  // in the node's arrival order
  bool more = false;  // the limit cut the list short
  std::uint64_t server_time_ms = 0;  // the node's clock when it answered
  // Where the next retrieve from this node starts (its `since`): after the
  // last message listed when `more`, else after everything the node holds.
  ArrivalCursor cursor;
};
struct DeleteResult {
  std::uint32_t deleted = 0;
};
struct LookupResult {
  std::vector<std::uint8_t> record;  // a public record, as published (its owner signed it)
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
               ClockSkew, LookupResult>
      body;
};

// At most this many members in a wrong_swarm answer.
inline constexpr std::size_t max_listed_members = 64;

// Response = status (1) || body. The body must be the one the status (and for
// ok, the request's method) calls for; encode writes whichever it holds, and
// throws std::length_error for more than max_retrieve_limit messages,
// max_listed_members members, a body over 65,535 or a version string over 255
// bytes (programming errors, as in WireWriter).
// `method` tells the decoder which body an ok response carries. Retrieved
// messages travel without their recipient (the request's): decoded ones have
// a zero StoredMessage::recipient, which the client fills in.
std::vector<std::uint8_t> encode(const Response& r);
Result<Response, WireError> decode_response(Method method, Bytes bytes);

}  // namespace nightjar::storage
