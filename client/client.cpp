#include "client/client.hpp"

#include <algorithm>
#include <chrono>

#include "client/client_impl.hpp"
#include "routing/key_file.hpp"

namespace nightjar::client {

const char* to_string(SendError e) {
  switch (e) {
    case SendError::not_ready: return "no directory yet";
    case SendError::too_large: return "message too large";
    case SendError::rejected: return "refused by the recipient's swarm";
    case SendError::failed: return "could not reach the recipient's swarm";
    case SendError::stopped: return "client stopped";
  }
  return "unknown send error";
}

namespace {

constexpr std::chrono::milliseconds tick_ms{100};

}  // namespace

Client::Impl::Impl(uv_loop_t* l, ClientOptions o, Identity id)
    : loop(l),
      options(std::move(o)),
      identity(std::move(id)),
      log(options.log ? options.log : spdlog::default_logger()),
      paths(options.paths, rng),
      cover_timer(l, [this] { send_cover(); }),
      jobs(l) {
  LinkConfig link;
  link.prologue.assign(options.network.network_id.bytes.begin(),
                       options.network.network_id.bytes.end());
  link.log = log;
  link.observer = options.link_observer;
  OnionClientConfig oc;
  oc.link = link;
  oc.on_request = options.on_request;
  oc.timeout = options.request_timeout;
  oc.clock = options.clock;
  oc.log = log;
  onion = std::make_unique<OnionClient>(loop, oc, rng);
  fetcher = std::make_unique<DirectoryFetcher>(loop, options.network, link, log);
}

std::uint64_t Client::Impl::now_ms() const {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(options.clock.unix_ms()) +
                                    stats.clock_offset_ms);
}

void Client::Impl::learn_server_time(std::uint64_t server_ms) {
  stats.clock_offset_ms =
      static_cast<std::int64_t>(server_ms) - static_cast<std::int64_t>(options.clock.unix_ms());
  onion->set_clock_offset_ms(stats.clock_offset_ms);
  log->info("clock offset to the network: {} ms", stats.clock_offset_ms);
}

std::filesystem::path Client::Impl::profile_file(const char* name) const {
  return options.profile_dir.empty() ? std::filesystem::path() : options.profile_dir / name;
}

void Client::Impl::save_profile() {
  if (options.profile_dir.empty()) return;
  if (auto r = replace_private_file(profile_file("guards"), as_bytes(paths.save_guards())); !r)
    log->warn("cannot save guards: {}", r.error());
  if (state_dirty) {
    if (auto r = state.save(profile_file("receive.state")); !r)
      log->warn("cannot save the receive state: {}", r.error());
    state_dirty = false;
  }
}

const SealKey* Client::Impl::seal_key(const AccountKey& to) {
  if (auto it = seal_keys.find(to); it != seal_keys.end()) return &it->second;
  auto key = client::seal_key(to);
  if (!key) return nullptr;  // seal() says why
  if (seal_keys.size() >= max_seal_keys) seal_keys.clear();
  return &seal_keys.emplace(to, *key).first->second;
}

void Client::Impl::adopt(std::shared_ptr<const Directory> d) {
  if (!d || (directory && d->epoch <= directory->epoch)) return;
  // When the own swarm changes, nothing needs doing here: messages reach the
  // new members by migration and anti-entropy, and each member answers with
  // what arrived there since it last answered (a new member is caught up
  // from the floor first).
  directory = std::move(d);
  onion->set_directory(directory);
  // Mixing delays: a request's answer may come this much later.
  onion->set_timeout_allowance(std::chrono::milliseconds(
      directory->params.defences.worst_round_trip_delay_ms(static_cast<std::uint32_t>(options.paths.relays))));
  paths.set_directory(directory);
  if (!options.profile_dir.empty()) {
    if (auto r = replace_cache_file(profile_file("directory.bin"), directory->encode()); !r)
      log->warn("cannot save the directory: {}", r.error());
  }
}

