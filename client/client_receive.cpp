// Client: receiving (long polls of the own swarm, one-off passes, lookback
// sweeps) and the housekeeping tick. See client/client.hpp.
//
// Why `seen`: a message's timestamp is set by the first member that stored
// it, and replication does not deliver in timestamp order, so a member may
// receive a message older than one it already handed out. The client keeps
// the messages after its settled cursor (`window`) and tells the member how
// many it holds; the member answers as soon as it holds more, even if the new
// one sorts before the others. Messages that arrive later than `settle`
// (after a partition) are found by the lookback sweep.
#include "client/client_impl.hpp"

#include <algorithm>

namespace nightjar::client {

namespace {
constexpr std::uint64_t min_backoff_ms = 250;
constexpr std::uint64_t max_backoff_ms = 8000;
constexpr int max_pass_failures = 6;

bool before(const Cursor& a, const Cursor& b) {
  return a.timestamp_ms < b.timestamp_ms || (a.timestamp_ms == b.timestamp_ms && a.id < b.id);
}
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

void Client::Impl::poll(std::uint32_t wait_ms, const Cursor& after, bool lookback) {
  auto path = path_to_own_swarm();
  if (!path) {
    poll_failed("no path to the own swarm", lookback);
    refresh_directory();
    return;
  }
  polling = true;
  ++stats.retrieves;
  storage::RetrieveRequest req;
  req.recipient = identity.account();
  req.after = after;
  req.limit = options.retrieve_limit;
  req.wait_ms = wait_ms;
  // What we hold after `after` (none for sweeps, or after a change of member,
  // whose replica may differ: it must answer at once).
  std::size_t seen = 0;
  if (!lookback && last_member && *last_member == path->destination)
    for (auto it = window.upper_bound(after); it != window.end(); ++it) ++seen;
  req.seen = static_cast<std::uint16_t>(std::min<std::size_t>(seen, 0xffff));
  last_member = path->destination;
  req.timestamp_ms = now_ms();
  storage::sign(req, identity.signing_key());
  const Path p = *path;
  send_request(
      p, req, [this, p, after, lookback](auto r) { poll_answered(p, after, lookback, std::move(r)); },
      options.request_timeout + std::chrono::milliseconds(wait_ms));
}

void Client::Impl::poll_failed(const std::string& why, bool lookback) {
  polling = false;
  ++member_turn;
  page_after.reset();
  // A sweep page that failed is asked again, of the next member, after the
  // backoff: the sweep goes on from where it stopped rather than waiting a
  // whole interval (under churn, most sweeps meet a failure somewhere).
  if (lookback && sweep_after && ++sweep_failures >= options.sweep_attempts) {
    log->debug("lookback sweep given up after {} failures", sweep_failures);
    sweep_after.reset();
  }
  poll_backoff_ms = std::clamp<std::uint64_t>(poll_backoff_ms * 2, min_backoff_ms, max_backoff_ms);
  next_poll_ms = options.clock_ms() + poll_backoff_ms;
  log->debug("retrieve failed: {}", why);
  if (!passes.empty() && ++passes.front().failures >= max_pass_failures) {
    auto pass = std::move(passes.front());
    passes.pop_front();
    if (pass.done) pass.done(fail("could not reach the own swarm: " + why));
  }
}

void Client::Impl::poll_answered(const Path& path, const Cursor& after, bool lookback,
                                 Result<std::vector<std::uint8_t>, RequestFailure> r) {
  if (!r) {
    paths.report_path_failure(path, r.error(), now_ms());
    return poll_failed(to_string(r.error().error), lookback);
  }
  paths.report_path_success(path, now_ms());
  auto resp = storage::decode_response(storage::Method::retrieve, *r);
  if (!resp) return poll_failed("unreadable answer", lookback);
  switch (resp->status) {
    case storage::Status::ok: break;
    case storage::Status::clock_skew:
      // Our clock is off: take the node's time and ask again at once.
      learn_server_time(std::get<storage::ClockSkew>(resp->body).server_time_ms);
      polling = false;
      next_poll_ms = 0;
      return;
    case storage::Status::wrong_swarm:
      refresh_directory();
      return poll_failed("wrong swarm", lookback);
    default: return poll_failed(storage::to_string(resp->status), lookback);
  }
  polling = false;
  poll_backoff_ms = 0;
  next_poll_ms = 0;  // page on, or long-poll again, at once
  // Unsubscribed while this poll waited: leave the messages for later.
  if (!subscribed && passes.empty()) return;
  const auto& got = std::get<storage::RetrieveResult>(resp->body);
  handle_messages(got.messages);
  if (lookback) {
    log->debug("lookback sweep {}: {} messages after {}.{} from {}{}", stats.sweeps,
               got.messages.size(), after.timestamp_ms, after.id.hex().substr(0, 8),
               path.destination.hex().substr(0, 8), got.more ? ", more" : "");
    // A sweep pages to the end of the recipient's messages, past the
    // settled cursor too: a long poll anchored later than it (a window too
    // big for one answer) does not look between the two.
    if (got.more && !got.messages.empty()) {
      sweep_after = cursor_of(got.messages.back());
      return poll(0, *sweep_after, true);
    }
    log->debug("lookback sweep {} done", stats.sweeps);
    sweep_after.reset();
    return tick();
  }
  if (got.more && !got.messages.empty()) {
    page_after = cursor_of(got.messages.back());
    return tick();  // the next page now, not at the next tick
  }
  page_after.reset();
  settle(got.server_time_ms);
  if (!passes.empty()) {
    auto pass = std::move(passes.front());
    passes.pop_front();
    // The callback may stop or destroy the client: touch nothing after it.
    if (pass.done) pass.done(Result<void, std::string>{});
    return;
  }
  // Long-poll again at once: waiting for the next 100 ms tick would add up
  // to 100 ms to a message that arrives meanwhile.
  tick();
}

void Client::Impl::settle(std::uint64_t server_time_ms) {
  const std::uint64_t settle_ms = static_cast<std::uint64_t>(options.settle.count());
  const std::uint64_t horizon = server_time_ms > settle_ms ? server_time_ms - settle_ms : 0;
  // Advance over handled messages old enough that nothing can still arrive
  // before them. A fragment still waiting for the rest of its message holds
  // the advance for `fragment_hold` past that, not for good: the other
  // fragments of a message whose send failed may never be stored. The
  // reassembler keeps the fragment; a sibling that arrives later is found
  // by a sweep.
  const std::uint64_t hold = static_cast<std::uint64_t>(options.fragment_hold.count());
  while (!window.empty()) {
    auto first = window.begin();
    if (first->first.timestamp_ms > horizon) break;
    if (!state.handled(first->second) && first->first.timestamp_ms + hold > horizon) break;
    stable = first->first;
    window.erase(first);
  }
  if (!(state.low() == stable)) {
    state.set_low(stable);
    state_dirty = true;
  }
}

void Client::Impl::handle_messages(const std::vector<StoredMessage>& messages) {
  std::vector<::nightjar::MessageId> to_delete;
  for (StoredMessage m : messages) {
    m.recipient = identity.account();
    // A node must not change what it stores: the ID is the hash of the body.
    if (!(message_id(m.recipient, m.body) == m.id)) continue;
    const Cursor c = cursor_of(m);
    if (before(stable, c)) window.emplace(c, m.id);
    if (state.handled(m.id)) {
      ++stats.duplicates;
      continue;
    }
    state_dirty = true;
    auto opened = open(identity, m.body);
    if (!opened) {
      ++stats.rejected_envelopes;
      log->debug("envelope refused: {}", to_string(opened.error()));
      state.mark(m.id, m.expiry_ms);
      to_delete.push_back(m.id);
      continue;
    }
    const auto key = std::make_pair(opened->sender, opened->message_id);
    auto& frags = pending_fragments[key];
    frags.emplace_back(m.id, m.expiry_ms);
    auto added = reassembler.add(std::move(*opened));
    if (added && !*added) continue;  // waiting for more fragments (or a duplicate fragment)
    for (const auto& [id, expiry] : frags) {
      state.mark(id, expiry);
      to_delete.push_back(id);
    }
    pending_fragments.erase(key);
    if (added) deliver(**added);
  }
  if (state_dirty) save_profile();
  if (options.delete_after_read && !to_delete.empty()) delete_handled(to_delete);
}

void Client::Impl::deliver(const ReceivedMessage& m) {
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
  const std::uint64_t now = options.clock_ms();
  if (directory && now >= next_refresh_ms && !fetcher->busy()) {
    const std::uint64_t t = std::uint64_t{directory->params.directory_epoch_seconds} * 1000;
    next_refresh_ms = (now / t + 1) * t + t / 5;
    if (directory->epoch < now / t) refresh_directory();
  }
  if (polling || !directory || now < next_poll_ms) return;
  if (page_after) return poll(0, *page_after, false);
  if (!passes.empty()) return poll(0, stable, false);
  if (!subscribed) return;
  if (sweep_after) {  // a sweep a failure interrupted goes on
    ++stats.sweep_retries;
    return poll(0, *sweep_after, true);
  }
  if (now >= next_lookback_ms) return start_sweep();
  // Long poll from the settled cursor; with a window too big for one answer,
  // anchor later (the lookback sweep covers what that skips).
  Cursor anchor = stable;
  if (window.size() >= options.retrieve_limit) {
    auto it = window.begin();
    std::advance(it, static_cast<long>(window.size() - options.retrieve_limit / 2));
    anchor = it->first;
  }
  poll(options.poll_wait_ms, anchor, false);
}

void Client::Impl::start_sweep() {
  next_lookback_ms = options.clock_ms() + static_cast<std::uint64_t>(options.lookback.count());
  // Deeper than the interval: a sweep that looked back only as far as the
  // sweeps are apart would miss a message that arrived late just after one.
  const std::uint64_t back = static_cast<std::uint64_t>(
      std::max(options.lookback_depth.count(), 2 * options.lookback.count()));
  sweep_after = Cursor{stable.timestamp_ms > back ? stable.timestamp_ms - back : 0, {}};
  sweep_failures = 0;
  ++stats.sweeps;
  log->debug("lookback sweep {} starts", stats.sweeps);
  poll(0, *sweep_after, true);
}

void Client::receive(MessageHandler on_message, std::function<void(Result<void, std::string>)> done) {
  Impl& m = *impl_;
  m.passes.push_back(Impl::Pass{std::move(on_message), std::move(done), 0});
}

void Client::subscribe(MessageHandler on_message) {
  Impl& m = *impl_;
  m.on_message = std::move(on_message);
  m.subscribed = true;
  m.next_lookback_ms = m.options.clock_ms() + static_cast<std::uint64_t>(m.options.lookback.count());
}

void Client::unsubscribe() { impl_->subscribed = false; }

}  // namespace nightjar::client
