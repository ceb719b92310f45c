// The message store's operations: each reads what it needs, records its
// changes in one Pending write (see message_store_impl.hpp) and commits it as
// one WriteBatch.
#include "swarm/message_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <limits>

#include "swarm/message_store_impl.hpp"

namespace nightjar {

using namespace store_layout;

namespace {

bool has_prefix(const rocksdb::Slice& key, const std::string& prefix) {
  return key.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key.data());
}

// Iterator bounds for the keys that start with `prefix`. The bound's string
// must outlive the iterator, hence the struct.
struct PrefixRead {
  std::string prefix;
  std::optional<std::string> upper;
  rocksdb::Slice upper_slice;
  rocksdb::ReadOptions options;

  PrefixRead(std::string p, rocksdb::ReadOptions ro)
      : prefix(std::move(p)), upper(prefix_successor(prefix)), options(ro) {
    if (upper) {
      upper_slice = *upper;
      options.iterate_upper_bound = &upper_slice;
    }
  }
  PrefixRead(const PrefixRead&) = delete;
  PrefixRead& operator=(const PrefixRead&) = delete;
};

}  // namespace

Result<PutResult, StoreError> MessageStore::put(const StoredMessage& m, std::uint64_t now_ms,
                                               std::uint64_t* timestamp_ms) {
  auto results = put_batch(std::span<const StoredMessage>(&m, 1), now_ms, timestamp_ms);
  return std::move(results.front());
}

std::vector<Result<PutResult, StoreError>> MessageStore::put_batch(
    std::span<const StoredMessage> ms, std::uint64_t now_ms, std::uint64_t* timestamps_ms) {
  std::vector<Result<PutResult, StoreError>> results;
  results.reserve(ms.size());
  std::vector<std::size_t> changed;  // results that hold only if the batch is written
  for (const auto& m : ms) {
    std::uint64_t* timestamp = timestamps_ms ? &timestamps_ms[results.size()] : nullptr;
    auto staged = impl_->stage_put(impl_->staging(), m, now_ms, timestamp);
    if (!staged) {
      if (staged.error() == StoreError::io_error) {
        // Half staged: nothing staged so far may be written.
        impl_->poison();
        for (const std::size_t i : changed)
          results[i] = fail(StoreError::io_error);
        changed.clear();
      }
      results.emplace_back(staged.failure());
      continue;
    }
    if (staged->second) changed.push_back(results.size());
    results.emplace_back(staged->first);
  }
  if (!changed.empty() && !impl_->end_operation(changed.size())) {
    for (const std::size_t i : changed)
      results[i] = fail(StoreError::io_error);
  }
  return results;
}

std::vector<StoredMessage> MessageStore::Impl::scan_recipient(const Mailbox& mailbox,
                                                              const std::optional<Cursor>& after,
                                                              std::size_t limit,
                                                              std::uint64_t now_ms) const {
  std::vector<StoredMessage> out;
  if (limit == 0) return out;
  std::string prefix;
  append_bytes(prefix, mailbox_key(mailbox));
  PrefixRead read(prefix, read_options());
  std::string start = prefix;
  if (after) {
    append_be64(start, after->timestamp_ms);
    append_bytes(start, after->id);
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read.options, family(messages)));
  it->Seek(start);
  if (after && it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  for (; it->Valid() && out.size() < limit; it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    if (!has_prefix(key, read.prefix)) break;
    if (key.size() != message_key_bytes || value.size() < 8) continue;
    const std::uint64_t expiry_ms = read_be64(value.data());
    if (expiry_ms <= now_ms) continue;
    StoredMessage& m = out.emplace_back();
    m.recipient = mailbox.owner;
    m.ns = mailbox.ns;
    m.timestamp_ms = read_be64(key.data() + 32);
    m.id = fixed_from<MessageId>(key.data() + 40);
    m.expiry_ms = expiry_ms;
    const auto* body = reinterpret_cast<const std::uint8_t*>(value.data()) + 8;
    m.body.assign(body, body + (value.size() - 8));
  }
  if (!it->status().ok()) log_failure("reading messages", it->status());
  return out;
}

std::vector<StoredMessage> MessageStore::retrieve(const Mailbox& mailbox, const Cursor& after,
                                                  std::size_t limit, std::uint64_t now_ms) const {
  return impl_->scan_recipient(mailbox, after, limit, now_ms);
}

std::vector<StoredMessage> MessageStore::all_of(const Mailbox& mailbox, std::size_t limit,
                                                std::uint64_t now_ms) const {
  return impl_->scan_recipient(mailbox, std::nullopt, limit, now_ms);
}