void Client::Impl::refresh_directory(std::function<void(bool)> then) {
  ++stats.directory_fetches;
  fetcher->fetch(directory, jobs.bind([this, then = std::move(then)](auto r) {
    if (r) adopt(*r);
    if (!r) log->debug("directory refresh failed: {}", r.error());
    if (then) then(r.ok());
  }));
}

void Client::Impl::send_request(
    const Path& path, const storage::Request& request,
    std::function<void(Result<std::vector<std::uint8_t>, RequestFailure>)> done,
    std::optional<std::chrono::milliseconds> timeout, OnionClient::SegmentHandler on_segment) {
  onion->send(path.relays, path.destination, storage::encode(request),
              jobs.bind([done = std::move(done)](Result<std::vector<std::uint8_t>, RequestFailure> r) {
                done(std::move(r));
              }),
              timeout,
              on_segment ? OnionClient::SegmentHandler(jobs.bind(std::move(on_segment)))
                         : OnionClient::SegmentHandler{});
}

// --- Sending -------------------------------------------------------------------------

void Client::Impl::send_fragment(std::uint64_t job_id, std::size_t index) {
  auto it = sends.find(job_id);
  if (it == sends.end() || it->second.finished) return;
  SendJob& job = it->second;
  FragmentSend& f = job.fragments[index];
  if (f.attempts >= options.send_attempts)
    return finish_send(job_id, fail(SendFailure{SendError::failed,
                                                "no acknowledgement after " +
                                                    std::to_string(f.attempts) + " attempts"}));
  ++f.attempts;
  ++stats.store_requests;
  if (f.attempts > 1) ++stats.store_retries;

  Result<Path, PathError> path = fail(PathError::no_directory);
  if (!f.redirect.empty()) {
    const NodeId target = f.redirect[crypto::random_uniform(static_cast<std::uint32_t>(f.redirect.size()))];
    path = paths.path_to_node(target, now_ms());
  }
  if (!path) {
    auto swarm = directory->swarm_for(job.to);
    if (!swarm) return finish_send(job_id, fail(SendFailure{SendError::not_ready, "empty directory"}));
    path = paths.path_to_swarm(*swarm, now_ms(), f.avoid);
    if (!path && f.avoid) path = paths.path_to_swarm(*swarm, now_ms());
  }
  if (!path) {
    // No path now (too few nodes, or the directory is stale): refresh and retry.
    return refresh_directory([this, job_id, index](bool) { send_fragment(job_id, index); });
  }
  storage::StoreRequest req;
  req.recipient = job.to;
  req.ns = job.ns;
  req.ttl_seconds = std::clamp(options.ttl_seconds, directory->params.ttl_min_seconds,
                               directory->params.ttl_max_seconds);
  req.body = f.body;
  const Path p = *path;
  send_request(p, req, [this, job_id, index, p](auto r) {
    fragment_answered(job_id, index, p, std::move(r));
  });
}

void Client::Impl::fragment_answered(std::uint64_t job_id, std::size_t index, const Path& path,
                                     Result<std::vector<std::uint8_t>, RequestFailure> r) {
  auto it = sends.find(job_id);
  if (it == sends.end() || it->second.finished) return;
  SendJob& job = it->second;
  FragmentSend& f = job.fragments[index];
  if (!r) {
    paths.report_path_failure(path, r.error(), now_ms());
    f.avoid = path.destination;
    log->debug("store through a path failed: {}", to_string(r.error().error));
    // The next path after a pause that doubles (50, 100, 200, 400 ms): what
    // failed the path may pass within a second (a relay that has not yet
    // taken the directory naming the next hop), and five attempts at once
    // would all meet it.
    const auto pause = std::chrono::milliseconds(25) * (1 << std::min(f.attempts, 4));
    jobs.call_later(pause, [this, job_id, index] { send_fragment(job_id, index); });
    return;
  }
  paths.report_path_success(path, now_ms());
  auto resp = storage::decode_response(storage::Method::store, *r);
  if (!resp) {
    f.avoid = path.destination;
    return send_fragment(job_id, index);
  }
  if (resp->status == storage::Status::ok) {
    f.acked = true;
    f.replicas = std::get<storage::StoreResult>(resp->body).replicas;
    if (--job.outstanding == 0) {
      SendReceipt receipt;
      receipt.message_id = job.message_id;
      receipt.fragments = job.fragments.size();
      receipt.min_replicas = UINT32_MAX;
      receipt.forward_secret = job.forward_secret;
      for (const auto& fr : job.fragments) {
        receipt.min_replicas = std::min(receipt.min_replicas, fr.replicas);
        receipt.attempts += fr.attempts;
        receipt.stored_ids.push_back(::nightjar::message_id(Mailbox{job.ns, job.to}, fr.body));
      }
      receipt.acked_ms = options.clock.unix_ms();
      finish_send(job_id, receipt);
    }
    return;
  }
  if (resp->status == storage::Status::wrong_swarm) {
    // Our directory is stale: follow the answer, and refresh.
    f.redirect = std::get<storage::WrongSwarm>(resp->body).members;
    refresh_directory();
  }
  if (retryable(resp->status)) {
    f.avoid = path.destination;
    return send_fragment(job_id, index);
  }
  finish_send(job_id, fail(SendFailure{SendError::rejected, storage::to_string(resp->status)}));
}

