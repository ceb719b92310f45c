#include "swarm/replication_messages.hpp"

#include <algorithm>
#include <span>
#include <stdexcept>

namespace nightjar::replication {

namespace {

constexpr std::size_t push_header = 1 + 8 + 1 + 32 + 32 + 8 + 8 + 2;
constexpr std::size_t summary_bytes = 1 + 8 + summary_buckets * (4 + 32);
constexpr std::size_t bucket_header = 1 + 1 + 1 + 2;
constexpr std::size_t bucket_entry_bytes = 32 + 1 + 8;
constexpr std::uint8_t tombstone_flag = 0x01;

// A mailbox on the wire: namespace (1, a known one) || owner (32).
void read_mailbox(FieldReader& f, Namespace& ns, Ed25519PublicKey& owner) {
  std::uint8_t n = 0;
  f.u8(n).check(n < namespace_count).fixed(owner);
  ns = static_cast<Namespace>(n);
}

WireWriter start(FrameType t, std::size_t reserve) {
  WireWriter w(reserve);
  w.u8(static_cast<std::uint8_t>(t));
  return w;
}

// Reads the type byte: bad_value unless it is `t`.
FieldReader& expect(FieldReader& f, FrameType t) {
  std::uint8_t type = 0;
  return f.u8(type).check(type == static_cast<std::uint8_t>(t));
}

void read_entry(FieldReader& f, EntryState& e) {
  std::uint8_t flags = 0;
  f.fixed(e.id).u8(flags).check((flags & ~tombstone_flag) == 0).u64(e.expiry_ms);
  e.tombstone = (flags & tombstone_flag) != 0;
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
  WireWriter w = start(FrameType::repl_bucket, bucket_header + entries.size() * bucket_entry_bytes);
  w.u8(bucket).u8(last ? 1 : 0).u16(static_cast<std::uint16_t>(entries.size()));
  for (const EntryState& e : entries)
    w.fixed(e.id).u8(e.tombstone ? tombstone_flag : 0).u64(e.expiry_ms);
  return w.take();
}

}  // namespace

std::vector<std::uint8_t> encode(const Push& m) {
  const StoredMessage& s = m.message;
  return start(FrameType::repl_push, push_header + s.body.size())
      .u64(m.request_id)
      .u8(static_cast<std::uint8_t>(s.ns))
      .fixed(s.recipient)
      .fixed(s.id)
      .u64(s.timestamp_ms)
      .u64(s.expiry_ms)
      .var16(s.body)
      .take();
}

std::vector<std::uint8_t> encode(const PushAck& m) {
  return start(FrameType::repl_push_ack, 10).u64(m.request_id).u8(static_cast<std::uint8_t>(m.status)).take();
}

std::vector<std::uint8_t> encode(const Tombstone& m) {
  return start(FrameType::repl_tombstone, 1 + 1 + 32 + 32 + 8)
      .u8(static_cast<std::uint8_t>(m.mailbox.ns))
      .fixed(m.mailbox.owner)
      .fixed(m.id)
      .u64(m.expiry_ms)
      .take();
}

std::vector<std::uint8_t> encode(const Summary& m) {
  WireWriter w = start(FrameType::repl_summary, summary_bytes);
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
  WireWriter w = start(FrameType::repl_fetch, 3 + m.ids.size() * 32);
  w.u16(static_cast<std::uint16_t>(m.ids.size()));
  for (const MessageId& id : m.ids)
    w.fixed(id);
  return w.take();
}

Result<Push, WireError> decode_push(Bytes frame) {
  FieldReader f(frame);
  Push m;
  StoredMessage& s = m.message;
  expect(f, FrameType::repl_push).u64(m.request_id);
  read_mailbox(f, s.ns, s.recipient);
  f.fixed(s.id)
      .u64(s.timestamp_ms)
      .u64(s.expiry_ms)
      .var16(s.body, max_body_bytes);
  return f.finish(std::move(m));
}

Result<PushAck, WireError> decode_push_ack(Bytes frame) {
  FieldReader f(frame);
  PushAck m;
  std::uint8_t status = 0;
  expect(f, FrameType::repl_push_ack)
      .u64(m.request_id)
      .u8(status)
      .check(status <= static_cast<std::uint8_t>(AckStatus::deleted));
  m.status = static_cast<AckStatus>(status);
  return f.finish(m);
}

Result<Tombstone, WireError> decode_tombstone(Bytes frame) {
  FieldReader f(frame);
  Tombstone m;
  expect(f, FrameType::repl_tombstone);
  read_mailbox(f, m.mailbox.ns, m.mailbox.owner);
  f.fixed(m.id).u64(m.expiry_ms);
  return f.finish(m);
}

Result<Summary, WireError> decode_summary(Bytes frame) {
  FieldReader f(frame);
  Summary m;
  expect(f, FrameType::repl_summary).u64(m.swarm);
  for (BucketSummary& b : m.buckets)
    f.u32(b.count).fixed(b.digest);
  return f.finish(m);
}

Result<BucketList, WireError> decode_bucket(Bytes frame) {
  FieldReader f(frame);
  BucketList m;
  std::uint16_t n = 0;
  expect(f, FrameType::repl_bucket)
      .u8(m.bucket)
      .flag(m.last)
      .u16(n)
      .check(n <= max_bucket_entries_per_frame, WireError::too_long);
  if (!f) return f.failure();
  m.entries.reserve(std::min<std::size_t>(n, f.remaining() / bucket_entry_bytes));
  for (std::uint16_t i = 0; i < n && f; ++i) {
    EntryState e;
    read_entry(f, e);
    // Entries belong to the bucket (the ID's first byte) and come in strictly
    // increasing ID order, so a listing has one encoding and no duplicates.
    f.check(e.id.bytes[0] == m.bucket)
        .check(m.entries.empty() || id_less(m.entries.back().id, e.id));
    m.entries.push_back(e);
  }
  return f.finish(std::move(m));
}

Result<Fetch, WireError> decode_fetch(Bytes frame) {
  FieldReader f(frame);
  std::uint16_t n = 0;
  expect(f, FrameType::repl_fetch).u16(n).check(n != 0).check(n <= max_fetch_ids, WireError::too_long);
  if (!f) return f.failure();
  Fetch m;
  m.ids.resize(n);
  for (MessageId& id : m.ids)
    f.fixed(id);
  return f.finish(std::move(m));
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