std::optional<StoredMessage> MessageStore::Impl::read_message(const MessageId& id,
                                                              const IdEntry& e) const {
  if (e.tombstone) return std::nullopt;
  rocksdb::PinnableSlice v;
  const rocksdb::Status s = db->Get(read_options(), family(messages),
                                    message_key(mailbox_key_of(e), e.timestamp_ms, id), &v);
  if (!s.ok()) {
    // NotFound here means the index and the messages disagree: worth an error.
    log_failure("reading a message", s);
    return std::nullopt;
  }
  if (v.size() < 8) return std::nullopt;
  StoredMessage m;
  m.recipient = e.recipient;
  m.ns = e.ns;
  m.id = id;
  m.timestamp_ms = e.timestamp_ms;
  m.expiry_ms = read_be64(v.data());
  m.seq = e.seq;
  const auto* body = reinterpret_cast<const std::uint8_t*>(v.data()) + 8;
  m.body.assign(body, body + (v.size() - 8));
  return m;
}

std::optional<StoredMessage> MessageStore::get(const MessageId& id, std::uint64_t now_ms) const {
  auto found = impl_->entry(nullptr, id);
  if (!found || !*found) return std::nullopt;
  const IdEntry& e = **found;
  if (e.tombstone || e.expiry_ms <= now_ms) return std::nullopt;
  return impl_->read_message(id, e);
}

std::vector<StoredMessage> MessageStore::arrivals(const Mailbox& mailbox, std::uint64_t after_seq,
                                                  const Cursor& floor, std::size_t limit,
                                                  std::uint64_t now_ms) const {
  std::vector<StoredMessage> out;
  if (limit == 0 || after_seq == std::numeric_limits<std::uint64_t>::max()) return out;
  const MailboxKey box = mailbox_key(mailbox);
  std::string prefix;
  append_bytes(prefix, box);
  PrefixRead read(prefix, impl_->read_options());
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(read.options, impl_->family(store_layout::arrival_index)));
  for (it->Seek(arrival_key(box, after_seq + 1));
       it->Valid() && has_prefix(it->key(), read.prefix) && out.size() < limit; it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    if (key.size() != arrival_key_bytes || value.size() != arrival_value_bytes) continue;
    const Cursor c{read_be64(value.data()), fixed_from<MessageId>(value.data() + 8)};
    if (!(floor < c)) continue;
    IdEntry e;
    e.recipient = mailbox.owner;
    e.ns = mailbox.ns;
    e.timestamp_ms = c.timestamp_ms;
    e.seq = read_be64(key.data() + 32);
    auto m = impl_->read_message(c.id, e);
    if (!m || m->expiry_ms <= now_ms) continue;
    out.push_back(std::move(*m));
  }
  if (!it->status().ok()) impl_->log_failure("reading the arrival index", it->status());
  return out;
}

std::uint64_t MessageStore::incarnation() const { return impl_->incarnation; }

std::uint64_t MessageStore::last_seq(const Mailbox& mailbox) const {
  auto u = impl_->usage(nullptr, mailbox);
  return u ? u->last_seq : 0;
}

bool MessageStore::contains(const MessageId& id) const {
  auto found = impl_->entry(nullptr, id);
  return found && found->has_value();
}

void MessageStore::set_recipient_quota(std::uint32_t messages, std::uint64_t bytes) {
  impl_->options.quota_messages = messages;
  impl_->options.quota_bytes = bytes;
}

std::optional<MessageStore::IndexEntry> MessageStore::index_entry(const MessageId& id) const {
  auto found = impl_->entry(nullptr, id);
  if (!found || !found->has_value()) return std::nullopt;
  const IdEntry& e = **found;
  return IndexEntry{e.recipient, e.ns, e.timestamp_ms, e.expiry_ms, e.tombstone};
}

Result<bool, StoreError> MessageStore::erase(const Mailbox& mailbox, const MessageId& id,
                                             std::uint64_t now_ms, std::uint64_t* expiry_ms) {
  Impl::Pending& p = impl_->staging();
  auto found = impl_->entry(&p, id);
  if (!found) return found.failure();  // nothing staged yet
  const std::optional<IdEntry>& e = *found;
  if (!e || e->tombstone || e->expiry_ms <= now_ms || !(e->recipient == mailbox.owner) ||
      e->ns != mailbox.ns)
    return false;
  if (expiry_ms) *expiry_ms = e->expiry_ms;
  if (auto r = impl_->make_tombstone(p, id, *e, e->expiry_ms); !r) {
    impl_->poison();
    return r.failure();
  }
  if (auto c = impl_->end_operation(); !c) return c.failure();
  return true;
}

