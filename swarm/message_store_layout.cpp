// The byte layout of the message store's keys and values, and the hashes that
// name messages and summary entries.
#include <algorithm>
#include <cstring>
#include <string_view>

#include "swarm/message_store_impl.hpp"

namespace nightjar {

const char* to_string(Namespace ns) {
  switch (ns) {
    case Namespace::messages:
      return "messages";
    case Namespace::records:
      return "records";
    case Namespace::groups:
      return "groups";
  }
  return "unknown namespace";
}

MailboxKey mailbox_key(const Mailbox& mailbox) {
  if (mailbox.ns == Namespace::messages) return MailboxKey{mailbox.owner.bytes};
  static constexpr std::string_view label = "nightjar mailbox v1";
  std::array<std::uint8_t, label.size() + 1 + 32> input{};
  std::copy(label.begin(), label.end(), input.begin());
  input[label.size()] = static_cast<std::uint8_t>(mailbox.ns);
  std::copy(mailbox.owner.bytes.begin(), mailbox.owner.bytes.end(), input.begin() + label.size() + 1);
  return crypto::blake2b_256(input);
}

MessageId message_id(const Mailbox& mailbox, Bytes body) {
  const MailboxKey key = mailbox_key(mailbox);
  // Built by insert, as before namespaces: GCC 12 at -O2 takes a copy into a
  // vector sized up front for a null dereference (-Wnull-dereference).
  std::vector<std::uint8_t> input(key.bytes.begin(), key.bytes.end());
  input.insert(input.end(), body.begin(), body.end());
  return crypto::blake2b_256(input);
}

Cursor cursor_of(const StoredMessage& m) {
  return Cursor{m.timestamp_ms, m.id};
}

const char* to_string(StoreError e) {
  switch (e) {
    case StoreError::quota_messages:
      return "recipient message quota reached";
    case StoreError::quota_bytes:
      return "recipient byte quota exceeded";
    case StoreError::disk_full:
      return "node storage cap reached";
    case StoreError::expired:
      return "message already expired";
    case StoreError::deleted:
      return "message was deleted";
    case StoreError::bad_id:
      return "message ID does not match recipient and body";
    case StoreError::io_error:
      return "storage I/O error";
  }
  return "unknown store error";
}

Hash256 entry_hash(const EntryState& e) {
  std::array<std::uint8_t, 32 + 1 + 8> input{};
  std::copy(e.id.bytes.begin(), e.id.bytes.end(), input.begin());
  input[32] = e.tombstone ? 1 : 0;
  for (std::size_t i = 0; i < 8; ++i)
    input[33 + i] = static_cast<std::uint8_t>(e.expiry_ms >> (56 - 8 * i));
  return crypto::blake2b_256(input);
}

namespace store_layout {

namespace {
constexpr char state_live = 1;
constexpr char state_tombstone = 2;
}  // namespace

void append_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v >> shift)));
}

std::uint64_t read_be64(const char* p) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

std::string message_key(const MailboxKey& mailbox, std::uint64_t timestamp_ms,
                        const MessageId& id) {
  std::string k;
  k.reserve(message_key_bytes);
  append_bytes(k, mailbox);
  append_be64(k, timestamp_ms);
  append_bytes(k, id);
  return k;
}

std::string message_value(std::uint64_t expiry_ms, Bytes body) {
  std::string v;
  v.reserve(8 + body.size());
  append_be64(v, expiry_ms);
  v.append(reinterpret_cast<const char*>(body.data()), body.size());
  return v;
}

std::string id_key(const MessageId& id) {
  std::string k;
  append_bytes(k, id);
  return k;
}

std::string id_value(const IdEntry& e) {
  std::string v;
  v.reserve(id_value_bytes);
  v.push_back(e.tombstone ? state_tombstone : state_live);
  append_bytes(v, e.recipient);
  append_be64(v, e.timestamp_ms);
  append_be64(v, e.expiry_ms);
  append_be64(v, e.body_bytes);
  append_be64(v, e.seq);
  v.push_back(static_cast<char>(e.ns));
  return v;
}

