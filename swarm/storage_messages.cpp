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
constexpr std::string_view retrieve_label = "nightjar retrieve v4";
constexpr std::string_view delete_label = "nightjar delete v2";
constexpr std::string_view delete_all_label = "nightjar delete_all v2";

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
constexpr Method method_of(const LookupRequest&) {
  return Method::lookup;
}
constexpr Method method_of(const CoverRequest&) {
  return Method::cover;
}

// A mailbox: namespace (1) || owner (32).
template <class R>
void write_mailbox(WireWriter& w, const R& r) {
  w.u8(static_cast<std::uint8_t>(r.ns)).fixed(r.recipient);
}
template <class R>
FieldReader& read_mailbox(FieldReader& f, R& r) {
  std::uint8_t ns = 0;
  f.u8(ns).check(ns < namespace_count).fixed(r.recipient);
  r.ns = static_cast<Namespace>(ns);
  return f;
}

// Everything a request carries but its signature: both the request's
// encoding and the signed bytes are built from these.
void write_signed_fields(WireWriter& w, const RetrieveRequest& r) {
  write_mailbox(w, r);
  w.u64(r.since.incarnation)
      .u64(r.since.seq)
      .u64(r.floor.timestamp_ms)
      .fixed(r.floor.id)
      .u16(r.limit)
      .u32(r.wait_ms)
      .u8(r.stream ? 1 : 0)
      .u64(r.timestamp_ms);
}
void write_signed_fields(WireWriter& w, const DeleteRequest& r) {
  write_mailbox(w, r);
  w.fixed(r.id).u64(r.timestamp_ms);
}
void write_signed_fields(WireWriter& w, const DeleteAllRequest& r) {
  write_mailbox(w, r);
  w.u64(r.timestamp_ms);
}

void write_fields(WireWriter& w, const StoreRequest& r) {
  write_mailbox(w, r);
  w.u32(r.ttl_seconds).var16(r.body);
}
void write_fields(WireWriter& w, const LookupRequest& r) {
  w.fixed(r.owner).u8(r.type);
}
template <class Signed>
void write_fields(WireWriter& w, const Signed& r) {
  write_signed_fields(w, r);
  w.fixed(r.signature);
}
void write_fields(WireWriter&, const InfoRequest&) {}
void write_fields(WireWriter& w, const CoverRequest& r) {
  w.u8(r.loop ? 1 : 0);
}

template <class R>
std::vector<std::uint8_t> labelled(std::string_view label, const R& r) {
  WireWriter w(label.size() + 96);
  w.raw(as_bytes(label));
  write_signed_fields(w, r);
  return w.take();
}

void read_fields(FieldReader& f, StoreRequest& q) {
  read_mailbox(f, q).u32(q.ttl_seconds).var16(q.body, max_body_bytes);
}
void read_fields(FieldReader& f, RetrieveRequest& q) {
  read_mailbox(f, q)
      .u64(q.since.incarnation)
      .u64(q.since.seq)
      .u64(q.floor.timestamp_ms)
      .fixed(q.floor.id)
      .u16(q.limit)
      .check(q.limit != 0 && q.limit <= max_retrieve_limit)
      .u32(q.wait_ms)
      .check(q.wait_ms <= max_wait_ms)
      .flag(q.stream)
      .check(!q.stream || q.wait_ms != 0)
      .u64(q.timestamp_ms)
      .fixed(q.signature);
}
void read_fields(FieldReader& f, DeleteRequest& q) {
  read_mailbox(f, q).fixed(q.id).u64(q.timestamp_ms).fixed(q.signature);
}
void read_fields(FieldReader& f, DeleteAllRequest& q) {
  read_mailbox(f, q).u64(q.timestamp_ms).fixed(q.signature);
}
void read_fields(FieldReader& f, LookupRequest& q) {
  f.fixed(q.owner).u8(q.type);
}

}  // namespace

std::vector<std::uint8_t> encode(const Request& r) {
  return std::visit(
      [](const auto& q) {
        WireWriter w(2 + 1 + 32 + 8 + 32 + 8 + 64);
        w.u8(version).u8(static_cast<std::uint8_t>(method_of(q)));
        write_fields(w, q);
        return w.take();
      },
      r);
}