Result<void, StoreError> MessageStore::put_tombstone(const Mailbox& mailbox,
                                                     const MessageId& id, std::uint64_t expiry_ms) {
  Impl::Pending& p = impl_->staging();
  auto found = impl_->entry(&p, id);
  if (!found) return found.failure();
  const std::optional<IdEntry>& e = *found;
  if (!e) {
    impl_->insert_tombstone(p, id, IdEntry{true, mailbox.owner, mailbox.ns, 0, expiry_ms, 0});
  } else {
    // The ID, not the mailbox the peer named, says which message this is.
    const std::uint64_t later = std::max(e->expiry_ms, expiry_ms);
    if (e->tombstone && later == e->expiry_ms) return {};
    if (auto r = impl_->make_tombstone(p, id, *e, later); !r) {
      impl_->poison();
      return r.failure();
    }
  }
  return impl_->end_operation();
}

// erase_all and drop_messages: the messages of the recipient, in one batch.
// The ID index decides what each message is; a message record without a
// matching live entry is left alone (and logged) rather than miscounted.
Result<std::size_t, StoreError> MessageStore::Impl::for_each_message_of(
    Pending& p, const Mailbox& mailbox, const MessageAction& action) {
  Impl& impl = *this;
  if (auto slot = impl.usage_slot(p, mailbox); !slot) return slot.failure();
  std::string prefix;
  append_bytes(prefix, mailbox_key(mailbox));
  PrefixRead read(prefix, impl.read_options());
  std::unique_ptr<rocksdb::Iterator> it(impl.db->NewIterator(read.options, impl.family(messages)));
  std::size_t counted = 0;
  std::size_t orphans = 0;
  for (it->Seek(prefix); it->Valid() && has_prefix(it->key(), read.prefix); it->Next()) {
    if (it->key().size() != message_key_bytes) continue;
    const auto id = fixed_from<MessageId>(it->key().data() + 40);
    auto found = impl.entry(&p, id);
    if (!found) return found.failure();
    const std::optional<IdEntry>& e = *found;
    if (!e || e->tombstone || !(e->recipient == mailbox.owner) || e->ns != mailbox.ns) {
      ++orphans;
      continue;
    }
    auto r = action(*e, id);
    if (!r) return r.failure();
    if (*r) ++counted;
  }
  if (!it->status().ok()) {
    impl.log_failure("reading messages", it->status());
    return fail(StoreError::io_error);
  }
  if (orphans > 0) impl.log->error("message store: {} messages without an ID entry", orphans);
  return counted;
}

Result<std::size_t, StoreError> MessageStore::erase_all(const Mailbox& mailbox,
                                                        std::uint64_t now_ms) {
  Impl::Pending& p = impl_->staging();
  auto n = impl_->for_each_message_of(
      p, mailbox, [&](const IdEntry& e, const MessageId& id) -> Result<bool, StoreError> {
        if (e.expiry_ms <= now_ms) {
          if (auto r = impl_->remove(p, id, e); !r) return r.failure();
          return false;
        }
        if (auto r = impl_->make_tombstone(p, id, e, e.expiry_ms); !r) return r.failure();
        return true;
      });
  if (!n) {
    impl_->poison();
    return n;
  }
  if (auto c = impl_->end_operation(); !c) return c.failure();
  return n;
}

Result<std::size_t, StoreError> MessageStore::drop_messages(
    const Mailbox& mailbox, const std::set<MessageId, std::less<>>& ids) {
  Impl::Pending& p = impl_->staging();
  auto n = impl_->for_each_message_of(
      p, mailbox, [&](const IdEntry& e, const MessageId& id) -> Result<bool, StoreError> {
        if (!ids.count(id)) return false;
        if (auto r = impl_->remove(p, id, e); !r) return r.failure();
        return true;
      });
  if (!n) {
    impl_->poison();
    return n;
  }
  if (auto c = impl_->end_operation(); !c) return c.failure();
  return n;
}

