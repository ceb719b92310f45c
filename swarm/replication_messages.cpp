#include "swarm/replication_messages.hpp"

#include <algorithm>
#include <span>
#include <stdexcept>

namespace nightjar::replication {

namespace {

constexpr std::size_t push_header = 1 + 8 + 32 + 32 + 8 + 8 + 2;
constexpr std::size_t summary_bytes = 1 + 8 + summary_buckets * (4 + 32);
constexpr std::size_t bucket_header = 1 + 1 + 1 + 2;
constexpr std::size_t bucket_entry_bytes = 32 + 1 + 8;
constexpr std::uint8_t tombstone_flag = 0x01;

WireWriter start(Type t, std::size_t reserve) {
  WireWriter w(reserve);
  w.u8(static_cast<std::uint8_t>(t));
  return w;
}

// Checks the type byte; the reader is left after it.
Result<void, WireError> expect(WireReader& r, Type t) {
  auto b = r.u8();
  if (!b) return b.failure();
  if (*b != static_cast<std::uint8_t>(t)) return fail(WireError::bad_value);
  return {};
}

Result<EntryState, WireError> read_entry(WireReader& r) {
  EntryState e;
  auto id = r.fixed<MessageId>();
  if (!id) return id.failure();
  e.id = *id;
  auto flags = r.u8();
  if (!flags) return flags.failure();
  if ((*flags & ~tombstone_flag) != 0) return fail(WireError::bad_value);
  e.tombstone = (*flags & tombstone_flag) != 0;
  auto expiry = r.u64();
  if (!expiry) return expiry.failure();
  e.expiry_ms = *expiry;
  return e;
}

bool id_less(const MessageId& a, const MessageId& b) {
  return a.bytes < b.bytes;
}

// One bucket frame; encode(BucketList) and encode_bucket share it, the latter
// without copying its entries into a BucketList first.
std::vector<std::uint8_t> encode_listing(std::uint8_t bucket, bool last,
                                         std::span<const EntryState> entries) {
  if (entries.size() > max_bucket_entries_per_frame)
    throw std::length_error("replication::encode: more than max_bucket_entries_per_frame");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].id.bytes[0] != bucket)
      throw std::invalid_argument("replication::encode: an entry outside its bucket");
    if (i > 0 && !id_less(entries[i - 1].id, entries[i].id))
      throw std::invalid_argument("replication::encode: entries not in increasing ID order");
  }
  WireWriter w = start(Type::bucket, bucket_header + entries.size() * bucket_entry_bytes);
  w.u8(bucket).u8(last ? 1 : 0).u16(static_cast<std::uint16_t>(entries.size()));
  for (const EntryState& e : entries)
    w.fixed(e.id).u8(e.tombstone ? tombstone_flag : 0).u64(e.expiry_ms);
  return w.take();
}

}  // namespace

std::vector<std::uint8_t> encode(const Push& m) {
  const StoredMessage& s = m.message;
  return start(Type::push, push_header + s.body.size())
      .u64(m.request_id)
      .fixed(s.recipient)
      .fixed(s.id)
      .u64(s.timestamp_ms)
      .u64(s.expiry_ms)
      .var16(s.body)
      .take();
}

std::vector<std::uint8_t> encode(const PushAck& m) {
  return start(Type::push_ack, 10).u64(m.request_id).u8(static_cast<std::uint8_t>(m.status)).take();
}

std::vector<std::uint8_t> encode(const Tombstone& m) {
  return start(Type::tombstone, 1 + 32 + 32 + 8)
      .fixed(m.recipient)
      .fixed(m.id)
      .u64(m.expiry_ms)
      .take();
}

std::vector<std::uint8_t> encode(const Summary& m) {
  WireWriter w = start(Type::summary, summary_bytes);
  w.u64(m.swarm);
  for (const BucketSummary& b : m.buckets)
    w.u32(b.count).fixed(b.digest);
  return w.take();
}

std::vector<std::uint8_t> encode(const BucketList& m) {
  return encode_listing(m.bucket, m.last, m.entries);
}

std::vector<std::uint8_t> encode(const Fetch& m) {
  if (m.ids.empty() || m.ids.size() > max_fetch_ids)
    throw std::length_error("replication::encode: a fetch needs 1..max_fetch_ids IDs");
  WireWriter w = start(Type::fetch, 3 + m.ids.size() * 32);
  w.u16(static_cast<std::uint16_t>(m.ids.size()));
  for (const MessageId& id : m.ids)
    w.fixed(id);
  return w.take();
}

