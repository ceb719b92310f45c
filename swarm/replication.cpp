#include "swarm/replication.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "swarm/swarm_events.hpp"

namespace nightjar {

using namespace replication;

Replicator::Replicator(MessageStore& store, ReplicationTransport& net, NodeId self,
                       ReplicationConfig config)
    : store_(store),
      net_(net),
      self_(self),
      config_(std::move(config)),
      log_(config_.log ? config_.log : spdlog::default_logger()) {}

Replicator::~Replicator() {
  // Tell the waiting callers their replication ends here.
  auto ops = std::move(ops_);
  for (auto& [id, op] : ops)
    if (op.done) op.done(op.confirmed, op.needed);
}

std::vector<NodeId> Replicator::peers() const { return peers_; }

bool Replicator::is_peer(const NodeId& node) const {
  return std::find(peers_.begin(), peers_.end(), node) != peers_.end();
}

bool Replicator::mine(const Mailbox& mailbox) const {
  if (!directory_ || !swarm_) return false;
  auto s = directory_->swarm_for(mailbox.owner);
  return s && *s == *swarm_;
}

std::size_t Replicator::backlog() const {
  return fetching_.size() + migrations_.size() + (scanning_ ? 1 : 0);
}

void Replicator::set_directory(std::shared_ptr<const Directory> directory) {
  const auto old_ids = directory_ ? directory_->swarms() : std::vector<SwarmId>{};
  const auto old_swarm = swarm_;
  const SwarmAssignment old_assignment = directory_ ? directory_->assignment() : SwarmAssignment{};
  const bool had_directory = directory_ != nullptr;
  directory_ = std::move(directory);
  swarm_.reset();
  peers_.clear();
  if (const DirectoryEntry* me = directory_->find(self_)) {
    swarm_ = me->swarm;
    for (const DirectoryEntry* m : directory_->members(me->swarm))
      if (!(m->node.id == self_)) peers_.push_back(m->node.id);
  }
  // Any change of the ring or of this node's swarm may move recipients away.
  if (old_ids != directory_->swarms() || old_swarm != swarm_) {
    scanning_ = true;
    scan_after_.reset();
  }
  // Swarm events: a node that joined a swarm, or a swarm that gained a
  // member, starts an anti-entropy round at once, so the newcomer catches up
  // now instead of at the next interval.
  const SwarmAssignment now = directory_->assignment();
  for (const SwarmEvent& e : swarm_events(had_directory ? &old_assignment : nullptr, now, self_)) {
    switch (e.kind) {
      case SwarmEventKind::joined_swarm:
      case SwarmEventKind::member_joined: next_round_ms_ = 0; break;
      case SwarmEventKind::left_swarm:
        log_->info("left swarm {:016x}: its messages move to their new swarm", e.swarm);
        break;
      default: break;
    }
  }
  if (old_swarm != swarm_) next_round_ms_ = 0;
}

// --- Pushes ----------------------------------------------------------------------

void Replicator::replicate(const StoredMessage& m, QuorumHandler done) {
  const auto members = static_cast<std::uint32_t>(peers_.size() + 1);
  QuorumOp op;
  op.needed = directory_ ? directory_->params.quorum_for(members) : 1;
  op.deadline_ms = now() + config_.ack_timeout_ms;
  op.done = std::move(done);
  if (op.confirmed >= op.needed) {
    ++stats_.quorum_reached;
    if (op.done) op.done(op.confirmed, op.needed);
    op.done = nullptr;
  }
  const std::uint64_t op_id = ++last_op_;
  for (const NodeId& p : peers_) {
    const std::uint64_t rid = next_request_id();
    if (!net_.send(p, encode(Push{rid, m}))) continue;
    ++stats_.pushes_sent;
    pushes_[rid] = PendingPush{op.done ? op_id : 0, 0, op.deadline_ms, {}};
  }
  if (op.done) ops_.emplace(op_id, std::move(op));
}

void Replicator::replicate_tombstone(const Mailbox& mailbox, const MessageId& id,
                                     std::uint64_t expiry_ms) {
  const auto frame = encode(Tombstone{mailbox, id, expiry_ms});
  for (const NodeId& p : peers_) net_.send(p, frame);
}

void Replicator::handle_push(const NodeId& peer, Bytes frame, const Reply& reply) {
  auto push = decode_push(frame);
  if (!push) return;
  ++stats_.pushes_received;
  fetching_.erase(push->message.id);
  AckStatus status = AckStatus::stored;
  if (!mine(push->message.mailbox())) {
    ++stats_.wrong_swarm;
    status = AckStatus::wrong_swarm;
  } else {
    auto r = store_.put(push->message, now());
    if (r) {
      // Acknowledged (and long polls woken) once it is durable here.
      const bool fresh = *r == PutResult::stored;
      if (fresh && push->request_id == 0) ++stats_.repaired;
      store_.when_durable([this, alive = std::weak_ptr<const char>(lifetime_), fresh,
                           mailbox = push->message.mailbox(), rid = push->request_id,
                           reply](bool ok) {
        if (alive.expired()) return;
        if (ok && fresh && on_stored_) on_stored_(mailbox);
        if (rid != 0) reply(encode(PushAck{rid, ok ? AckStatus::stored : AckStatus::refused}));
      });
      return;
    } else {
      status = r.error() == StoreError::deleted ? AckStatus::deleted : AckStatus::refused;
      if (r.error() == StoreError::expired) status = AckStatus::stored;  // nothing left to keep
      if (status == AckStatus::refused)
        log_->debug("push from {} refused: {}", peer.hex().substr(0, 16), to_string(r.error()));
    }
  }
  if (push->request_id != 0) reply(encode(PushAck{push->request_id, status}));
}

void Replicator::handle_ack(Bytes frame) {
  auto ack = decode_push_ack(frame);
  if (!ack) return;
  auto it = pushes_.find(ack->request_id);
  if (it == pushes_.end()) return;
  ++stats_.acks_received;
  const PendingPush p = it->second;
  pushes_.erase(it);
  const bool held = ack->status == AckStatus::stored || ack->status == AckStatus::deleted;
  if (p.op != 0 && held) {
    auto op = ops_.find(p.op);
    if (op != ops_.end() && ++op->second.confirmed >= op->second.needed) {
      ++stats_.quorum_reached;
      auto done = std::move(op->second.done);
      const auto confirmed = op->second.confirmed, needed = op->second.needed;
      ops_.erase(op);
      if (done) done(confirmed, needed);
    }
  }
  if (p.migration != 0) {
    auto m = migrations_.find(p.migration);
    if (m == migrations_.end()) return;
    --m->second.outstanding;
    if (held) ++m->second.held[p.message];
    if (m->second.outstanding == 0) finish_migration(p.migration);
  }
}

void Replicator::handle_tombstone(Bytes frame) {
  auto t = decode_tombstone(frame);
  if (!t) return;
  fetching_.erase(t->id);
  if (!mine(t->mailbox)) return;
  if (store_.put_tombstone(t->mailbox, t->id, t->expiry_ms)) ++stats_.repaired;
}

// --- Anti-entropy ------------------------------------------------------------------

void Replicator::anti_entropy_round() {
  const std::uint64_t t = now();
  if (t < next_round_ms_ || !swarm_ || peers_.empty()) return;
  const NodeId& peer = peers_[round_turn_++ % peers_.size()];
  Summary s;
  s.swarm = *swarm_;
  s.buckets = store_.summary();
  if (net_.send(peer, encode(s))) ++stats_.summaries_sent;
  next_round_ms_ = t + (found_differences_ ? config_.catch_up_interval_ms
                                          : config_.anti_entropy_interval_ms);
  found_differences_ = false;
  // Fetches whose answer never came (the peer went away) are forgotten, so
  // the next round can ask again.
  if (t >= fetch_reset_ms_) {
    fetching_.clear();
    fetch_reset_ms_ = t + 4 * config_.anti_entropy_interval_ms;
  }
}

void Replicator::handle_summary(const NodeId& peer, Bytes frame, const Reply& reply) {
  auto s = decode_summary(frame);
  if (!s || !swarm_ || s->swarm != *swarm_ || !is_peer(peer)) return;
  const StoreSummary& mine_summary = store_.summary();
  std::size_t sent = 0;
  for (std::size_t b = 0; b < summary_buckets && sent < config_.max_buckets_per_round; ++b) {
    if (s->buckets[b] == mine_summary[b]) continue;
    for (const auto& f : encode_bucket(static_cast<std::uint8_t>(b), store_.bucket_entries(b)))
      reply(f);
    ++sent;
  }
}

void Replicator::handle_bucket(const NodeId& peer, Bytes frame, const Reply& reply) {
  auto list = decode_bucket(frame);
  if (!list || !swarm_ || !is_peer(peer)) return;
  auto& acc = incoming_buckets_[peer];
  acc.insert(acc.end(), list->entries.begin(), list->entries.end());
  if (!list->last) {
    if (acc.size() > 4 * max_bucket_entries_per_frame * 64) acc.clear();  // runaway listing
    return;
  }
  std::vector<EntryState> theirs = std::move(acc);
  incoming_buckets_.erase(peer);
  ++stats_.buckets_compared;

  std::vector<EntryState> ours = store_.bucket_entries(list->bucket);
  auto by_id = [](const EntryState& a, const EntryState& b) { return a.id < b.id; };
  std::sort(theirs.begin(), theirs.end(), by_id);
  std::sort(ours.begin(), ours.end(), by_id);
  const std::uint64_t horizon = now() + config_.expiry_margin_ms;

  Fetch want;
  auto ask = [&](const MessageId& id) {
    if (fetching_.size() >= config_.max_outstanding_fetches || !fetching_.insert(id).second) return;
    want.ids.push_back(id);
    if (want.ids.size() == max_fetch_ids) {
      reply(encode(want));
      want.ids.clear();
    }
  };
  auto give = [&](const EntryState& e) {
    if (e.tombstone) {
      if (auto entry = store_.index_entry(e.id))
        reply(encode(Tombstone{Mailbox{entry->ns, entry->recipient}, e.id, entry->expiry_ms}));
    } else if (auto m = store_.get(e.id, now())) {
      if (mine(m->mailbox())) reply(encode(Push{0, std::move(*m)}));
    }
  };
  std::size_t i = 0, j = 0;
  while (i < theirs.size() || j < ours.size()) {
    if (j == ours.size() || (i < theirs.size() && theirs[i].id < ours[j].id)) {
      if (theirs[i].expiry_ms > horizon) ask(theirs[i].id);  // they have it, we do not
      ++i;
    } else if (i == theirs.size() || ours[j].id < theirs[i].id) {
      if (ours[j].expiry_ms > horizon) give(ours[j]);  // we have it, they do not
      ++j;
    } else {
      // Both have it: a tombstone wins over a live copy.
      if (theirs[i].tombstone && !ours[j].tombstone) ask(theirs[i].id);
      if (ours[j].tombstone && !theirs[i].tombstone) give(ours[j]);
      ++i;
      ++j;
    }
  }
  if (!want.ids.empty()) reply(encode(want));
  found_differences_ = true;
}

void Replicator::handle_fetch(Bytes frame, const Reply& reply) {
  auto f = decode_fetch(frame);
  if (!f) return;
  for (const MessageId& id : f->ids) {
    auto entry = store_.index_entry(id);
    if (!entry) continue;
    if (entry->tombstone) {
      reply(encode(Tombstone{Mailbox{entry->ns, entry->recipient}, id, entry->expiry_ms}));
    } else if (auto m = store_.get(id, now())) {
      reply(encode(Push{0, std::move(*m)}));
    }
  }
}

// --- Migration -----------------------------------------------------------------------

void Replicator::migrate_some() {
  if (!scanning_ && rescan_ && now() >= next_scan_ms_) {
    rescan_ = false;
    scanning_ = true;
    scan_after_.reset();
  }
  if (!scanning_ || !directory_ || directory_->entries.empty()) return;
  std::size_t pushes = 0;
  for (const auto& [slot, m] : migrations_) pushes += m.outstanding;
  if (pushes >= config_.max_migration_pushes) return;
  auto batch = store_.recipients(scan_after_, config_.migration_batch);
  if (batch.empty()) {
    scanning_ = false;
    next_scan_ms_ = now() + config_.anti_entropy_interval_ms;
    return;
  }
  scan_after_ = batch.back();
  for (const auto& r : batch) {
    auto to = directory_->swarm_for(r.owner);
    if (!to || (swarm_ && *to == *swarm_) || migrating_.count(mailbox_key(r))) continue;
    start_migration(r, *to);
  }
}

void Replicator::start_migration(const Mailbox& mailbox, SwarmId to) {
  const auto members = directory_->members(to);
  if (members.empty()) return;
  const auto messages = store_.all_of(mailbox, store_.message_count() + 1, now());
  const std::uint64_t slot = ++last_migration_;
  Migration m;
  m.mailbox = mailbox;
  m.to = to;
  m.needed = directory_->params.quorum_for(static_cast<std::uint32_t>(members.size()));
  const std::uint64_t deadline = now() + 4 * config_.ack_timeout_ms;
  for (const auto& msg : messages) {
    m.held[msg.id] = 0;
    for (const DirectoryEntry* member : members) {
      const std::uint64_t rid = next_request_id();
      if (!net_.send(member->node.id, encode(Push{rid, msg}))) continue;
      pushes_[rid] = PendingPush{0, slot, deadline, msg.id};
      ++m.outstanding;
    }
  }
  migrating_.insert(mailbox_key(mailbox));
  migrations_.emplace(slot, std::move(m));
  if (migrations_[slot].outstanding == 0) finish_migration(slot);
}

void Replicator::finish_migration(std::uint64_t slot) {
  auto it = migrations_.find(slot);
  if (it == migrations_.end()) return;
  Migration m = std::move(it->second);
  migrations_.erase(it);
  migrating_.erase(mailbox_key(m.mailbox));
  // The directory may have changed while the pushes were out. If the
  // recipient is this swarm's again, this node keeps everything (and may have
  // taken new messages for it meanwhile); if it now belongs to yet another
  // swarm, a later scan moves it there.
  const auto to = directory_ ? directory_->swarm_for(m.mailbox.owner) : std::nullopt;
  if (to && swarm_ && *to == *swarm_) return;  // ours again
  if (!to || *to != m.to) {
    rescan_ = true;
    return;
  }
  // Drop only the messages a quorum of the new swarm acknowledged, by ID:
  // one that arrived after the migration started was not pushed, and stays
  // for the next scan, like one that too few acknowledged.
  std::set<MessageId, std::less<>> acknowledged;
  for (const auto& [id, n] : m.held)
    if (n >= m.needed) acknowledged.insert(id);
  if (!acknowledged.empty()) {
    if (auto dropped = store_.drop_messages(m.mailbox, acknowledged); dropped && *dropped > 0) {
      ++stats_.migrated_recipients;
      stats_.migrated_messages += *dropped;
    }
  }
  // Once the drop is written (reads show the store as written), anything
  // left for the recipient calls for another scan.
  store_.when_durable([this, alive = std::weak_ptr<const char>(lifetime_),
                       mailbox = m.mailbox](bool) {
    if (alive.expired()) return;
    if (!store_.all_of(mailbox, 1, now()).empty()) rescan_ = true;
  });
}

// --- Driving -------------------------------------------------------------------------

bool Replicator::handle_frame(const NodeId& peer, Bytes frame, const Reply& reply) {
  if (frame.empty()) return false;
  switch (static_cast<FrameType>(frame[0])) {
    case FrameType::repl_push: handle_push(peer, frame, reply); return true;
    case FrameType::repl_push_ack: handle_ack(frame); return true;
    case FrameType::repl_tombstone: handle_tombstone(frame); return true;
    case FrameType::repl_summary: handle_summary(peer, frame, reply); return true;
    case FrameType::repl_bucket: handle_bucket(peer, frame, reply); return true;
    case FrameType::repl_fetch: handle_fetch(frame, reply); return true;
    default: return false;
  }
}

void Replicator::tick() {
  const std::uint64_t t = now();
  // Expired acknowledgements.
  for (auto it = pushes_.begin(); it != pushes_.end();) {
    if (it->second.deadline_ms > t) {
      ++it;
      continue;
    }
    const PendingPush p = it->second;
    it = pushes_.erase(it);
    if (p.migration != 0) {
      auto m = migrations_.find(p.migration);
      if (m != migrations_.end() && --m->second.outstanding == 0) finish_migration(p.migration);
    }
  }
  for (auto it = ops_.begin(); it != ops_.end();) {
    if (it->second.deadline_ms > t) {
      ++it;
      continue;
    }
    ++stats_.quorum_failed;
    auto done = std::move(it->second.done);
    const auto confirmed = it->second.confirmed, needed = it->second.needed;
    it = ops_.erase(it);
    if (done) done(confirmed, needed);
  }
  anti_entropy_round();
  migrate_some();
}

}  // namespace nightjar