Result<Request, WireError> decode_request(Bytes bytes) {
  FieldReader f(bytes);
  std::uint8_t v = 0;
  std::uint8_t m = 0;
  f.u8(v).check(v == version).u8(m);
  if (!f) return f.failure();
  Request q;
  switch (static_cast<Method>(m)) {
    case Method::store:
      read_fields(f, q.emplace<StoreRequest>());
      break;
    case Method::retrieve:
      read_fields(f, q.emplace<RetrieveRequest>());
      break;
    case Method::erase:
      read_fields(f, q.emplace<DeleteRequest>());
      break;
    case Method::erase_all:
      read_fields(f, q.emplace<DeleteAllRequest>());
      break;
    case Method::info:
      q = InfoRequest{};
      break;
    case Method::lookup:
      read_fields(f, q.emplace<LookupRequest>());
      break;
    case Method::cover: {
      std::uint8_t loop = 0;
      f.u8(loop).check(loop <= 1);
      q = CoverRequest{loop == 1};
      break;
    }
    default:
      return fail(WireError::bad_value);
  }
  return f.finish(std::move(q));
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
    case Status::stale:
      return "a newer version of this record is stored";
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
void write_body(WireWriter& w, const LookupResult& b) {
  w.var16(b.record);
}

void read_body(FieldReader& f, StoreResult& b) {
  f.fixed(b.id).u64(b.timestamp_ms).u8(b.replicas);
}
void read_message(FieldReader& f, StoredMessage& m) {
  // recipient stays zero: the request's, not repeated
  f.fixed(m.id).u64(m.timestamp_ms).u64(m.expiry_ms).var16(m.body, max_body_bytes);
}
void read_body(FieldReader& f, RetrieveResult& b) {
  std::uint16_t count = 0;
  f.u16(count)
      .check(count <= max_retrieve_limit, WireError::too_long)
      .flag(b.more)
      .u64(b.server_time_ms)
      .u64(b.cursor.incarnation)
      .u64(b.cursor.seq);
  if (!f) return;
  // Reserve only what the bytes left can hold, whatever the count claims.
  b.messages.reserve(std::min<std::size_t>(count, f.remaining() / stored_message_header));
  for (std::uint16_t i = 0; i < count && f; ++i)
    read_message(f, b.messages.emplace_back());
}
void read_body(FieldReader& f, DeleteResult& b) {
  f.u32(b.deleted);
}
void read_body(FieldReader& f, InfoResult& b) {
  f.var8(b.version).u64(b.server_time_ms).u64(b.swarm);
}
void read_body(FieldReader& f, WrongSwarm& b) {
  std::uint8_t n = 0;
  f.u64(b.swarm).u8(n).check(n <= max_listed_members, WireError::too_long);
  if (!f) return;
  b.members.resize(n);
  for (NodeId& id : b.members)
    f.fixed(id);
}
void read_body(FieldReader& f, ClockSkew& b) {
  f.u64(b.server_time_ms);
}
void read_body(FieldReader& f, LookupResult& b) {
  f.var16(b.record, max_body_bytes);
}

// The body of an ok answer: the one the request's method calls for.
void read_ok_body(FieldReader& f, Method method, Response& out) {
  switch (method) {
    case Method::store:
      return read_body(f, out.body.emplace<StoreResult>());
    case Method::retrieve:
      return read_body(f, out.body.emplace<RetrieveResult>());
    case Method::erase:
    case Method::erase_all:
      return read_body(f, out.body.emplace<DeleteResult>());
    case Method::info:
      return read_body(f, out.body.emplace<InfoResult>());
    case Method::lookup:
      return read_body(f, out.body.emplace<LookupResult>());
    case Method::cover:
      return;  // a loop's answer: the status alone
  }
  f.reject();  // not a method
}

}  // namespace

std::vector<std::uint8_t> encode(const Response& r) {
  WireWriter w;
  w.u8(static_cast<std::uint8_t>(r.status));
  std::visit([&w](const auto& b) { write_body(w, b); }, r.body);
  return w.take();
}

Result<Response, WireError> decode_response(Method method, Bytes bytes) {
  FieldReader f(bytes);
  std::uint8_t status = 0;
  f.u8(status).check(status < status_count);
  if (!f) return f.failure();
  Response out;
  out.status = static_cast<Status>(status);
  switch (out.status) {
    case Status::ok:
      read_ok_body(f, method, out);
      break;
    case Status::wrong_swarm:
      read_body(f, out.body.emplace<WrongSwarm>());
      break;
    case Status::clock_skew:
      read_body(f, out.body.emplace<ClockSkew>());
      break;
    default:
      break;  // no body
  }
  return f.finish(std::move(out));
}

}  // namespace nightjar::storage
