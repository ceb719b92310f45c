// Closed groups in the client (client/client.hpp, docs/GROUPS.md): the
// groups' states (client/group.hpp) kept in the profile (GroupStore), their
// controls sent over 1:1 version 2 conversations through an outbox saved
// before anything leaves, group messages stored once in the group epoch's
// mailbox, and the mailboxes polled like the own one.
#include <sodium.h>

#include <algorithm>

#include "client/client_impl.hpp"

namespace nightjar::client {

namespace {
constexpr std::uint64_t outbox_lifetime_ms = 7ull * 24 * 3600 * 1000;
constexpr std::uint64_t outbox_min_backoff_ms = 1000;
constexpr std::uint64_t outbox_max_backoff_ms = 5 * 60 * 1000;
constexpr std::uint64_t poll_min_backoff_ms = 250;
constexpr std::uint64_t poll_max_backoff_ms = 8000;
constexpr int max_pass_failures = 6;
// Controls sent at once: joining or leaving a large group makes hundreds
// (one per member); all at once they would time out on a busy network.
constexpr std::size_t max_outbox_in_flight = 16;
// Controls for a group whose welcome has not arrived.
constexpr std::size_t max_early = 4096;
constexpr std::uint64_t early_lifetime_ms = 24ull * 3600 * 1000;

Ed25519SecretKey copy_secret(const Ed25519SecretKey& k) { return Ed25519SecretKey::from(k.view()); }
}  // namespace

void Client::Impl::load_groups() {
  if (options.profile_dir.empty()) return;
  group_store = std::make_unique<GroupStore>(options.profile_dir / "groups", identity);
  std::vector<std::string> errors;
  groups = group_store->load_all(errors);
  for (const auto& e : errors) log->error("cannot load a group: {}", e);
  auto loaded = group_store->load_outbox();
  if (!loaded) return log->error("cannot load the group outbox: {}", loaded.error());
  outbox = std::move(*loaded);
  for (OutboxEntry& e : outbox) e.id = ++next_outbox_id;
  auto kept = group_store->load_early();
  if (!kept) return log->error("cannot load early group controls: {}", kept.error());
  early = std::move(*kept);
}

void Client::Impl::save_group(const group::Group& g) {
  if (!group_store) return;
  if (auto r = group_store->save(g); !r) log->error("cannot save the group: {}", r.error());
}

void Client::Impl::save_outbox() {
  if (!group_store) return;
  if (auto r = group_store->save_outbox(outbox); !r) log->error("cannot save the group outbox: {}", r.error());
}

void Client::Impl::run_actions(const GroupKey& key, group::Actions& actions,
                               std::optional<std::uint64_t> batch) {
  // The state first, then the controls that depend on it: a crash in
  // between leaves a state whose controls are not sent (the members catch up
  // from later ones), never controls for a state we do not have.
  if (auto it = groups.find(key); it != groups.end()) save_group(it->second);
  std::vector<std::uint64_t> fresh;
  const std::uint64_t now = options.clock.unix_ms();
  for (auto& [to, controls] : actions.send) {
    OutboxEntry e;
    e.to = to;
    e.body = group::encode_controls(controls);
    e.created_ms = now;
    e.id = ++next_outbox_id;
    e.batch = batch;
    fresh.push_back(e.id);
    outbox.push_back(std::move(e));
  }
  if (!fresh.empty()) save_outbox();
  if (batch) {
    auto it = change_batches.find(*batch);
    if (it != change_batches.end()) it->second.outstanding += fresh.size();
  }
  pump_outbox();
  for (const auto& ev : actions.events)
    if (options.on_group_event) options.on_group_event(key, ev);
  for (auto& m : actions.opened) deliver_group_message(key, std::move(m));
}

void Client::Impl::send_outbox_entry(std::uint64_t id) {
  auto it = std::find_if(outbox.begin(), outbox.end(), [id](const OutboxEntry& e) { return e.id == id; });
  if (it == outbox.end() || it->sending) return;
  it->sending = true;
  ++it->attempts;
  send_v2(it->to, it->body,
          [this, id](Result<SendReceipt, SendFailure> r) { outbox_answered(id, std::move(r)); },
          v2::flag_group);
}

void Client::Impl::outbox_answered(std::uint64_t id, Result<SendReceipt, SendFailure> r) {
  auto it = std::find_if(outbox.begin(), outbox.end(), [id](const OutboxEntry& e) { return e.id == id; });
  const std::uint64_t now = options.clock.unix_ms();
  std::string problem;
  std::optional<std::uint64_t> batch;
  if (it != outbox.end()) {
    it->sending = false;
    batch = it->batch;
    it->batch.reset();  // reported once; later retries report to nobody
    if (r) {
      ++stats.group_controls_sent;
      outbox.erase(it);
    } else {
      problem = format_account_id(it->to) + ": " + to_string(r.error().error);
      if (!r.error().detail.empty()) problem += ": " + r.error().detail;
      const std::uint64_t backoff = std::min<std::uint64_t>(
          outbox_max_backoff_ms, outbox_min_backoff_ms << std::min(it->attempts, 16));
      it->next_ms = now + backoff;
      if (it->created_ms + outbox_lifetime_ms < now) {
        log->warn("group controls for a member given up after a week: {}", problem);
        outbox.erase(it);
      }
    }
    if (!stopped) save_outbox();
  }
  pump_outbox();
  if (!batch) return;
  auto b = change_batches.find(*batch);
  if (b == change_batches.end()) return;
  if (r) {
    ++b->second.report.delivered;
  } else {
    ++b->second.report.queued;
    b->second.report.problems.push_back(problem.empty() ? r.error().detail : problem);
  }
  if (--b->second.outstanding > 0) return;
  auto done = std::move(b->second.done);
  GroupChangeReport report = std::move(b->second.report);
  change_batches.erase(b);
  if (done) done(std::move(report));
}

void Client::Impl::pump_outbox() {
  if (stopped || !directory) return;
  const std::uint64_t now = options.clock.unix_ms();
  std::size_t in_flight = static_cast<std::size_t>(
      std::count_if(outbox.begin(), outbox.end(), [](const OutboxEntry& e) { return e.sending; }));
  std::vector<std::uint64_t> due;
  for (const OutboxEntry& e : outbox) {
    if (in_flight + due.size() >= max_outbox_in_flight) break;
    if (!e.sending && now >= e.next_ms) due.push_back(e.id);
  }
  for (std::uint64_t id : due) send_outbox_entry(id);
}

void Client::Impl::handle_group_controls(const AccountKey& from, Bytes body) {
  auto controls = group::decode_controls(body);
  if (!controls) {
    ++stats.rejected_envelopes;
    log->debug("group controls refused: {}", to_string(controls.error()));
    return;
  }
  const std::uint64_t now = options.clock.unix_ms();
  for (auto& c : *controls) {
    const GroupKey key = group::group_of(c);
    group::Actions actions;
    if (auto it = groups.find(key); it != groups.end()) {
      it->second.receive(from, std::move(c), now, rng, actions);
    } else if (auto* w = std::get_if<group::Welcome>(&c)) {
      auto joined = group::Group::join(identity, from, std::move(*w), now, rng, actions);
      if (!joined) {
        log->debug("group invitation refused: {}", group::to_string(joined.error()));
        continue;
      }
      auto& g = groups.emplace(key, std::move(*joined)).first->second;
      // What its members sent before the welcome got here.
      std::vector<OutboxEntry> kept;
      std::vector<OutboxEntry> replay;
      for (auto& e : early) {
        auto parsed = group::decode_controls(e.body);
        (parsed && group::group_of(parsed->front()) == key ? replay : kept).push_back(std::move(e));
      }
      if (!replay.empty()) {
        early = std::move(kept);
        save_early();
        for (auto& e : replay) {
          auto parsed = group::decode_controls(e.body);
          for (auto& rc : *parsed) g.receive(e.to, std::move(rc), now, rng, actions);
        }
      }
    } else {
      // A group we are not in: yet (its welcome is on its way: the controls
      // of other members often arrive first), or any more. Kept a while.
      std::erase_if(early, [now](const OutboxEntry& e) { return e.created_ms + early_lifetime_ms < now; });
      if (early.size() >= max_early) early.erase(early.begin());
      std::vector<group::Control> one;
      one.push_back(std::move(c));
      OutboxEntry e;
      e.to = from;
      e.body = group::encode_controls(one);
      e.created_ms = now;
      early.push_back(std::move(e));
      save_early();
      continue;
    }
    run_actions(key, actions);
  }
}

void Client::Impl::save_early() {
  if (!group_store) return;
  if (auto r = group_store->save_early(early); !r) log->error("cannot save early group controls: {}", r.error());
}

void Client::Impl::deliver_group_message(const GroupKey& key, group::GroupMessage m) {
  OpenedEnvelope e;
  e.sender = m.sender;
  e.timestamp_ms = m.content.timestamp_ms;
  e.message_id = m.content.message_id;
  e.index = m.content.index;
  e.count = m.content.count;
  e.body = std::move(m.content.body);
  e.forward_secret = true;
  auto added = group_reassembler.add(std::move(e));
  if (!added || !*added) return;
  ReceivedMessage done = std::move(**added);
  done.group = key;
  if (!admit(done)) return;
  record_received(done);
  ++stats.group_received;
  if (!passes.empty() && passes.front().on_message)
    passes.front().on_message(done);
  else if (on_message)
    on_message(done);
}

// --- Polling the groups' mailboxes.

std::optional<Path> Client::Impl::path_to_mailbox(const Ed25519PublicKey& owner, std::size_t turn) {
  if (!directory) return std::nullopt;
  auto swarm = directory->swarm_for(owner);
  if (!swarm) return std::nullopt;
  const auto members = directory->members(*swarm);
  if (!members.empty()) {
    const NodeId target = members[turn % members.size()]->node.id;
    if (auto p = paths.path_to_node(target, now_ms())) return *p;
  }
  if (auto p = paths.path_to_swarm(*swarm, now_ms())) return *p;
  return std::nullopt;
}

void Client::Impl::poll_groups(bool long_poll) {
  const std::uint64_t now = options.clock.unix_ms();
  // In step with the groups: a poll per listed mailbox, none for the others.
  std::set<Ed25519PublicKey> listed;
  for (auto& [key, g] : groups) {
    for (const auto& mb : g.mailboxes(now)) {
      listed.insert(mb.owner);
      if (!group_polls.count(mb.owner))
        group_polls.emplace(mb.owner, GroupPoll{key, copy_secret(*mb.secret), {}, 0, false, false, 0, 0});
    }
  }
  for (auto it = group_polls.begin(); it != group_polls.end();) {
    if (!listed.count(it->first) && !it->second.in_flight)
      it = group_polls.erase(it);
    else
      ++it;
  }
  std::vector<Ed25519PublicKey> due;
  for (const auto& [owner, p] : group_polls)
    if (listed.count(owner) && !p.in_flight && now >= p.next_ms && (long_poll || !p.drained))
      due.push_back(owner);
  for (const auto& owner : due) poll_group(owner, long_poll);
}

bool Client::Impl::groups_drained() const {
  return std::all_of(group_polls.begin(), group_polls.end(),
                     [](const auto& kv) { return kv.second.drained; });
}

void Client::Impl::poll_group(const Ed25519PublicKey& owner, bool long_poll) {
  auto it = group_polls.find(owner);
  if (it == group_polls.end()) return;
  GroupPoll& p = it->second;
  auto path = path_to_mailbox(owner, p.turn);
  if (!path) {
    p.next_ms = options.clock.unix_ms() + poll_max_backoff_ms;
    refresh_directory();
    return;
  }
  p.in_flight = true;
  ++stats.group_retrieves;
  storage::RetrieveRequest req;
  req.ns = Namespace::groups;
  req.recipient = owner;
  req.since = p.cursors[path->destination];
  req.limit = options.retrieve_limit;
  req.wait_ms = long_poll ? options.poll_wait_ms : 0;
  req.timestamp_ms = now_ms();
  storage::sign(req, p.secret);
  const Path route = *path;
  send_request(
      route, req,
      [this, owner, route, long_poll](auto r) {
        group_poll_answered(owner, route, long_poll, std::move(r));
      },
      options.request_timeout + std::chrono::milliseconds(req.wait_ms));
}

void Client::Impl::group_poll_answered(const Ed25519PublicKey& owner, const Path& path,
                                       bool long_poll,
                                       Result<std::vector<std::uint8_t>, RequestFailure> r) {
  auto it = group_polls.find(owner);
  if (it == group_polls.end() || stopped) return;
  GroupPoll& p = it->second;
  p.in_flight = false;
  const std::uint64_t now = options.clock.unix_ms();
  auto failed = [&](bool attributed) {
    ++p.turn;
    p.backoff_ms = attributed ? 50 : std::clamp<std::uint64_t>(p.backoff_ms * 2, poll_min_backoff_ms,
                                                               poll_max_backoff_ms);
    p.next_ms = now + p.backoff_ms;
    // A pass does not wait for ever on a mailbox it cannot reach.
    if (p.backoff_ms >= poll_max_backoff_ms || p.turn > static_cast<std::size_t>(max_pass_failures))
      p.drained = true;
    if (!passes.empty()) tick();
  };
  if (!r) {
    paths.report_path_failure(path, r.error(), now_ms());
    return failed(r.error().failed_node.has_value());
  }
  paths.report_path_success(path, now_ms());
  auto resp = storage::decode_response(storage::Method::retrieve, *r);
  if (!resp) return failed(false);
  if (resp->status == storage::Status::clock_skew) {
    learn_server_time(std::get<storage::ClockSkew>(resp->body).server_time_ms);
    return poll_group(owner, long_poll);
  }
  if (resp->status == storage::Status::wrong_swarm) {
    refresh_directory();
    return failed(true);
  }
  if (resp->status != storage::Status::ok) return failed(false);
  p.backoff_ms = 0;
  const auto& got = std::get<storage::RetrieveResult>(resp->body);
  const GroupKey key = p.group;
  auto g = groups.find(key);
  if (g != groups.end()) {
    group::Actions actions;
    bool changed = false;
    for (const StoredMessage& m : got.messages) {
      if (!(message_id(Mailbox{Namespace::groups, owner}, m.body) == m.id)) continue;
      auto opened = g->second.open(owner, m.body, now);
      switch (opened.status) {
        case group::OpenStatus::opened:
          changed = true;
          actions.opened.push_back(std::move(*opened.message));
          break;
        case group::OpenStatus::waiting: changed = true; break;
        case group::OpenStatus::duplicate: ++stats.duplicates; break;
        case group::OpenStatus::failed:
          ++stats.rejected_envelopes;
          log->debug("group envelope refused: {}", opened.why);
          break;
        case group::OpenStatus::unknown_mailbox: break;
      }
    }
    // Saved before the messages are handed over: a crash may show one
    // again (its keys are back), never lose one.
    if (changed) run_actions(key, actions);
  }
  // The poll entry may have gone while messages were handed over.
  it = group_polls.find(owner);
  if (it == group_polls.end()) return;
  it->second.cursors[path.destination] = got.cursor;
  if (got.more) return poll_group(owner, long_poll);
  if (!long_poll) {
    it->second.drained = true;
    return tick();
  }
  it->second.next_ms = 0;
  if (subscribed) poll_group(owner, true);
}

// --- Client --------------------------------------------------------------------------------

void Client::Impl::run_change(const GroupKey& key, group::Actions& actions, GroupChangeHandler done) {
  const std::uint64_t batch = ++next_batch;
  change_batches.emplace(batch, ChangeBatch{0, {}, std::move(done)});
  run_actions(key, actions, batch);
  auto b = change_batches.find(batch);
  if (b != change_batches.end() && b->second.outstanding == 0) {
    auto d = std::move(b->second.done);
    change_batches.erase(b);
    d(GroupChangeReport{});
  }
}

void Client::create_group(std::string name, GroupHandler done) {
  Impl& m = *impl_;
  m.jobs.call_later(std::chrono::milliseconds(0), [&m, name = std::move(name), done = std::move(done)]() mutable {
    group::Actions actions;
    auto g = group::Group::create(m.identity, std::move(name), m.options.clock.unix_ms(), m.rng, actions);
    if (!g) return done(fail(std::string(group::to_string(g.error()))));
    const GroupKey key = g->key();
    m.groups.emplace(key, std::move(*g));
    m.run_actions(key, actions);
    done(key);
  });
}

void Client::change_group(const GroupKey& key, std::vector<group::Change> changes,
                          GroupChangeHandler done) {
  Impl& m = *impl_;
  m.jobs.call_later(std::chrono::milliseconds(0), [&m, key, changes = std::move(changes),
                                                   done = std::move(done)]() mutable {
    auto it = m.groups.find(key);
    if (it == m.groups.end()) return done(fail(std::string("no such group")));
    group::Actions actions;
    auto r = it->second.change(std::move(changes), m.options.clock.unix_ms(), m.rng, actions);
    if (!r) return done(fail(std::string(group::to_string(r.error()))));
    m.run_change(key, actions, std::move(done));
  });
}

void Client::leave_group(const GroupKey& key, GroupChangeHandler done) {
  Impl& m = *impl_;
  m.jobs.call_later(std::chrono::milliseconds(0), [&m, key, done = std::move(done)]() mutable {
    auto it = m.groups.find(key);
    if (it == m.groups.end()) return done(fail(std::string("no such group")));
    group::Actions actions;
    if (auto r = it->second.leave(actions); !r) return done(fail(std::string(group::to_string(r.error()))));
    m.run_change(key, actions, std::move(done));
  });
}

void Client::flush_group_outbox(GroupChangeHandler done) {
  Impl& m = *impl_;
  m.jobs.call_later(std::chrono::milliseconds(0), [&m, done = std::move(done)]() mutable {
    // Every entry not already awaited: those under way are waited for, the
    // others sent now.
    const std::uint64_t batch = ++m.next_batch;
    std::size_t waited = 0;
    for (OutboxEntry& e : m.outbox) {
      if (e.batch) continue;
      e.batch = batch;
      e.next_ms = 0;  // now, whatever its backoff said
      ++waited;
    }
    if (waited == 0) return done(GroupChangeReport{});
    m.change_batches.emplace(batch, Impl::ChangeBatch{waited, {}, std::move(done)});
    m.pump_outbox();
  });
}

void Client::send_group(const GroupKey& key, Bytes text, SendHandler done) {
  Impl& m = *impl_;
  if (!m.directory) return m.fail_send_soon(std::move(done), {SendError::not_ready, "no directory yet"});
  auto it = m.groups.find(key);
  if (it == m.groups.end()) return m.fail_send_soon(std::move(done), {SendError::rejected, "no such group"});
  group::Group& g = it->second;
  if (!g.member() || !g.head_mailbox())
    return m.fail_send_soon(std::move(done), {SendError::rejected, group::to_string(group::GroupError::not_member)});
  const std::uint32_t max_body = m.directory->params.max_body_bytes;
  auto pieces = fragment_to(text, group::capacity(max_body));
  if (!pieces) return m.fail_send_soon(std::move(done), Impl::seal_failure(pieces.error()));
  v2::Content content;
  content.timestamp_ms = m.now_ms();
  content.message_id = random_message_id(m.rng);
  content.count = static_cast<std::uint16_t>(pieces->size());
  std::vector<std::vector<std::uint8_t>> envelopes;
  for (std::size_t i = 0; i < pieces->size(); ++i) {
    content.index = static_cast<std::uint16_t>(i);
    content.body.assign((*pieces)[i].begin(), (*pieces)[i].end());
    auto sealed = g.seal(content, max_body, m.rng);
    if (!sealed) return m.fail_send_soon(std::move(done), Impl::seal_failure(sealed.error()));
    envelopes.push_back(std::move(*sealed));
  }
  sodium_memzero(content.body.data(), content.body.size());
  // The chain moved on: saved before anything leaves (a message key is never used twice).
  m.save_group(g);
  ++m.stats.group_sent;
  const auto seq = m.record_sent(ConversationKey{true, key}, text);
  m.start_send_job(*g.head_mailbox(), content.message_id, std::move(envelopes), true,
                   [&m, seq, done = std::move(done)](Result<SendReceipt, SendFailure> r) {
                     m.record_outcome(seq, r);
                     done(std::move(r));
                   },
                   Namespace::groups);
}

void Client::settle(std::function<void()> done) {
  Impl& m = *impl_;
  m.jobs.call_later(std::chrono::milliseconds(0), [this, &m, done = std::move(done)]() mutable {
    auto then = [this, &m, done = std::move(done)]() mutable {
      flush_group_outbox([&m, done = std::move(done)](Result<GroupChangeReport, std::string>) mutable {
        // Delivery receipts under way go before the command ends.
        if (m.receipts_in_flight == 0) return done();
        m.receipt_waiters.push_back(std::move(done));
      });
    };
    if (m.options.publish_prekeys && m.stats.bundles_published == 0 && m.directory) {
      if (m.publishing) return m.publish_waiters.push_back(std::move(then));
      return m.publish_bundle([then = std::move(then)](Result<void, std::string>) mutable { then(); });
    }
    then();
  });
}

GroupInfo group_info(const group::Group& g) {
  GroupInfo i;
  i.id = g.key();
  i.name = g.name();
  i.members = g.head().members;
  i.epoch = g.head().epoch;
  i.member = g.member();
  i.admin = g.admin();
  i.generation = g.generation();
  i.sender_keys = g.sender_generations();
  return i;
}

std::optional<GroupInfo> Client::group(const GroupKey& id) const {
  auto it = impl_->groups.find(id);
  if (it == impl_->groups.end()) return std::nullopt;
  return group_info(it->second);
}

std::vector<GroupInfo> Client::groups() const {
  std::vector<GroupInfo> out;
  for (const auto& [key, g] : impl_->groups) out.push_back(group_info(g));
  return out;
}

}  // namespace nightjar::client