void Client::Impl::finish_send(std::uint64_t job_id, Result<SendReceipt, SendFailure> r) {
  auto it = sends.find(job_id);
  if (it == sends.end()) return;
  auto done = std::move(it->second.done);
  sends.erase(it);
  if (r) {
    ++stats.sent;
    if (r->forward_secret) ++stats.sent_forward_secret;
  } else {
    ++stats.send_failures;
  }
  if (done) done(std::move(r));
}

// --- Client ------------------------------------------------------------------------------

Client::Client(uv_loop_t* loop, ClientOptions options, Identity identity)
    : impl_(std::make_unique<Impl>(loop, std::move(options), std::move(identity))) {}

Client::~Client() { stop(); }

void Client::start(ReadyHandler ready, std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  if (!m.options.profile_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(m.options.profile_dir, ec);
    if (auto bytes = read_private_file(m.profile_file("directory.bin"), Directory::max_encoded_bytes)) {
      auto d = Directory::decode(*bytes);
      if (d && check_directory(*d, m.options.network, std::nullopt))
        m.adopt(std::make_shared<const Directory>(std::move(*d)));
    }
    if (auto bytes = read_private_file(m.profile_file("guards"))) {
      std::string text(bytes->begin(), bytes->end());
      if (auto r = m.paths.load_guards(text); !r) m.log->warn("ignoring saved guards: {}", r.error());
    }
    if (auto r = m.state.load(m.profile_file("receive.state")); !r) m.log->warn("{}", r.error());
    m.load_prekeys();
    m.conversation_store =
        std::make_unique<ConversationStore>(m.options.profile_dir / "conversations", m.identity);
    m.load_groups();
    m.load_contacts();
    m.load_history();
  }
  m.jobs.every(tick_ms, [&m] { m.tick(); });

  m.fetcher->fetch(
      m.directory,
      m.jobs.bind([&m, ready = std::move(ready)](auto r) {
        if (r) m.adopt(*r);
        if (m.directory) {
          m.save_profile();
          return ready(Result<void, std::string>{});
        }
        ready(fail("no directory from any node or authority: " +
                   (r ? std::string("none published yet") : r.error())));
      }),
      timeout);
}

void Client::stop() {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  m.subscribed = false;
  m.save_profile();
  m.jobs.cancel_all();
  m.cover_timer.close();
  m.fetcher->close();
  m.onion->close();
  auto waiting = std::move(m.waiting_sends);
  m.waiting_sends.clear();
  for (auto& [id, done] : waiting)
    if (done) done(fail(SendFailure{SendError::stopped, "client stopped"}));
  auto sends = std::move(m.sends);
  m.sends.clear();
  for (auto& [id, job] : sends)
    if (job.done) job.done(fail(SendFailure{SendError::stopped, "client stopped"}));
  auto passes = std::move(m.passes);
  m.passes.clear();
  for (auto& p : passes)
    if (p.done) p.done(fail(std::string("client stopped")));
  // Controls still on their way stay in the outbox for the next run.
  auto batches = std::move(m.change_batches);
  m.change_batches.clear();
  for (auto& [id, b] : batches) {
    b.report.queued += b.outstanding;
    if (b.done) b.done(std::move(b.report));
  }
}

