#include "swarm/storage_messages.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>

namespace nightjar::storage {

namespace {

// The signed requests' labels. None is a prefix of another (they differ at
// byte 9 or 15), so the signed bytes of two methods can never be equal,
// whatever the arguments: a signature made for one method verifies for no
// other.
constexpr std::string_view retrieve_label = "nightjar retrieve v2";
constexpr std::string_view delete_label = "nightjar delete v1";
constexpr std::string_view delete_all_label = "nightjar delete_all v1";

constexpr std::size_t max_body_bytes = 0xffff;
constexpr std::size_t stored_message_header = 32 + 8 + 8 + 2;

constexpr Method method_of(const StoreRequest&) {
  return Method::store;
}
constexpr Method method_of(const RetrieveRequest&) {
  return Method::retrieve;
}
constexpr Method method_of(const DeleteRequest&) {
  return Method::erase;
}
constexpr Method method_of(const DeleteAllRequest&) {
  return Method::erase_all;
}
constexpr Method method_of(const InfoRequest&) {
  return Method::info;
}

// Everything a request carries but its signature: both the request's
// encoding and the signed bytes are built from these.
void write_signed_fields(WireWriter& w, const RetrieveRequest& r) {
  w.fixed(r.recipient)
      .u64(r.since.incarnation)
      .u64(r.since.seq)
      .u64(r.floor.timestamp_ms)
      .fixed(r.floor.id)
      .u16(r.limit)
      .u32(r.wait_ms)
      .u64(r.timestamp_ms);
}
void write_signed_fields(WireWriter& w, const DeleteRequest& r) {
  w.fixed(r.recipient).fixed(r.id).u64(r.timestamp_ms);
}
void write_signed_fields(WireWriter& w, const DeleteAllRequest& r) {
  w.fixed(r.recipient).u64(r.timestamp_ms);
}

void write_fields(WireWriter& w, const StoreRequest& r) {
  w.fixed(r.recipient).u32(r.ttl_seconds).var16(r.body);
}
template <class Signed>
void write_fields(WireWriter& w, const Signed& r) {
  write_signed_fields(w, r);
  w.fixed(r.signature);
}
void write_fields(WireWriter&, const InfoRequest&) {}

template <class R>
std::vector<std::uint8_t> labelled(std::string_view label, const R& r) {
  WireWriter w(label.size() + 96);
  w.raw(as_bytes(label));
  write_signed_fields(w, r);
  return w.take();
}

Result<StoreRequest, WireError> read_store(WireReader& r) {
  StoreRequest q;
  auto recipient = r.fixed<Ed25519PublicKey>();
  if (!recipient) return recipient.failure();
  q.recipient = *recipient;
  auto ttl = r.u32();
  if (!ttl) return ttl.failure();
  q.ttl_seconds = *ttl;
  auto body = r.var16(max_body_bytes);
  if (!body) return body.failure();
  q.body.assign(body->begin(), body->end());
  return q;
}

Result<RetrieveRequest, WireError> read_retrieve(WireReader& r) {
  RetrieveRequest q;
  auto recipient = r.fixed<Ed25519PublicKey>();
  if (!recipient) return recipient.failure();
  q.recipient = *recipient;
  auto incarnation = r.u64();
  if (!incarnation) return incarnation.failure();
  q.since.incarnation = *incarnation;
  auto seq = r.u64();
  if (!seq) return seq.failure();
  q.since.seq = *seq;
  auto floor_ts = r.u64();
  if (!floor_ts) return floor_ts.failure();
  q.floor.timestamp_ms = *floor_ts;
  auto floor_id = r.fixed<MessageId>();
  if (!floor_id) return floor_id.failure();
  q.floor.id = *floor_id;
  auto limit = r.u16();
  if (!limit) return limit.failure();
  if (*limit == 0 || *limit > max_retrieve_limit) return fail(WireError::bad_value);
  q.limit = *limit;
  auto wait = r.u32();
  if (!wait) return wait.failure();
  if (*wait > max_wait_ms) return fail(WireError::bad_value);
  q.wait_ms = *wait;
  auto ts = r.u64();
  if (!ts) return ts.failure();
  q.timestamp_ms = *ts;
  auto sig = r.fixed<Ed25519Signature>();
  if (!sig) return sig.failure();
  q.signature = *sig;
  return q;
}

Result<DeleteRequest, WireError> read_delete(WireReader& r) {
  DeleteRequest q;
  auto recipient = r.fixed<Ed25519PublicKey>();
  if (!recipient) return recipient.failure();
  q.recipient = *recipient;
  auto id = r.fixed<MessageId>();
  if (!id) return id.failure();
  q.id = *id;
  auto ts = r.u64();
  if (!ts) return ts.failure();
  q.timestamp_ms = *ts;
  auto sig = r.fixed<Ed25519Signature>();
  if (!sig) return sig.failure();
  q.signature = *sig;
  return q;
}

Result<DeleteAllRequest, WireError> read_delete_all(WireReader& r) {
  DeleteAllRequest q;
  auto recipient = r.fixed<Ed25519PublicKey>();
  if (!recipient) return recipient.failure();
  q.recipient = *recipient;
  auto ts = r.u64();
  if (!ts) return ts.failure();
  q.timestamp_ms = *ts;
  auto sig = r.fixed<Ed25519Signature>();
  if (!sig) return sig.failure();
  q.signature = *sig;
  return q;
}

// Reads one method's fields and converts them to a Request.
template <class Read>
Result<Request, WireError> read_as_request(WireReader& r, Read read) {
  auto q = read(r);
  if (!q) return q.failure();
  return Request{std::move(*q)};
}

}  // namespace

std::vector<std::uint8_t> encode(const Request& r) {
  return std::visit(
      [](const auto& q) {
        WireWriter w(2 + 32 + 8 + 32 + 8 + 64);
        w.u8(version).u8(static_cast<std::uint8_t>(method_of(q)));
        write_fields(w, q);
        return w.take();
      },
      r);
}

Result<Request, WireError> decode_request(Bytes bytes) {
  WireReader r(bytes);
  auto v = r.u8();
  if (!v) return v.failure();
  if (*v != version) return fail(WireError::bad_value);
  auto m = r.u8();
  if (!m) return m.failure();
  Result<Request, WireError> q = fail(WireError::bad_value);
  switch (static_cast<Method>(*m)) {
    case Method::store:
      q = read_as_request(r, read_store);
      break;
    case Method::retrieve:
      q = read_as_request(r, read_retrieve);
      break;
    case Method::erase:
      q = read_as_request(r, read_delete);
      break;
    case Method::erase_all:
      q = read_as_request(r, read_delete_all);
      break;
    case Method::info:
      q = Request{InfoRequest{}};
      break;
    default:
      return fail(WireError::bad_value);
  }
  if (!q) return q;
  if (auto end = r.finish(); !end) return end.failure();
  return q;
}

std::vector<std::uint8_t> signed_bytes(const RetrieveRequest& r) {
  return labelled(retrieve_label, r);
}
std::vector<std::uint8_t> signed_bytes(const DeleteRequest& r) {
  return labelled(delete_label, r);
}
std::vector<std::uint8_t> signed_bytes(const DeleteAllRequest& r) {
  return labelled(delete_all_label, r);
}

const char* to_string(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::bad_request:
      return "request does not decode";
    case Status::wrong_swarm:
      return "recipient belongs to another swarm";
    case Status::clock_skew:
      return "timestamp outside the accepted window";
    case Status::bad_signature:
      return "signature does not verify";
    case Status::ttl_out_of_range:
      return "ttl out of range";
    case Status::body_too_large:
      return "body too large";
    case Status::quota_messages:
      return "recipient's message quota reached";
    case Status::quota_bytes:
      return "recipient's byte quota reached";
    case Status::disk_full:
      return "node disk full";
    case Status::not_found:
      return "no such message";
    case Status::quorum_failed:
      return "too few replicas confirmed in time";
    case Status::overloaded:
      return "node overloaded";
    case Status::deleted:
      return "message was deleted";
    case Status::internal:
      return "internal node error";
    case Status::not_ready:
      return "node has no directory yet";
  }
  return "unknown status";
}

