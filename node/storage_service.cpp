#include "node/storage_service.hpp"

#include <spdlog/spdlog.h>

#include "node/version.hpp"
#include "swarm/public_record.hpp"

namespace nightjar {

using namespace storage;

namespace {
constexpr std::size_t max_response_bytes = 128 * 1024;
// Public records one mailbox may hold: one per type, so a few in practice.
constexpr std::size_t max_records_per_mailbox = 16;

Status status_of(StoreError e) {
  switch (e) {
    case StoreError::quota_messages: return Status::quota_messages;
    case StoreError::quota_bytes: return Status::quota_bytes;
    case StoreError::disk_full: return Status::disk_full;
    case StoreError::expired: return Status::ttl_out_of_range;
    case StoreError::deleted: return Status::deleted;
    case StoreError::bad_id: return Status::bad_request;
    case StoreError::io_error: return Status::internal;
  }
  return Status::internal;
}
}  // namespace

StorageService::StorageService(MessageStore& store, Replicator& replicator,
                               const DirectoryState& directory, NodeId self,
                               Clock clock,
                               std::shared_ptr<spdlog::logger> log, std::size_t max_waiting)
    : store_(store),
      replicator_(replicator),
      directory_(directory),
      self_(self),
      clock_(std::move(clock)),
      log_(log ? std::move(log) : spdlog::default_logger()),
      max_waiting_(max_waiting) {}

StorageService::~StorageService() { *alive_ = false; }

void StorageService::respond(Responder& r, const Response& resp) {
  if (resp.status != Status::ok) ++stats_.rejected[static_cast<std::size_t>(resp.status) & 15];
  r.reply(encode(resp));
}

void StorageService::reject(Responder& r, Status s) { respond(r, Response{s, {}}); }

void StorageService::handle(Bytes bytes, Responder responder) {
  ++stats_.requests;
  auto req = decode_request(bytes);
  if (!req) return reject(responder, Status::bad_request);
  if (!directory_.current()) return reject(responder, Status::not_ready);
  std::visit(
      [&](auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, StoreRequest>) {
          handle_store(r, std::move(responder));
        } else if constexpr (std::is_same_v<T, RetrieveRequest>) {
          handle_retrieve(r, std::move(responder));
        } else if constexpr (std::is_same_v<T, DeleteRequest>) {
          handle_delete(r, std::move(responder));
        } else if constexpr (std::is_same_v<T, DeleteAllRequest>) {
          handle_delete_all(r, std::move(responder));
        } else if constexpr (std::is_same_v<T, LookupRequest>) {
          handle_lookup(r, std::move(responder));
        } else if constexpr (std::is_same_v<T, CoverRequest>) {
          // A loop goes back; a drop ends here, unanswered (its relays'
          // reply routes expire).
          ++(r.loop ? stats_.cover_loops : stats_.cover_drops);
          if (r.loop) respond(responder, Response{Status::ok, {}});
        } else {
          InfoResult info{"nightjar " + std::string(nightjar_version()), clock_.unix_ms(),
                          replicator_.swarm().value_or(0)};
          respond(responder, Response{Status::ok, info});
        }
      },
      *req);
}

bool StorageService::mine(const Ed25519PublicKey& recipient) const {
  auto dir = directory_.current();
  auto swarm = dir ? dir->swarm_for(recipient) : std::nullopt;
  return swarm && replicator_.swarm() && *replicator_.swarm() == *swarm;
}

void StorageService::directory_changed() {
  std::vector<Waiter> moved;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (mine(it->second.request.recipient)) {
      ++it;
      continue;
    }
    moved.push_back(std::move(it->second));
    it = waiters_.erase(it);
  }
  stats_.waiting = waiters_.size();
  for (auto& w : moved) in_my_swarm(w.request.recipient, *w.responder);  // answers wrong_swarm
}

bool StorageService::in_my_swarm(const Ed25519PublicKey& recipient, Responder& r) {
  auto dir = directory_.current();
  auto swarm = dir->swarm_for(recipient);
  if (!swarm) {
    reject(r, Status::not_ready);
    return false;
  }
  if (replicator_.swarm() && *replicator_.swarm() == *swarm) return true;
  WrongSwarm w;
  w.swarm = *swarm;
  for (const DirectoryEntry* m : dir->members(*swarm)) w.members.push_back(m->node.id);
  respond(r, Response{Status::wrong_swarm, std::move(w)});
  return false;
}