void Client::Impl::fail_send_soon(SendHandler d, SendFailure f) {
  // Never call back from inside send(): defer to the next tick.
  const std::uint64_t id = ++last_send;
  SendJob job;
  job.done = std::move(d);
  job.finished = false;
  sends.emplace(id, std::move(job));
  jobs.call_later(std::chrono::milliseconds(0), [this, id, f] { finish_send(id, fail(f)); });
}

SendFailure Client::Impl::seal_failure(SealError e) {
  return {e == SealError::message_too_large ? SendError::too_large : SendError::rejected,
          to_string(e)};
}

void Client::Impl::start_send_job(const AccountKey& to, MessageId message_id,
                                  std::vector<std::vector<std::uint8_t>> envelopes,
                                  bool forward_secret, SendHandler done, Namespace ns) {
  const std::uint64_t id = ++last_send;
  SendJob job;
  job.to = to;
  job.ns = ns;
  job.done = std::move(done);
  job.message_id = message_id;
  job.forward_secret = forward_secret;
  for (auto& e : envelopes) job.fragments.push_back(FragmentSend{std::move(e), false, 0, 0, {}, {}});
  job.outstanding = job.fragments.size();
  const std::size_t n = job.fragments.size();
  sends.emplace(id, std::move(job));
  for (std::size_t i = 0; i < n; ++i) send_fragment(id, i);
}

void Client::Impl::send_v1(const AccountKey& to, Bytes text, SendHandler done) {
  const std::uint32_t max_body = directory->params.max_body_bytes;
  auto pieces = fragment(text, max_body);
  if (!pieces) return fail_send_soon(std::move(done), seal_failure(pieces.error()));
  Message msg;
  msg.timestamp_ms = now_ms();
  msg.message_id = random_message_id(rng);
  msg.count = static_cast<std::uint16_t>(pieces->size());
  const SealKey* key = seal_key(to);
  std::vector<std::vector<std::uint8_t>> envelopes;
  for (std::size_t i = 0; i < pieces->size(); ++i) {
    msg.index = static_cast<std::uint16_t>(i);
    msg.body = (*pieces)[i];
    auto sealed = key ? seal(identity, *key, msg, max_body, rng)
                      : seal(identity, to, msg, max_body, rng);
    if (!sealed) return fail_send_soon(std::move(done), seal_failure(sealed.error()));
    envelopes.push_back(std::move(*sealed));
  }
  start_send_job(to, msg.message_id, std::move(envelopes), false, std::move(done));
}

void Client::send(const AccountKey& to, Bytes text, SendHandler done) {
  Impl& m = *impl_;
  ++m.stats.sends;
  if (m.stopped) return m.fail_send_soon(std::move(done), {SendError::stopped, "client stopped"});
  if (!m.directory)
    return m.fail_send_soon(std::move(done), {SendError::not_ready, "no directory yet"});
  if (text.size() > max_message_bytes)
    return m.fail_send_soon(std::move(done), m.seal_failure(SealError::message_too_large));
  // Recorded as `sending` before anything leaves; its outcome moves it on.
  const auto seq = m.record_sent(ConversationKey{false, to}, text);
  SendHandler recorded = [&m, seq, done = std::move(done)](Result<SendReceipt, SendFailure> r) {
    m.record_outcome(seq, r);
    done(std::move(r));
  };
  if (!m.options.forward_secret) return m.send_v1(to, text, std::move(recorded));
  m.send_v2(to, std::vector<std::uint8_t>(text.begin(), text.end()), std::move(recorded));
}

const Identity& Client::identity() const { return impl_->identity; }
std::shared_ptr<const Directory> Client::directory() const { return impl_->directory; }
const ClientStats& Client::stats() const { return impl_->stats; }
const PathSelector& Client::paths() const { return impl_->paths; }

}  // namespace nightjar::client