// --- Responses ---------------------------------------------------------------

namespace {

void write_body(WireWriter&, const std::monostate&) {}
void write_body(WireWriter& w, const StoreResult& b) {
  w.fixed(b.id).u64(b.timestamp_ms).u8(b.replicas);
}
void write_body(WireWriter& w, const RetrieveResult& b) {
  if (b.messages.size() > max_retrieve_limit)
    throw std::length_error("storage::encode: more messages than max_retrieve_limit");
  w.u16(static_cast<std::uint16_t>(b.messages.size()))
      .u8(b.more ? 1 : 0)
      .u64(b.server_time_ms)
      .u64(b.cursor.incarnation)
      .u64(b.cursor.seq);
  for (const auto& m : b.messages)
    w.fixed(m.id).u64(m.timestamp_ms).u64(m.expiry_ms).var16(m.body);
}
void write_body(WireWriter& w, const DeleteResult& b) {
  w.u32(b.deleted);
}
void write_body(WireWriter& w, const InfoResult& b) {
  w.var8(as_bytes(b.version)).u64(b.server_time_ms).u64(b.swarm);
}
void write_body(WireWriter& w, const WrongSwarm& b) {
  if (b.members.size() > max_listed_members)
    throw std::length_error("storage::encode: more swarm members than max_listed_members");
  w.u64(b.swarm).u8(static_cast<std::uint8_t>(b.members.size()));
  for (const auto& id : b.members)
    w.fixed(id);
}
void write_body(WireWriter& w, const ClockSkew& b) {
  w.u64(b.server_time_ms);
}

Result<StoreResult, WireError> read_store_result(WireReader& r) {
  StoreResult b;
  auto id = r.fixed<MessageId>();
  if (!id) return id.failure();
  b.id = *id;
  auto ts = r.u64();
  if (!ts) return ts.failure();
  b.timestamp_ms = *ts;
  auto replicas = r.u8();
  if (!replicas) return replicas.failure();
  b.replicas = *replicas;
  return b;
}

Result<StoredMessage, WireError> read_message(WireReader& r) {
  StoredMessage m;  // recipient stays zero: the request's, not repeated
  auto id = r.fixed<MessageId>();
  if (!id) return id.failure();
  m.id = *id;
  auto ts = r.u64();
  if (!ts) return ts.failure();
  m.timestamp_ms = *ts;
  auto expiry = r.u64();
  if (!expiry) return expiry.failure();
  m.expiry_ms = *expiry;
  auto body = r.var16(max_body_bytes);
  if (!body) return body.failure();
  m.body.assign(body->begin(), body->end());
  return m;
}

Result<RetrieveResult, WireError> read_retrieve_result(WireReader& r) {
  RetrieveResult b;
  auto count = r.u16();
  if (!count) return count.failure();
  if (*count > max_retrieve_limit) return fail(WireError::too_long);
  auto more = r.u8();
  if (!more) return more.failure();
  if (*more > 1) return fail(WireError::bad_value);
  b.more = *more == 1;
  auto server_time = r.u64();
  if (!server_time) return server_time.failure();
  b.server_time_ms = *server_time;
  auto incarnation = r.u64();
  if (!incarnation) return incarnation.failure();
  b.cursor.incarnation = *incarnation;
  auto seq = r.u64();
  if (!seq) return seq.failure();
  b.cursor.seq = *seq;
  // Reserve only what the bytes left can hold, whatever the count claims.
  b.messages.reserve(std::min<std::size_t>(*count, r.remaining() / stored_message_header));
  for (std::uint16_t i = 0; i < *count; ++i) {
    auto m = read_message(r);
    if (!m) return m.failure();
    b.messages.push_back(std::move(*m));
  }
  return b;
}

Result<DeleteResult, WireError> read_delete_result(WireReader& r) {
  auto n = r.u32();
  if (!n) return n.failure();
  return DeleteResult{*n};
}

Result<InfoResult, WireError> read_info_result(WireReader& r) {
  InfoResult b;
  auto v = r.var8();
  if (!v) return v.failure();
  b.version.assign(v->begin(), v->end());
  auto t = r.u64();
  if (!t) return t.failure();
  b.server_time_ms = *t;
  auto swarm = r.u64();
  if (!swarm) return swarm.failure();
  b.swarm = *swarm;
  return b;
}

Result<WrongSwarm, WireError> read_wrong_swarm(WireReader& r) {
  WrongSwarm b;
  auto swarm = r.u64();
  if (!swarm) return swarm.failure();
  b.swarm = *swarm;
  auto n = r.u8();
  if (!n) return n.failure();
  if (*n > max_listed_members) return fail(WireError::too_long);
  b.members.reserve(*n);
  for (std::uint8_t i = 0; i < *n; ++i) {
    auto id = r.fixed<NodeId>();
    if (!id) return id.failure();
    b.members.push_back(*id);
  }
  return b;
}

Result<ClockSkew, WireError> read_clock_skew(WireReader& r) {
  auto t = r.u64();
  if (!t) return t.failure();
  return ClockSkew{*t};
}

// Reads a body and stores it in the response.
template <class Read>
Result<void, WireError> read_into(Response& out, WireReader& r, Read read) {
  auto b = read(r);
  if (!b) return b.failure();
  out.body = std::move(*b);
  return {};
}

Result<void, WireError> read_ok_body(Response& out, Method method, WireReader& r) {
  switch (method) {
    case Method::store:
      return read_into(out, r, read_store_result);
    case Method::retrieve:
      return read_into(out, r, read_retrieve_result);
    case Method::erase:
    case Method::erase_all:
      return read_into(out, r, read_delete_result);
    case Method::info:
      return read_into(out, r, read_info_result);
  }
  return fail(WireError::bad_value);  // not a method
}

}  // namespace

std::vector<std::uint8_t> encode(const Response& r) {
  WireWriter w;
  w.u8(static_cast<std::uint8_t>(r.status));
  std::visit([&w](const auto& b) { write_body(w, b); }, r.body);
  return w.take();
}

Result<Response, WireError> decode_response(Method method, Bytes bytes) {
  WireReader r(bytes);
  auto s = r.u8();
  if (!s) return s.failure();
  if (*s > static_cast<std::uint8_t>(Status::not_ready)) return fail(WireError::bad_value);
  Response out;
  out.status = static_cast<Status>(*s);
  Result<void, WireError> body;
  switch (out.status) {
    case Status::ok:
      body = read_ok_body(out, method, r);
      break;
    case Status::wrong_swarm:
      body = read_into(out, r, read_wrong_swarm);
      break;
    case Status::clock_skew:
      body = read_into(out, r, read_clock_skew);
      break;
    default:
      break;  // no body
  }
  if (!body) return body.failure();
  if (auto end = r.finish(); !end) return end.failure();
  return out;
}

}  // namespace nightjar::storage