template <class R>
bool StorageService::authenticated(const R& req, Responder& r) {
  const std::uint64_t now = clock_.unix_ms();
  const std::uint64_t skew = now > req.timestamp_ms ? now - req.timestamp_ms : req.timestamp_ms - now;
  if (skew > signature_window_ms) {
    respond(r, Response{Status::clock_skew, ClockSkew{now}});
    return false;
  }
  if (!verify(req)) {
    reject(r, Status::bad_signature);
    return false;
  }
  return true;
}

Status StorageService::check_record(StoredMessage& m, std::uint64_t now_ms,
                                    std::vector<StoredMessage>& replaced) const {
  auto record = decode_record(m.body);
  if (!record || !(record->owner == m.recipient)) return Status::bad_request;
  if (!verify_record(*record)) return Status::bad_signature;
  if (record->expires_ms <= now_ms) return Status::ttl_out_of_range;
  m.expiry_ms = std::min(m.expiry_ms, record->expires_ms);
  std::size_t others = 0;  // records of other types
  for (auto& held : store_.all_of(m.mailbox(), 4 * max_records_per_mailbox, now_ms)) {
    auto r = decode_record(held.body);
    if (!r) continue;  // a node stores only records; nothing else to compare
    if (r->type != record->type) {
      ++others;
      continue;
    }
    if (held.id == m.id) continue;  // the same record again: a duplicate
    if (r->version >= record->version) return Status::stale;  // first of a version wins
    replaced.push_back(std::move(held));
  }
  if (others >= max_records_per_mailbox) return Status::quota_messages;
  return Status::ok;
}

void StorageService::handle_store(StoreRequest& req, Responder responder) {
  if (!in_my_swarm(req.recipient, responder)) return;
  const NetworkParams& p = directory_.current()->params;
  if (req.ttl_seconds < p.ttl_min_seconds || req.ttl_seconds > p.ttl_max_seconds)
    return reject(responder, Status::ttl_out_of_range);
  // A public record has its own bound (PublicRecord::max_bytes, checked as
  // it decodes), whatever the network's limit for messages.
  if (req.ns != Namespace::records && req.body.size() > p.max_body_bytes)
    return reject(responder, Status::body_too_large);
  const std::uint64_t now = clock_.unix_ms();
  StoredMessage m;
  m.recipient = req.recipient;
  m.ns = req.ns;
  m.id = message_id(mailbox_of(req), req.body);
  m.timestamp_ms = now;
  m.expiry_ms = now + std::uint64_t{req.ttl_seconds} * 1000;
  m.body = std::move(req.body);
  std::vector<StoredMessage> replaced;
  if (m.ns == Namespace::records) {
    if (const Status s = check_record(m, now, replaced); s != Status::ok) return reject(responder, s);
  }
  auto put = store_.put(m, now, &m.timestamp_ms);  // a retry: the first copy's time
  if (!put) return reject(responder, status_of(put.error()));
  if (m.ns == Namespace::records) {
    ++stats_.publishes;
    // Last writer wins: the versions this one replaces go, everywhere (a
    // member that missed this push learns of it from the tombstones, or
    // from anti-entropy).
    for (const auto& old : replaced) {
      std::uint64_t expiry_ms = 0;
      auto erased = store_.erase(m.mailbox(), old.id, now, &expiry_ms);
      if (!erased) return reject(responder, status_of(erased.error()));
      if (*erased) replicator_.replicate_tombstone(m.mailbox(), old.id, expiry_ms);
    }
  } else {
    ++stats_.stores;
  }
  // The answer waits for two things: this node's write is durable, and the
  // replicas the quorum needs acknowledged theirs (they write in parallel).
  struct Pending {
    std::shared_ptr<Responder> responder;
    StoreResult result;
    bool local_done = false;
    bool local_ok = false;
    bool quorum_done = false;
    bool quorum_ok = false;
  };
  auto pending = std::make_shared<Pending>();
  pending->responder = std::make_shared<Responder>(std::move(responder));
  pending->result = StoreResult{m.id, m.timestamp_ms, 0};
  std::weak_ptr<bool> alive = alive_;
  auto answer = [this, pending] {
    if (!pending->local_done || !pending->quorum_done) return;
    if (!pending->local_ok) return reject(*pending->responder, Status::internal);
    if (!pending->quorum_ok) return reject(*pending->responder, Status::quorum_failed);
    respond(*pending->responder, Response{Status::ok, pending->result});
  };
  replicator_.replicate(m, [alive, pending, answer](std::uint32_t confirmed, std::uint32_t needed) {
    if (alive.expired()) return;
    pending->result.replicas = static_cast<std::uint8_t>(std::min<std::uint32_t>(confirmed, 255));
    pending->quorum_done = true;
    pending->quorum_ok = confirmed >= needed;
    answer();
  });
  const bool fresh = *put == PutResult::stored;
  store_.when_durable([this, alive, pending, answer, fresh, mailbox = m.mailbox()](bool ok) {
    if (alive.expired()) return;
    pending->local_done = true;
    pending->local_ok = ok;
    if (ok && fresh) wake(mailbox);
    answer();
  });
}