std::optional<IdEntry> parse_id_value(const rocksdb::Slice& v) {
  if (v.size() != id_value_bytes && v.size() != id_value_v2_bytes &&
      v.size() != id_value_v1_bytes)
    return std::nullopt;
  const char* p = v.data();
  if (p[0] != state_live && p[0] != state_tombstone) return std::nullopt;
  IdEntry e;
  e.tombstone = p[0] == state_tombstone;
  e.recipient = fixed_from<Ed25519PublicKey>(p + 1);
  e.timestamp_ms = read_be64(p + 33);
  e.expiry_ms = read_be64(p + 41);
  e.body_bytes = read_be64(p + 49);
  if (v.size() >= id_value_v2_bytes) e.seq = read_be64(p + 57);
  if (v.size() == id_value_bytes) {
    const auto ns = static_cast<std::uint8_t>(p[65]);
    if (ns >= namespace_count) return std::nullopt;
    e.ns = static_cast<Namespace>(ns);
  }
  return e;
}

std::string arrival_key(const MailboxKey& mailbox, std::uint64_t seq) {
  std::string k;
  k.reserve(arrival_key_bytes);
  append_bytes(k, mailbox);
  append_be64(k, seq);
  return k;
}

std::string arrival_value(std::uint64_t timestamp_ms, const MessageId& id) {
  std::string v;
  v.reserve(arrival_value_bytes);
  append_be64(v, timestamp_ms);
  append_bytes(v, id);
  return v;
}

std::string be64_string(std::uint64_t v) {
  std::string out;
  append_be64(out, v);
  return out;
}

std::string expiry_key(std::uint64_t expiry_ms, const MessageId& id) {
  std::string k;
  k.reserve(expiry_key_bytes);
  append_be64(k, expiry_ms);
  append_bytes(k, id);
  return k;
}

std::string usage_key(const MailboxKey& mailbox) {
  std::string k(1, usage_prefix);
  append_bytes(k, mailbox);
  return k;
}

std::string usage_value(const Usage& u) {
  std::string v;
  v.reserve(usage_value_owner_bytes);
  append_be64(v, u.count);
  append_be64(v, u.bytes);
  append_be64(v, u.last_seq);
  if (u.mailbox.ns != Namespace::messages) {
    v.push_back(static_cast<char>(u.mailbox.ns));
    append_bytes(v, u.mailbox.owner);
  }
  return v;
}

std::optional<Usage> parse_usage_value(const rocksdb::Slice& v, const MailboxKey& key) {
  if (v.size() != usage_value_bytes && v.size() != usage_value_v1_bytes &&
      v.size() != usage_value_owner_bytes)
    return std::nullopt;
  Usage u{read_be64(v.data()), read_be64(v.data() + 8), 0, Mailbox{Ed25519PublicKey{key.bytes}}};
  if (v.size() >= usage_value_bytes) u.last_seq = read_be64(v.data() + 16);
  if (v.size() == usage_value_owner_bytes) {
    const auto ns = static_cast<std::uint8_t>(v.data()[24]);
    if (ns == 0 || ns >= namespace_count) return std::nullopt;
    u.mailbox = Mailbox{static_cast<Namespace>(ns), fixed_from<Ed25519PublicKey>(v.data() + 25)};
    if (!(mailbox_key(u.mailbox) == key)) return std::nullopt;
  }
  return u;
}

std::optional<std::string> prefix_successor(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

void toggle_entry(StoreSummary& summary, const EntryState& e, bool add) {
  BucketSummary& b = summary[e.id.bytes[0]];
  const Hash256 h = entry_hash(e);
  for (std::size_t i = 0; i < h.size(); ++i)
    b.digest.bytes[i] ^= h.bytes[i];
  if (add)
    ++b.count;
  else
    --b.count;
}

}  // namespace store_layout
}  // namespace nightjar
