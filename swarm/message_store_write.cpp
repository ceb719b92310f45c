// How one write of the message store is assembled: the checks of a put, and
// the changes every operation is made of, each keeping the message, its index
// entries, the quota counters, the totals and the summary in step. Nothing
// reaches the database or the in-memory state before the write is
// written (commit_open(), or the writer) and applied.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "swarm/message_store_impl.hpp"

namespace nightjar {

using namespace store_layout;

void MessageStore::Impl::log_failure(const char* what, const rocksdb::Status& s) const {
  log->error("message store: {} failed: {}", what, s.ToString());
}

Result<std::optional<IdEntry>, StoreError> MessageStore::Impl::entry(Pending* p,
                                                                     const MessageId& id) const {
  if (p) {
    if (auto it = p->entries.find(id.bytes); it != p->entries.end()) return it->second;
    if (p == open.get() && inflight) {
      if (auto it = inflight->entries.find(id.bytes); it != inflight->entries.end())
        return it->second;
    }
  }
  rocksdb::PinnableSlice v;
  const rocksdb::Status s = db->Get(read_options(), family(ids), id_key(id), &v);
  if (s.IsNotFound()) return std::optional<IdEntry>{};
  if (!s.ok()) {
    log_failure("reading the ID index", s);
    return fail(StoreError::io_error);
  }
  auto e = parse_id_value(v);
  if (!e) {
    log->error("message store: malformed ID index entry ({} bytes)", v.size());
    return fail(StoreError::io_error);
  }
  return e;
}

Result<Usage, StoreError> MessageStore::Impl::usage(Pending* p, const Mailbox& mailbox) const {
  const MailboxKey key = mailbox_key(mailbox);
  if (p) {
    if (auto it = p->usage.find(key.bytes); it != p->usage.end()) return it->second.current;
    if (p == open.get() && inflight) {
      if (auto it = inflight->usage.find(key.bytes); it != inflight->usage.end())
        return it->second.current;
    }
  }
  rocksdb::PinnableSlice v;
  const rocksdb::Status s = db->Get(read_options(), family(meta), usage_key(key), &v);
  if (s.IsNotFound()) return Usage{0, 0, 0, mailbox};
  if (!s.ok()) {
    log_failure("reading a quota counter", s);
    return fail(StoreError::io_error);
  }
  auto u = parse_usage_value(v, key);
  if (!u || !(u->mailbox == mailbox)) {
    log->error("message store: malformed quota counter ({} bytes)", v.size());
    return fail(StoreError::io_error);
  }
  return *u;
}

Result<Usage*, StoreError> MessageStore::Impl::usage_slot(Pending& p,
                                                          const Mailbox& mailbox) const {
  const MailboxKey key = mailbox_key(mailbox);
  if (auto it = p.usage.find(key.bytes); it != p.usage.end()) return &it->second.current;
  auto loaded = usage(&p, mailbox);  // the write in flight's, or the database's
  if (!loaded) return loaded.failure();
  auto [it, inserted] = p.usage.emplace(key.bytes, UsageSlot{*loaded, *loaded});
  return &it->second.current;
}

Result<std::pair<PutResult, bool>, StoreError> MessageStore::Impl::stage_put(
    Pending& p, const StoredMessage& m, std::uint64_t now_ms, std::uint64_t* timestamp_ms) {
  if (m.expiry_ms <= now_ms) return fail(StoreError::expired);
  if (!(message_id(m.mailbox(), m.body) == m.id)) return fail(StoreError::bad_id);
  auto found = entry(&p, m.id);
  if (!found) return found.failure();
  const std::optional<IdEntry>& old = *found;
  if (old && old->expiry_ms > now_ms) {
    if (old->tombstone) return fail(StoreError::deleted);
    if (timestamp_ms) *timestamp_ms = old->timestamp_ms;  // the first copy's
    if (m.expiry_ms <= old->expiry_ms) return std::pair{PutResult::duplicate, false};
    extend_live(p, m, *old, m.expiry_ms);
    return std::pair{PutResult::duplicate, true};
  }

  // A new message, or one replacing an expired entry of the same ID (which
  // frees what that entry held).
  auto slot = usage_slot(p, m.mailbox());
  if (!slot) return slot.failure();
  Usage recipient_usage = **slot;
  std::uint64_t count = staged_count(p);
  std::uint64_t bytes = staged_bytes(p);
  if (old && !old->tombstone) {
    recipient_usage.count -= std::min<std::uint64_t>(recipient_usage.count, 1);
    recipient_usage.bytes -= std::min(recipient_usage.bytes, old->body_bytes);
    count -= std::min<std::uint64_t>(count, 1);
    bytes -= std::min(bytes, old->body_bytes);
  }
  const std::uint64_t size = m.body.size();
  if (recipient_usage.count >= options.quota_messages) return fail(StoreError::quota_messages);
  if (recipient_usage.bytes + size > options.quota_bytes) return fail(StoreError::quota_bytes);
  if (bytes + size + (count + 1) * message_overhead_bytes > options.disk_cap_bytes)
    return fail(StoreError::disk_full);

  if (old) {
    if (auto r = remove(p, m.id, *old); !r) return r.failure();
  }
  if (auto r = insert_live(p, m, now_ms); !r) return r.failure();
  if (timestamp_ms) *timestamp_ms = m.timestamp_ms;
  return std::pair{PutResult::stored, true};
}

void MessageStore::Impl::set_entry(Pending& p, const MessageId& id, std::optional<IdEntry> e) {
  if (e)
    p.batch.Put(family(ids), id_key(id), id_value(*e));
  else
    p.batch.Delete(family(ids), id_key(id));
  p.entries[id.bytes] = std::move(e);
}

Result<void, StoreError> MessageStore::Impl::insert_live(Pending& p, const StoredMessage& m,
                                                         std::uint64_t now_ms) {
  auto slot = usage_slot(p, m.mailbox());
  if (!slot) return slot.failure();
  const std::uint64_t size = m.body.size();
  const MailboxKey key = mailbox_key(m.mailbox());
  // The next arrival number: a message that arrives here gets one, whatever
  // its timestamp, so a client that asks for "what arrived after N" sees a
  // replica that came late. A hybrid clock per recipient (see the layout).
  p.clock_ms = std::max({p.clock_ms, staged_clock(), now_ms});
  const std::uint64_t seq = std::max((*slot)->last_seq + 1, p.clock_ms << seq_clock_shift);
  (*slot)->last_seq = seq;
  p.batch.Put(family(messages), message_key(key, m.timestamp_ms, m.id),
              message_value(m.expiry_ms, m.body));
  p.batch.Put(family(arrival_index), arrival_key(key, seq), arrival_value(m.timestamp_ms, m.id));
  set_entry(p, m.id, IdEntry{false, m.recipient, m.ns, m.timestamp_ms, m.expiry_ms, size, seq});
  p.batch.Put(family(expiry), expiry_key(m.expiry_ms, m.id), rocksdb::Slice());
  p.min_expiry_put_ms = std::min(p.min_expiry_put_ms, m.expiry_ms);
  (*slot)->count += 1;
  (*slot)->bytes += size;
  p.count_delta += 1;
  p.bytes_delta += static_cast<std::int64_t>(size);
  p.summary_changes.emplace_back(EntryState{m.id, false, m.expiry_ms}, true);
  return {};
}

void MessageStore::Impl::insert_tombstone(Pending& p, const MessageId& id,
                                          const IdEntry& tombstone) {
  set_entry(p, id, tombstone);
  p.batch.Put(family(expiry), expiry_key(tombstone.expiry_ms, id), rocksdb::Slice());
  p.min_expiry_put_ms = std::min(p.min_expiry_put_ms, tombstone.expiry_ms);
  p.summary_changes.emplace_back(EntryState{id, true, tombstone.expiry_ms}, true);
}

namespace {

// Takes a live message out of the counters (never below zero: counters that
// disagree with the index must not wrap round and refuse every put).
void uncount(Usage& u, std::int64_t& count_delta, std::int64_t& bytes_delta, std::uint64_t size) {
  u.count -= std::min<std::uint64_t>(u.count, 1);
  u.bytes -= std::min(u.bytes, size);
  count_delta -= 1;
  bytes_delta -= static_cast<std::int64_t>(size);
}

}  // namespace

Result<void, StoreError> MessageStore::Impl::remove(Pending& p, const MessageId& id,
                                                    const IdEntry& e, bool keep_expiry_key) {
  if (!e.tombstone) {
    auto slot = usage_slot(p, Mailbox{e.ns, e.recipient});
    if (!slot) return slot.failure();
    const MailboxKey key = mailbox_key_of(e);
    p.batch.Delete(family(messages), message_key(key, e.timestamp_ms, id));
    if (e.seq != 0) p.batch.Delete(family(arrival_index), arrival_key(key, e.seq));
    uncount(**slot, p.count_delta, p.bytes_delta, e.body_bytes);
  }
  set_entry(p, id, std::nullopt);
  if (!keep_expiry_key) p.batch.Delete(family(expiry), expiry_key(e.expiry_ms, id));
  p.summary_changes.emplace_back(EntryState{id, e.tombstone, e.expiry_ms}, false);
  return {};
}

Result<void, StoreError> MessageStore::Impl::make_tombstone(Pending& p, const MessageId& id,
                                                            const IdEntry& e,
                                                            std::uint64_t expiry_ms) {
  if (!e.tombstone) {
    auto slot = usage_slot(p, Mailbox{e.ns, e.recipient});
    if (!slot) return slot.failure();
    const MailboxKey key = mailbox_key_of(e);
    p.batch.Delete(family(messages), message_key(key, e.timestamp_ms, id));
    if (e.seq != 0) p.batch.Delete(family(arrival_index), arrival_key(key, e.seq));
    uncount(**slot, p.count_delta, p.bytes_delta, e.body_bytes);
  }
  IdEntry t = e;
  t.tombstone = true;
  t.body_bytes = 0;
  t.seq = 0;
  t.expiry_ms = expiry_ms;
  set_entry(p, id, t);
  if (expiry_ms != e.expiry_ms) {
    p.batch.Delete(family(expiry), expiry_key(e.expiry_ms, id));
    p.batch.Put(family(expiry), expiry_key(expiry_ms, id), rocksdb::Slice());
    p.min_expiry_put_ms = std::min(p.min_expiry_put_ms, expiry_ms);
  }
  p.summary_changes.emplace_back(EntryState{id, e.tombstone, e.expiry_ms}, false);
  p.summary_changes.emplace_back(EntryState{id, true, expiry_ms}, true);
  return {};
}

void MessageStore::Impl::extend_live(Pending& p, const StoredMessage& m, const IdEntry& e,
                                     std::uint64_t expiry_ms) {
  // The first copy's timestamp stays: it is the message's place in the order.
  p.batch.Put(family(messages), message_key(mailbox_key_of(e), e.timestamp_ms, m.id),
              message_value(expiry_ms, m.body));
  IdEntry longer = e;
  longer.expiry_ms = expiry_ms;
  set_entry(p, m.id, longer);
  p.batch.Delete(family(expiry), expiry_key(e.expiry_ms, m.id));
  p.batch.Put(family(expiry), expiry_key(expiry_ms, m.id), rocksdb::Slice());
  p.min_expiry_put_ms = std::min(p.min_expiry_put_ms, expiry_ms);
  p.summary_changes.emplace_back(EntryState{m.id, false, e.expiry_ms}, false);
  p.summary_changes.emplace_back(EntryState{m.id, false, expiry_ms}, true);
}

MessageStore::Impl::Pending& MessageStore::Impl::staging() {
  if (!open) open = std::make_unique<Pending>();
  return *open;
}

std::uint64_t MessageStore::Impl::staged_count(const Pending& p) const {
  std::int64_t delta = p.count_delta;
  if (&p == open.get() && inflight) delta += inflight->count_delta;
  return message_count + static_cast<std::uint64_t>(delta);
}

std::uint64_t MessageStore::Impl::staged_bytes(const Pending& p) const {
  std::int64_t delta = p.bytes_delta;
  if (&p == open.get() && inflight) delta += inflight->bytes_delta;
  return body_bytes + static_cast<std::uint64_t>(delta);
}

std::uint64_t MessageStore::Impl::staged_clock() const {
  return std::max(clock_ms, inflight ? inflight->clock_ms : 0);
}

void MessageStore::Impl::poison() {
  if (!open) return;
  open->failed = true;
  ++writer_stats.failed_batches;
  if (job) {
    poisoned.push_back(std::move(open));
    writer_wake();
  } else {
    open.reset();  // nobody waits on it: the operations report io_error themselves
  }
}

Result<void, StoreError> MessageStore::Impl::end_operation(std::size_t operations, bool sync) {
  if (open) open->operations += operations;
  if (job) {
    writer_wake();
    return {};
  }
  return commit_open(sync);
}

void MessageStore::Impl::seal(Pending& p) {
  const std::uint64_t clock_now = std::max(staged_clock(), p.clock_ms);
  for (const auto& [mailbox, slot] : p.usage) {
    if (slot.current == slot.loaded) continue;
    const std::string key = usage_key(MailboxKey{mailbox});
    // An empty recipient's record goes, unless its last arrival number was
    // made from the current millisecond: a new record would start there too.
    if (slot.current.count == 0 && (slot.current.last_seq >> seq_clock_shift) < clock_now)
      p.batch.Delete(family(meta), key);
    else
      p.batch.Put(family(meta), key, usage_value(slot.current));
  }
  if (p.clock_ms > staged_clock()) p.batch.Put(family(meta), clock_key, be64_string(p.clock_ms));
}

void MessageStore::Impl::apply(const Pending& p) {
  for (const auto& [e, added] : p.summary_changes)
    toggle_entry(*summary, e, added);
  message_count += static_cast<std::uint64_t>(p.count_delta);
  body_bytes += static_cast<std::uint64_t>(p.bytes_delta);
  clock_ms = std::max(clock_ms, p.clock_ms);
  if (snapshot) {
    // From now on the loop sees this batch.
    const rocksdb::Snapshot* old = snapshot;
    snapshot = db->GetSnapshot();
    db->ReleaseSnapshot(old);
  }
}

Result<void, StoreError> MessageStore::Impl::commit_open(bool sync) {
  if (!open) return {};
  std::unique_ptr<Pending> p = std::move(open);
  seal(*p);
  if (p->batch.Count() == 0) return {};
  rocksdb::WriteOptions wo;
  wo.sync = options.sync && sync;
  const rocksdb::Status s = db->Write(wo, &p->batch);
  ++writer_stats.batches;
  writer_stats.operations += p->operations;
  if (!s.ok()) {
    ++writer_stats.failed_batches;
    log_failure("writing a batch", s);
    return fail(StoreError::io_error);
  }
  apply(*p);
  return {};
}

}  // namespace nightjar