Response StorageService::retrieve_now(const RetrieveRequest& req) {
  RetrieveResult out;
  // An arrival cursor of another store (or none) starts at the beginning of
  // ours: the floor alone then says what the client already has.
  const std::uint64_t after = req.since.incarnation == store_.incarnation() ? req.since.seq : 0;
  out.messages = store_.arrivals(mailbox_of(req), after, req.floor, std::size_t{req.limit} + 1,
                                 clock_.unix_ms());
  if (out.messages.size() > req.limit) {
    out.messages.resize(req.limit);
    out.more = true;
  }
  // Keep one answer to a few hundred reply cells: stop by size, say `more`.
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < out.messages.size(); ++i) {
    bytes += out.messages[i].body.size() + 50;
    if (bytes > max_response_bytes && i > 0) {
      out.messages.resize(i);
      out.more = true;
      break;
    }
  }
  // Everything up to the cursor has been listed (or lies at or below the
  // floor): after the last message listed, or after all that arrived so far.
  out.cursor.incarnation = store_.incarnation();
  out.cursor.seq =
      out.more ? out.messages.back().seq : std::max(after, store_.last_seq(mailbox_of(req)));
  out.server_time_ms = clock_.unix_ms();
  return Response{Status::ok, std::move(out)};
}

void StorageService::handle_retrieve(RetrieveRequest& req, Responder responder) {
  if (!in_my_swarm(req.recipient, responder) || !authenticated(req, responder)) return;
  ++stats_.retrieves;
  Response resp = retrieve_now(req);
  const auto& got = std::get<RetrieveResult>(resp.body);
  if (!got.messages.empty() || req.wait_ms == 0) return respond(responder, resp);
  if (waiters_.size() >= max_waiting_) return respond(responder, resp);  // answer now, empty
  ++stats_.long_polls;
  Waiter w;
  // Parked from here: whatever arrives next for the recipient answers it,
  // whatever its timestamp (a replica that came late sorts below the floor).
  w.request = req;
  w.request.since = got.cursor;
  w.request.floor = Cursor{};
  w.deadline_ms = clock_.unix_ms() + req.wait_ms;
  w.responder = std::make_shared<Responder>(std::move(responder));
  waiters_.emplace(mailbox_key(mailbox_of(req)), std::move(w));
  stats_.waiting = waiters_.size();
}

template <class Keep>
void StorageService::answer_unless(std::multimap<MailboxKey, Waiter>::iterator first,
                                   std::multimap<MailboxKey, Waiter>::iterator last, Keep keep) {
  std::vector<Waiter> done;
  for (auto it = first; it != last;) {
    if (keep(it->second)) {
      ++it;
      continue;
    }
    done.push_back(std::move(it->second));
    it = waiters_.erase(it);
  }
  stats_.waiting = waiters_.size();
  for (auto& w : done) respond(*w.responder, retrieve_now(w.request));
}

void StorageService::wake(const Mailbox& mailbox) {
  auto [first, last] = waiters_.equal_range(mailbox_key(mailbox));
  // Padded, a streamed poll's answers wait for pad().
  answer_unless(first, last, [this](Waiter& w) {
    return w.request.stream && (padding_ms_ > 0 || answer_segment(w));
  });
}