Result<Push, WireError> decode_push(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, Type::push); !e) return e.failure();
  Push m;
  auto request_id = r.u64();
  if (!request_id) return request_id.failure();
  m.request_id = *request_id;
  auto recipient = r.fixed<Ed25519PublicKey>();
  if (!recipient) return recipient.failure();
  m.message.recipient = *recipient;
  auto id = r.fixed<MessageId>();
  if (!id) return id.failure();
  m.message.id = *id;
  auto ts = r.u64();
  if (!ts) return ts.failure();
  m.message.timestamp_ms = *ts;
  auto expiry = r.u64();
  if (!expiry) return expiry.failure();
  m.message.expiry_ms = *expiry;
  auto body = r.var16(max_body_bytes);
  if (!body) return body.failure();
  m.message.body.assign(body->begin(), body->end());
  if (auto end = r.finish(); !end) return end.failure();
  return m;
}

Result<PushAck, WireError> decode_push_ack(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, Type::push_ack); !e) return e.failure();
  auto request_id = r.u64();
  if (!request_id) return request_id.failure();
  auto status = r.u8();
  if (!status) return status.failure();
  if (*status > static_cast<std::uint8_t>(AckStatus::deleted)) return fail(WireError::bad_value);
  if (auto end = r.finish(); !end) return end.failure();
  return PushAck{*request_id, static_cast<AckStatus>(*status)};
}

Result<Tombstone, WireError> decode_tombstone(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, Type::tombstone); !e) return e.failure();
  Tombstone m;
  auto recipient = r.fixed<Ed25519PublicKey>();
  if (!recipient) return recipient.failure();
  m.recipient = *recipient;
  auto id = r.fixed<MessageId>();
  if (!id) return id.failure();
  m.id = *id;
  auto expiry = r.u64();
  if (!expiry) return expiry.failure();
  m.expiry_ms = *expiry;
  if (auto end = r.finish(); !end) return end.failure();
  return m;
}

Result<Summary, WireError> decode_summary(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, Type::summary); !e) return e.failure();
  Summary m;
  auto swarm = r.u64();
  if (!swarm) return swarm.failure();
  m.swarm = *swarm;
  for (BucketSummary& b : m.buckets) {
    auto count = r.u32();
    if (!count) return count.failure();
    b.count = *count;
    auto digest = r.fixed<Hash256>();
    if (!digest) return digest.failure();
    b.digest = *digest;
  }
  if (auto end = r.finish(); !end) return end.failure();
  return m;
}

Result<BucketList, WireError> decode_bucket(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, Type::bucket); !e) return e.failure();
  BucketList m;
  auto bucket = r.u8();
  if (!bucket) return bucket.failure();
  m.bucket = *bucket;
  auto last = r.u8();
  if (!last) return last.failure();
  if (*last > 1) return fail(WireError::bad_value);
  m.last = *last == 1;
  auto n = r.u16();
  if (!n) return n.failure();
  if (*n > max_bucket_entries_per_frame) return fail(WireError::too_long);
  m.entries.reserve(std::min<std::size_t>(*n, r.remaining() / bucket_entry_bytes));
  for (std::uint16_t i = 0; i < *n; ++i) {
    auto e = read_entry(r);
    if (!e) return e.failure();
    // Entries belong to the bucket (the ID's first byte) and come in strictly
    // increasing ID order, so a listing has one encoding and no duplicates.
    if (e->id.bytes[0] != m.bucket) return fail(WireError::bad_value);
    if (!m.entries.empty() && !id_less(m.entries.back().id, e->id))
      return fail(WireError::bad_value);
    m.entries.push_back(*e);
  }
  if (auto end = r.finish(); !end) return end.failure();
  return m;
}

Result<Fetch, WireError> decode_fetch(Bytes frame) {
  WireReader r(frame);
  if (auto e = expect(r, Type::fetch); !e) return e.failure();
  auto n = r.u16();
  if (!n) return n.failure();
  if (*n == 0) return fail(WireError::bad_value);
  if (*n > max_fetch_ids) return fail(WireError::too_long);
  Fetch m;
  m.ids.reserve(*n);
  for (std::uint16_t i = 0; i < *n; ++i) {
    auto id = r.fixed<MessageId>();
    if (!id) return id.failure();
    m.ids.push_back(*id);
  }
  if (auto end = r.finish(); !end) return end.failure();
  return m;
}

std::vector<std::vector<std::uint8_t>> encode_bucket(std::uint8_t bucket,
                                                     const std::vector<EntryState>& entries) {
  std::vector<EntryState> sorted = entries;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const EntryState& a, const EntryState& b) { return id_less(a.id, b.id); });
  sorted.erase(std::unique(sorted.begin(), sorted.end(),
                           [](const EntryState& a, const EntryState& b) { return a.id == b.id; }),
               sorted.end());
  std::vector<std::vector<std::uint8_t>> frames;
  const std::span<const EntryState> all(sorted);
  std::size_t off = 0;
  do {
    const std::size_t n = std::min(max_bucket_entries_per_frame, all.size() - off);
    frames.push_back(encode_listing(bucket, off + n == all.size(), all.subspan(off, n)));
    off += n;
  } while (off < all.size());
  return frames;
}

}  // namespace nightjar::replication
