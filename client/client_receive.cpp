// Client: receiving (long polls of the own swarm, one-off passes, lookback
// sweeps) and the housekeeping tick. See client/client.hpp.
//
// Why arrival cursors: a message's timestamp is set by the first member that
// stored it, and replication does not deliver in timestamp order, so a
// member may receive a message that sorts before others it has already
// handed out (a replica held back by a slow link, a partition, a restart).
// A cursor in timestamp order would move past it. Each member therefore
// numbers what arrives there, per recipient, and answers "what arrived since
// your last answer to me" (MessageStore::arrivals); its answer carries the
// cursor to ask from next time. The timestamp cursor that means the same on
// every member is still used once per member: the first time the client asks
// it, it asks for what is stamped after its last complete answer less
// ClientOptions::catch_up. Messages met twice (from two members) are dropped
// by ID.
#include "client/client_impl.hpp"

#include <algorithm>

namespace nightjar::client {

namespace {
constexpr std::uint64_t min_backoff_ms = 250;
constexpr std::uint64_t max_backoff_ms = 8000;
// A failure the path selector can pin on a node (which it then avoids) is
// retried soon, over another path, this many times in a row: under kills
// most failures are paths through a node that just died, and waiting out an
// exponential backoff for each would add seconds to every delivery.
constexpr std::uint64_t quick_retry_ms = 50;
constexpr int max_quick_retries = 8;
constexpr int max_pass_failures = 6;
}  // namespace

std::optional<Path> Client::Impl::path_to_own_swarm() {
  if (!directory) return std::nullopt;
  auto swarm = directory->swarm_for(identity.account());
  if (!swarm) return std::nullopt;
  const auto members = directory->members(*swarm);
  if (!members.empty()) {
    const NodeId target = members[member_turn % members.size()]->node.id;
    if (auto p = paths.path_to_node(target, now_ms())) return *p;
  }
  if (auto p = paths.path_to_swarm(*swarm, now_ms())) return *p;
  return std::nullopt;
}

Cursor Client::Impl::catch_up_floor() const {
  const auto depth = static_cast<std::uint64_t>(options.catch_up.count());
  const std::uint64_t low = state.low().timestamp_ms;
  return Cursor{low > depth ? low - depth : 0, {}};
}

void Client::Impl::poll(std::uint32_t wait_ms, bool sweeping) {
  auto path = path_to_own_swarm();
  if (!path) {
    poll_failed("no path to the own swarm", sweeping);
    refresh_directory();
    return;
  }
  polling = true;
  poll_gap = false;
  ++stats.retrieves;
  const NodeId member = path->destination;
  storage::RetrieveRequest req;
  req.recipient = identity.account();
  req.limit = options.retrieve_limit;
  if (sweeping) {
    // A sweep that moves to another member starts there from its floor.
    if (!sweep->member || !(*sweep->member == member)) {
      sweep->member = member;
      sweep->cursor = ArrivalCursor{};
    }
    req.since = sweep->cursor;
    req.floor = sweep->floor;
    req.wait_ms = 0;
  } else {
    const MemberPosition pos = state.member(member);
    req.since = pos.cursor;
    // Until this member has been paged to the end once, skip what is stamped
    // before the floor: the client has it from other members.
    req.floor = pos.caught_up ? Cursor{} : catch_up_floor();
    req.wait_ms = wait_ms;
    // A long poll stays open for the whole wait: each message that arrives
    // meanwhile comes as one more answer, with no new cell, peels or
    // signature per message.
    req.stream = wait_ms > 0;
  }
  req.timestamp_ms = now_ms();
  storage::sign(req, identity.signing_key());
  const Path p = *path;
  log->debug("retrieve from {} (wait {} ms{})", member.hex().substr(0, 8), req.wait_ms,
             sweeping ? ", sweep" : "");
  const std::uint64_t seq = ++poll_seq;
  OnionClient::SegmentHandler on_segment;
  if (req.stream)
    on_segment = [this, p, seq](std::vector<std::uint8_t> b) {
      if (seq == poll_seq) poll_segment(p, std::move(b));
    };
  send_request(
      p, req,
      [this, p, sweeping, seq](auto r) {
        if (seq == poll_seq) poll_answered(p, sweeping, std::move(r));
      },
      options.request_timeout + std::chrono::milliseconds(req.wait_ms), std::move(on_segment));
}

void Client::Impl::poll_segment(const Path& path, std::vector<std::uint8_t> bytes) {
  if (!polling) return;
  auto resp = storage::decode_response(storage::Method::retrieve, bytes);
  ++stats.poll_segments;
  // A segment that does not read, or is not a list, is the node's mistake;
  // unsubscribed meanwhile, the messages are left for later. Either way the
  // member's cursor has moved past them: asked again from ours, it lists them.
  if (!resp || resp->status != storage::Status::ok || (!subscribed && passes.empty()) || poll_gap) {
    poll_gap = true;
    return;
  }
  paths.report_path_success(path, now_ms());
  const auto& got = std::get<storage::RetrieveResult>(resp->body);
  log->debug("long poll at {} answered {} messages, stays open", path.destination.hex().substr(0, 8),
             got.messages.size());
  handle_messages(got.messages);
  member_answered(path.destination, got);
}

void Client::Impl::member_answered(const NodeId& member, const storage::RetrieveResult& got) {
  const MemberPosition before = state.member(member);
  MemberPosition pos = before;
  pos.cursor = got.cursor;
  if (!got.more) pos.caught_up = true;
  // Saved when the position moved (an empty answer usually leaves it where
  // it was); `low` and the time used are kept in memory until then.
  if (!(pos.cursor == before.cursor) || pos.caught_up != before.caught_up) state_dirty = true;
  pos.used_ms = options.clock.unix_ms();
  state.set_member(member, pos);
  if (!got.more && got.server_time_ms > state.low().timestamp_ms)
    state.set_low(Cursor{got.server_time_ms, {}});
  if (state_dirty) save_profile();
}

void Client::Impl::poll_failed(const std::string& why, bool sweeping, bool attributed) {
  polling = false;
  paging = false;
  ++member_turn;
  // A sweep page that failed is asked again, of the next member, after the
  // backoff: the sweep goes on rather than waiting a whole interval.
  if (sweeping && sweep) {
    if (++sweep->failures >= options.sweep_attempts) {
      log->debug("lookback sweep given up after {} failures", sweep->failures);
      sweep.reset();
    } else {
      ++stats.sweep_retries;
    }
  }
  ++poll_failures;
  if (attributed && poll_failures <= max_quick_retries)
    poll_backoff_ms = quick_retry_ms;
  else
    poll_backoff_ms = std::clamp<std::uint64_t>(poll_backoff_ms * 2, min_backoff_ms, max_backoff_ms);
  next_poll_ms = options.clock.unix_ms() + poll_backoff_ms;
  log->debug("retrieve failed: {}", why);
  if (!passes.empty() && ++passes.front().failures >= max_pass_failures) {
    auto pass = std::move(passes.front());
    passes.pop_front();
    if (pass.done) pass.done(fail("could not reach the own swarm: " + why));
  }
}

void Client::Impl::poll_answered(const Path& path, bool sweeping,
                                 Result<std::vector<std::uint8_t>, RequestFailure> r) {
  if (!r) {
    paths.report_path_failure(path, r.error(), now_ms());
    return poll_failed(to_string(r.error().error), sweeping, r.error().failed_node.has_value());
  }
  paths.report_path_success(path, now_ms());
  auto resp = storage::decode_response(storage::Method::retrieve, *r);
  if (!resp) return poll_failed("unreadable answer", sweeping);
  switch (resp->status) {
    case storage::Status::ok: break;
    case storage::Status::clock_skew:
      // Our clock is off: take the node's time and ask again at once.
      learn_server_time(std::get<storage::ClockSkew>(resp->body).server_time_ms);
      polling = false;
      next_poll_ms = 0;
      return;
    case storage::Status::wrong_swarm:
      // The swarm changed under us (a parked poll is answered so when its
      // member leaves the swarm): ask again soon, from the new directory.
      refresh_directory();
      return poll_failed("wrong swarm", sweeping, true);
    default: return poll_failed(storage::to_string(resp->status), sweeping);
  }
  polling = false;
  poll_backoff_ms = 0;
  poll_failures = 0;
  next_poll_ms = 0;  // page on, or long-poll again, at once
  // Unsubscribed while this poll waited: leave the messages (and the
  // member's cursor) for later. A segment of it not taken: ask again, from
  // our cursor.
  if (!subscribed && passes.empty()) return;
  if (poll_gap) return tick();
  const auto& got = std::get<storage::RetrieveResult>(resp->body);
  log->debug("retrieve answered by {}: {} messages{}", path.destination.hex().substr(0, 8),
             got.messages.size(), got.more ? ", more" : "");
  // Handled first, the cursor after: a crash in between asks again for
  // messages already handled (dropped by ID), never skips one.
  handle_messages(got.messages);
  if (sweeping) {
    if (state_dirty) save_profile();
    if (sweep && sweep->member && *sweep->member == path.destination) {
      sweep->cursor = got.cursor;
      if (got.more) return poll(0, true);
      log->debug("lookback sweep {} done", stats.sweeps);
    }
    sweep.reset();
    return tick();
  }
  member_answered(path.destination, got);
  paging = got.more;
  if (!got.more && !passes.empty() && !groups.empty() && !passes.front().own_done) {
    // The own mailbox first (it brings invitations and sender keys), then
    // every group mailbox once.
    passes.front().own_done = true;
    for (auto& [owner, p] : group_polls) p.drained = false;
    return tick();
  }
  if (!got.more && !passes.empty()) {
    auto pass = std::move(passes.front());
    passes.pop_front();
    // The callback may stop or destroy the client: touch nothing after it.
    if (pass.done) pass.done(Result<void, std::string>{});
    return;
  }
  // The next page, or the next long poll, at once: waiting for the next
  // 100 ms tick would add up to 100 ms to a message that arrives meanwhile.
  tick();
}

void Client::Impl::handle_messages(const std::vector<StoredMessage>& messages) {
  std::vector<::nightjar::MessageId> to_delete;
  for (StoredMessage m : messages) {
    m.recipient = identity.account();
    // A node must not change what it stores: the ID is the hash of the body.
    if (!(message_id(m.recipient, m.body) == m.id)) continue;
    if (state.handled(m.id)) {
      ++stats.duplicates;
      continue;
    }
    state_dirty = true;
    Result<std::optional<OpenedEnvelope>, std::string> opened = fail(std::string("empty envelope"));
    if (!m.body.empty() && m.body[0] == v2::envelope_version) {
      opened = open_v2(m.body);
    } else if (auto v1 = open(identity, m.body)) {
      opened = std::optional<OpenedEnvelope>(std::move(*v1));
    } else {
      opened = fail(std::string(to_string(v1.error())));
    }
    if (!opened || !*opened) {
      if (!opened) {
        ++stats.rejected_envelopes;
        log->debug("envelope refused: {}", opened.error());
      }
      // Refused, or a control message (nothing to show): handled.
      state.mark(m.id, m.expiry_ms);
      to_delete.push_back(m.id);
      continue;
    }
    const auto key = std::make_pair((*opened)->sender, (*opened)->message_id);
    auto& frags = pending_fragments[key];
    frags.push_back(HeldFragment{m.id, m.expiry_ms,
                                 (*opened)->forward_secret ? std::optional((*opened)->journal_key)
                                                           : std::nullopt});
    auto added = reassembler.add(std::move(**opened));
    if (added && !*added) continue;  // waiting for more fragments (or a duplicate fragment)
    if (added) deliver(**added);
    for (const auto& f : frags) {
      state.mark(f.storage_id, f.expiry_ms);
      to_delete.push_back(f.storage_id);
      if (f.journal_key) {
        // Handed over: out of the conversation's journal (saved below).
        if (auto it = conversations.find(key.first); it != conversations.end()) {
          it->second.forget(*f.journal_key);
          journal_changed.insert(key.first);
        }
      }
    }
    pending_fragments.erase(key);
  }
  save_journals();
  after_batch();
  if (options.delete_after_read && !to_delete.empty()) delete_handled(to_delete);
}

void Client::Impl::save_journals() {
  for (const AccountKey& peer : journal_changed) {
    auto it = conversations.find(peer);
    if (it == conversations.end() || !conversation_store) continue;
    if (auto saved = conversation_store->save(it->second); !saved)
      log->error("cannot save the conversation: {}", saved.error());
  }
  journal_changed.clear();
}

void Client::Impl::deliver(ReceivedMessage m) {
  if (m.group_control) return handle_group_controls(m.sender, m.text);
  if (m.receipt) return handle_receipt(m);
  if (!admit(m)) return;
  record_received(m);
  ++stats.received;
  if (!passes.empty() && passes.front().on_message)
    passes.front().on_message(m);
  else if (on_message)
    on_message(m);
}

void Client::Impl::delete_handled(const std::vector<::nightjar::MessageId>& ids) {
  for (const auto& id : ids) {
    auto path = path_to_own_swarm();
    if (!path) return;
    storage::DeleteRequest req;
    req.recipient = identity.account();
    req.id = id;
    req.timestamp_ms = now_ms();
    storage::sign(req, identity.signing_key());
    send_request(*path, req, [](auto) {});  // best effort: the message expires anyway
  }
}

void Client::Impl::tick() {
  if (stopped) return;
  update_cover();
  const std::uint64_t now = options.clock.unix_ms();
  if (directory && now >= next_refresh_ms && !fetcher->busy()) {
    const std::uint64_t t = std::uint64_t{directory->params.directory_epoch_seconds} * 1000;
    next_refresh_ms = (now / t + 1) * t + t / 5;
    if (directory->epoch < now / t) refresh_directory();
  }
  if (directory && options.publish_prekeys && now >= next_prekey_check_ms) maintain_prekeys();
  if (directory && !outbox.empty()) pump_outbox();
  if (directory && !passes.empty() && passes.front().own_done) {
    poll_groups(false);
    if (!groups_drained()) return;
    auto pass = std::move(passes.front());
    passes.pop_front();
    // The callback may stop or destroy the client: touch nothing after it.
    if (pass.done) pass.done(Result<void, std::string>{});
    return;
  }
  if (directory && subscribed && passes.empty()) poll_groups(true);
  if (polling || !directory || now < next_poll_ms) return;
  if (!passes.empty()) return poll(0, false);
  if (!subscribed) return;
  if (sweep) return poll(0, true);  // a sweep a failure interrupted goes on
  if (options.lookback.count() > 0 && now >= next_lookback_ms) return start_sweep();
  poll(paging ? 0 : options.poll_wait_ms, false);
}

void Client::Impl::start_sweep() {
  next_lookback_ms = options.clock.unix_ms() + static_cast<std::uint64_t>(options.lookback.count());
  const auto depth = static_cast<std::uint64_t>(options.lookback_depth.count());
  const std::uint64_t low = state.low().timestamp_ms;
  sweep = Sweep{Cursor{low > depth ? low - depth : 0, {}}, std::nullopt, {}, 0};
  ++stats.sweeps;
  log->debug("lookback sweep {} starts", stats.sweeps);
  poll(0, true);
}

void Client::receive(MessageHandler on_message, std::function<void(Result<void, std::string>)> done) {
  Impl& m = *impl_;
  m.passes.push_back(Impl::Pass{std::move(on_message), std::move(done), 0});
}

void Client::subscribe(MessageHandler on_message) {
  Impl& m = *impl_;
  m.on_message = std::move(on_message);
  m.subscribed = true;
  // A long poll left open while unsubscribed, with messages it did not
  // take: the member's cursor is past them, and the poll would only end
  // when its wait does. Asked again now, from our cursor.
  if (m.polling && m.poll_gap) {
    ++m.poll_seq;
    m.polling = false;
    m.poll_gap = false;
    m.next_poll_ms = 0;
  }
  m.next_lookback_ms = m.options.clock.unix_ms() + static_cast<std::uint64_t>(m.options.lookback.count());
}

void Client::unsubscribe() { impl_->subscribed = false; }

void Client::delete_all(std::function<void(Result<DeleteAllReport, std::string>)> done) {
  Impl& m = *impl_;
  auto swarm = m.directory ? m.directory->swarm_for(m.identity.account()) : std::nullopt;
  if (!swarm) {
    m.jobs.call_later(std::chrono::milliseconds(0), [done = std::move(done)] {
      done(fail(std::string("no directory, or no swarm for this account")));
    });
    return;
  }
  struct Tally {
    DeleteAllReport report;
    std::size_t answered = 0;
    std::function<void(Result<DeleteAllReport, std::string>)> done;
  };
  auto tally = std::make_shared<Tally>();
  tally->done = std::move(done);
  const auto members = m.directory->members(*swarm);
  tally->report.members = members.size();
  auto answered = [tally](std::optional<std::string> problem, std::uint32_t deleted) {
    if (problem) tally->report.problems.push_back(*problem);
    else ++tally->report.reached;
    tally->report.deleted = std::max(tally->report.deleted, deleted);
    if (++tally->answered < tally->report.members) return;
    if (tally->report.reached == 0)
      return tally->done(fail("no member of the swarm could be reached: " +
                              (tally->report.problems.empty() ? std::string("none listed")
                                                              : tally->report.problems.front())));
    tally->done(tally->report);
  };
  if (members.empty()) {
    m.jobs.call_later(std::chrono::milliseconds(0), [tally] {
      tally->done(fail(std::string("the account's swarm lists no members")));
    });
    return;
  }
  for (const auto* entry : members) {
    const NodeId member = entry->node.id;
    const std::string who = member.hex().substr(0, 8);
    auto path = m.paths.path_to_node(member, m.now_ms());
    if (!path) {
      m.jobs.call_later(std::chrono::milliseconds(0),
                        [answered, who] { answered("member " + who + ": no path", 0); });
      continue;
    }
    storage::DeleteAllRequest req;
    req.recipient = m.identity.account();
    req.timestamp_ms = m.now_ms();
    storage::sign(req, m.identity.signing_key());
    m.send_request(*path, req, [answered, who](Result<std::vector<std::uint8_t>, RequestFailure> r) {
      if (!r) return answered("member " + who + ": " + to_string(r.error().error), 0);
      auto resp = storage::decode_response(storage::Method::erase_all, *r);
      if (!resp) return answered("member " + who + ": unreadable answer", 0);
      if (resp->status != storage::Status::ok)
        return answered("member " + who + ": " + storage::to_string(resp->status), 0);
      answered(std::nullopt, std::get<storage::DeleteResult>(resp->body).deleted);
    });
  }
}

}  // namespace nightjar::client