// A streamed long poll stays parked after it is answered: what arrived goes
// out as one segment, and the waiter goes on from that answer's cursor. An
// answer cut short (`more`) ends the poll instead (the client pages), as does
// a path that is gone.
bool StorageService::answer_segment(Waiter& w, bool padding) {
  Response resp = retrieve_now(w.request);
  auto& got = std::get<RetrieveResult>(resp.body);
  if (got.more) return false;
  if (got.messages.empty() && !padding) return true;  // nothing new for this one yet
  if (!w.responder->reply_segment(encode(resp))) return false;
  ++stats_.poll_segments;
  if (got.messages.empty()) ++stats_.padding_segments;
  w.request.since = got.cursor;
  return true;
}

void StorageService::pad() {
  if (padding_ms_ == 0) return;
  answer_unless(waiters_.begin(), waiters_.end(),
                [this](Waiter& w) { return !w.request.stream || answer_segment(w, true); });
}

void StorageService::tick() {
  const std::uint64_t now = clock_.unix_ms();
  answer_unless(waiters_.begin(), waiters_.end(),
                [now](const Waiter& w) { return w.deadline_ms > now; });
}

void StorageService::answer_when_durable(Responder responder, Response resp) {
  std::weak_ptr<bool> alive = alive_;
  auto r = std::make_shared<Responder>(std::move(responder));
  store_.when_durable([this, alive, r, resp = std::move(resp)](bool ok) {
    if (alive.expired()) return;
    if (!ok) return reject(*r, Status::internal);
    respond(*r, resp);
  });
}

void StorageService::handle_delete(const DeleteRequest& req, Responder responder) {
  if (!in_my_swarm(req.recipient, responder) || !authenticated(req, responder)) return;
  ++stats_.deletes;
  std::uint64_t expiry_ms = 0;
  auto r = store_.erase(mailbox_of(req), req.id, clock_.unix_ms(), &expiry_ms);
  if (!r) return reject(responder, status_of(r.error()));
  if (!*r) return reject(responder, Status::not_found);
  replicator_.replicate_tombstone(mailbox_of(req), req.id, expiry_ms);
  answer_when_durable(std::move(responder), Response{Status::ok, DeleteResult{1}});
}

void StorageService::handle_delete_all(const DeleteAllRequest& req, Responder responder) {
  if (!in_my_swarm(req.recipient, responder) || !authenticated(req, responder)) return;
  ++stats_.deletes;
  // Only messages stored before the request was signed: a delete_all that
  // someone replays within its time window cannot delete newer messages.
  // (What is still being written is not listed: it was not acknowledged yet.)
  const std::uint64_t now = clock_.unix_ms();
  std::uint32_t deleted = 0;
  for (const auto& m : store_.all_of(mailbox_of(req), store_.message_count() + 1, now)) {
    if (m.timestamp_ms > req.timestamp_ms) continue;
    auto r = store_.erase(mailbox_of(req), m.id, now);
    if (!r) return reject(responder, status_of(r.error()));
    if (!*r) continue;
    ++deleted;
    replicator_.replicate_tombstone(mailbox_of(req), m.id, m.expiry_ms);
  }
  answer_when_durable(std::move(responder), Response{Status::ok, DeleteResult{deleted}});
}

void StorageService::handle_lookup(const LookupRequest& req, Responder responder) {
  if (!in_my_swarm(req.owner, responder)) return;
  ++stats_.lookups;
  // The newest version held here (older ones may linger until the tombstones
  // of their replacement arrive). Nodes check a record when it is published;
  // the reader checks the owner's signature again.
  const Mailbox mailbox{Namespace::records, req.owner};
  std::optional<PublicRecord> best;
  std::vector<std::uint8_t> best_bytes;
  for (auto& held : store_.all_of(mailbox, 4 * max_records_per_mailbox, clock_.unix_ms())) {
    auto r = decode_record(held.body);
    if (!r || r->type != req.type || (best && best->version >= r->version)) continue;
    best = std::move(*r);
    best_bytes = std::move(held.body);
  }
  if (!best) return reject(responder, Status::not_found);
  respond(responder, Response{Status::ok, LookupResult{std::move(best_bytes)}});
}

}  // namespace nightjar