std::size_t MessageStore::sweep_expired(std::uint64_t now_ms, std::size_t max) {
  // Expired means expiry_ms <= now_ms: every key below be64(now_ms + 1).
  std::optional<std::string> upper;
  if (now_ms < std::numeric_limits<std::uint64_t>::max()) {
    upper.emplace();
    append_be64(*upper, now_ms + 1);
  }
  std::size_t visited = 0;
  std::size_t removed = 0;
  std::string resume;  // the next round seeks here; empty: from the first key
  while (visited < max) {
    const std::size_t budget = std::min(sweep_batch, max - visited);
    rocksdb::Slice upper_slice;
    rocksdb::ReadOptions ro = impl_->read_options();
    if (upper) {
      upper_slice = *upper;
      ro.iterate_upper_bound = &upper_slice;
    }
    Impl::Pending& p = impl_->staging();
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->family(expiry)));
    std::vector<std::string> keys;  // visited in this round
    std::size_t removed_in_batch = 0;
    bool failed = false;
    for (resume.empty() ? it->SeekToFirst() : it->Seek(resume); it->Valid() && keys.size() < budget;
         it->Next()) {
      const std::string& key = keys.emplace_back(it->key().ToString());
      if (key.size() != expiry_key_bytes) continue;  // malformed: deleted below all the same
      const std::uint64_t expiry_ms = read_be64(key.data());
      const auto id = fixed_from<MessageId>(key.data() + 8);
      auto found = impl_->entry(&p, id);
      if (!found) {
        failed = true;
        break;
      }
      // An index entry whose expiry moved on is stale: only the key goes.
      if (!*found || (*found)->expiry_ms != expiry_ms) continue;
      if (!impl_->remove(p, id, **found, /*keep_expiry_key=*/true)) {
        failed = true;
        break;
      }
      ++removed_in_batch;
    }
    if (!it->status().ok()) {
      impl_->log_failure("reading the expiry index", it->status());
      failed = true;
    }
    if (failed) {
      impl_->poison();
      break;
    }
    if (keys.empty()) break;
    // One range tombstone replaces a point tombstone per key, which the next
    // sweep would otherwise have to step over. It may cover only keys this
    // round visited: not if a staged write (this batch so far, or the one in
    // flight) put an expiry key that is already due, which the committed
    // view this round read does not show.
    const bool unseen_due = p.min_expiry_put_ms <= now_ms ||
                            (impl_->inflight && impl_->inflight->min_expiry_put_ms <= now_ms);
    if (unseen_due) {
      for (const auto& k : keys)
        p.batch.Delete(impl_->family(expiry), k);
    } else {
      p.batch.DeleteRange(impl_->family(expiry), resume, keys.back() + '\0');
    }
    // Not synced by itself: a sweep lost in a crash is redone by the next one.
    if (!impl_->end_operation(removed_in_batch, /*sync=*/false)) break;
    visited += keys.size();
    removed += removed_in_batch;
    if (keys.size() < budget) break;
    resume = keys.back() + '\0';
  }
  return removed;
}

std::vector<EntryState> MessageStore::bucket_entries(std::size_t bucket) const {
  std::vector<EntryState> out;
  if (bucket >= summary_buckets) return out;
  PrefixRead read(std::string(1, static_cast<char>(bucket)), impl_->read_options());
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read.options, impl_->family(ids)));
  for (it->Seek(read.prefix); it->Valid() && has_prefix(it->key(), read.prefix); it->Next()) {
    const auto e = parse_id_value(it->value());
    if (it->key().size() != MessageId::size() || !e) continue;
    out.push_back(EntryState{fixed_from<MessageId>(it->key().data()), e->tombstone, e->expiry_ms});
  }
  if (!it->status().ok()) impl_->log_failure("reading the ID index", it->status());
  return out;
}

std::vector<Mailbox> MessageStore::recipients(std::optional<Mailbox> after,
                                              std::size_t limit) const {
  std::vector<Mailbox> out;
  if (limit == 0) return out;
  PrefixRead read(std::string(1, usage_prefix), impl_->read_options());
  const std::string start = after ? usage_key(mailbox_key(*after)) : read.prefix;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read.options, impl_->family(meta)));
  it->Seek(start);
  if (after && it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  for (; it->Valid() && out.size() < limit && has_prefix(it->key(), read.prefix); it->Next()) {
    if (it->key().size() != usage_key_bytes) continue;
    // A record kept for its arrival number alone (see commit) has no messages.
    const auto usage = parse_usage_value(it->value(), fixed_from<MailboxKey>(it->key().data() + 1));
    if (!usage) {
      impl_->log->error("message store: malformed quota counter ({} bytes)", it->value().size());
      continue;
    }
    if (usage->count == 0) continue;
    out.push_back(usage->mailbox);
  }
  if (!it->status().ok()) impl_->log_failure("reading quota counters", it->status());
  return out;
}

}  // namespace nightjar
