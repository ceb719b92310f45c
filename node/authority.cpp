#include "node/authority.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace nightjar {

namespace {

// How long a registration counts as fresh, in directory epochs: nodes
// re-register every epoch, so a node missing for this long is dropped.
constexpr std::uint64_t fresh_epochs = 3;
// How often a registered node's reachability is re-checked, in epochs.
constexpr std::uint64_t recheck_epochs = 20;
// Vote deadline after an epoch starts: a quarter of the epoch, at most 5 s.
constexpr std::uint64_t max_vote_wait_ms = 5000;
constexpr std::chrono::milliseconds tick_ms{50};
constexpr std::size_t max_vote_bytes = Vote::max_descriptors * (NodeDescriptor::max_encoded_bytes + 2) + 64;

bool less_bytes(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

Directory build_directory(const NetworkConfig& network, const NetworkParams& params,
                          std::uint64_t epoch, std::span<const Vote> votes,
                          std::size_t authorities, const Directory* previous) {
  struct Candidate {
    std::size_t votes = 0;
    NodeDescriptor best;
    std::vector<std::uint8_t> best_encoded;
  };
  std::map<NodeId, Candidate, NodeIdLess> candidates;
  for (const Vote& v : votes) {
    std::set<NodeId, NodeIdLess> seen;  // one vote per node per authority
    for (const auto& enc : v.descriptors) {
      auto d = NodeDescriptor::decode(enc);
      if (!d || !seen.insert(d->id).second) continue;
      Candidate& c = candidates[d->id];
      ++c.votes;
      // The most recently published descriptor wins; ties go to the smaller encoding.
      if (c.best_encoded.empty() || d->published > c.best.published ||
          (d->published == c.best.published && less_bytes(enc, c.best_encoded))) {
        c.best = std::move(*d);
        c.best_encoded = enc;
      }
    }
  }
  std::vector<NodeId> ids;
  for (const auto& [id, c] : candidates)
    if (2 * c.votes > authorities) ids.push_back(id);

  const SwarmAssignment prev = previous ? previous->assignment() : SwarmAssignment{};
  const SwarmAssignment assigned = assign_swarms(prev, ids, params.swarm);

  Directory d;
  d.network_id = network.network_id;
  d.epoch = epoch;
  const std::uint64_t t = params.directory_epoch_seconds;
  d.valid_after = epoch * t;
  d.valid_until = (epoch + params.directory_lifetime_epochs) * t;
  d.params = params;
  d.entries.reserve(ids.size());
  for (const NodeId& id : ids) {
    auto it = assigned.find(id);
    if (it == assigned.end()) continue;
    d.entries.push_back(DirectoryEntry{std::move(candidates[id].best), it->second});
  }
  d.sort_entries();
  return d;
}

Authority::Authority(uv_loop_t* loop, AuthorityConfig config, DirectoryState& state,
                     PeerLinks& peers)
    : loop_(loop),
      config_(std::move(config)),
      state_(state),
      peers_(peers),
      log_(config_.log ? config_.log : spdlog::default_logger()),
      jobs_(loop) {
  const auto& auths = state_.network().authorities;
  for (std::size_t i = 0; i < auths.size(); ++i)
    if (auths[i].id == config_.identity->pub) self_index_ = i;
}

Authority::~Authority() { stop(); }

std::uint64_t Authority::epoch_ms() const {
  return std::uint64_t{config_.params.directory_epoch_seconds} * 1000;
}

void Authority::start() {
  if (started_) return;
  started_ = true;
  jobs_.every(std::chrono::milliseconds(0), tick_ms, [this] { tick(); });
  log_->info("authority {} of {} for network {}: epochs of {} s", self_index_ + 1,
             state_.network().authorities.size(), state_.network().network_id.hex().substr(0, 16),
             config_.params.directory_epoch_seconds);
}

void Authority::stop() {
  started_ = false;
  jobs_.cancel_all();
}

std::size_t Authority::reachable() const {
  return static_cast<std::size_t>(std::count_if(
      registrations_.begin(), registrations_.end(),
      [](const auto& kv) { return kv.second.reachable_ms != 0; }));
}

std::optional<std::size_t> Authority::authority_index(const Link& from) const {
  const auto& key = from.peer_static();
  if (!key) return std::nullopt;
  const auto& auths = state_.network().authorities;
  for (std::size_t i = 0; i < auths.size(); ++i)
    if (auths[i].link_key == *key && i != self_index_) return i;
  return std::nullopt;
}

bool Authority::handle_frame(Link& from, Bytes frame) {
  if (frame.empty()) return false;
  switch (static_cast<FrameType>(frame[0])) {
    case FrameType::dir_register: handle_register(from, frame); return true;
    case FrameType::auth_vote: handle_vote_chunk(from, frame); return true;
    case FrameType::auth_signature: handle_signature(from, frame); return true;
    case FrameType::dir_chunk:
      if (!authority_index(from)) return false;
      handle_directory_chunk(from, frame);
      return true;
    case FrameType::dir_none: return authority_index(from).has_value();
    default: return false;
  }
}

void Authority::link_closed(Link& link) { assemblers_.erase(&link); }

// --- Registrations -------------------------------------------------------------

void Authority::handle_register(Link& from, Bytes frame) {
  auto reply = [&](RegisterStatus s) {
    from.send(encode_register_reply(RegisterReply{s, now_ms()}));
  };
  auto bytes = decode_register(frame);
  if (!bytes) return reply(RegisterStatus::bad_descriptor);
  auto d = NodeDescriptor::decode(*bytes);
  if (!d) return reply(RegisterStatus::bad_descriptor);
  if (!d->verify()) return reply(RegisterStatus::bad_signature);
  if (!from.peer_static() || !(*from.peer_static() == d->link_key))
    return reply(RegisterStatus::wrong_link_key);

  auto it = registrations_.find(d->id);
  if (it == registrations_.end()) {
    if (registrations_.size() >= config_.max_registrations) return reply(RegisterStatus::overloaded);
    it = registrations_.emplace(d->id, Registration{}).first;
  }
  Registration& r = it->second;
  const bool moved = r.encoded.empty() || !(r.descriptor.link_key == d->link_key) ||
                     r.descriptor.address.to_string() != d->address.to_string();
  if (r.encoded.empty() || d->published >= r.descriptor.published) {
    r.descriptor = std::move(*d);
    r.encoded.assign(bytes->begin(), bytes->end());
  }
  r.registered_ms = now_ms();
  const bool stale = r.reachable_ms + recheck_epochs * epoch_ms() < now_ms();
  if (!moved && !stale && r.reachable_ms != 0) return reply(RegisterStatus::accepted);
  if (moved) r.reachable_ms = 0;
  r.waiting.push_back(from.weak_from_this());
  if (!r.checking) check_reachable(it->first);
}

void Authority::check_reachable(const NodeId& id) {
  auto it = registrations_.find(id);
  if (it == registrations_.end()) return;
  it->second.checking = true;
  const NodeDescriptor& d = it->second.descriptor;
  LinkConfig lc = config_.link;
  lc.handshake_timeout = std::min(lc.handshake_timeout, std::chrono::milliseconds(5000));
  auto done = std::make_shared<bool>(false);
  Link::Handlers h;
  h.on_established = jobs_.bind([this, id, done](Link& l) {
    if (*done) return;
    *done = true;  // on_closed, which close() brings, does nothing now
    const NodeId node = id;  // copies: close() may destroy this closure
    Authority* self = this;
    l.close();
    self->finish_check(node, true);
  });
  h.on_closed = jobs_.bind([this, id, done](Link&, CloseReason) {
    if (*done) return;
    *done = true;
    finish_check(id, false);
  });
  Link::dial(loop_, d.address, d.link_key, config_.link_identity, lc, std::move(h));
}

void Authority::finish_check(const NodeId& id, bool ok) {
  auto it = registrations_.find(id);
  if (it == registrations_.end()) return;
  Registration& r = it->second;
  r.checking = false;
  if (ok) r.reachable_ms = now_ms();
  log_->debug("node {} at {}: {}", id.hex().substr(0, 16), r.descriptor.address.to_string(),
              ok ? "reachable" : "not reachable");
  const auto reply = encode_register_reply(
      RegisterReply{ok ? RegisterStatus::accepted : RegisterStatus::unreachable, now_ms()});
  for (auto& w : r.waiting)
    if (auto l = w.lock()) l->send(reply);
  r.waiting.clear();
}

// --- Rounds ----------------------------------------------------------------------

void Authority::tick() {
  const std::uint64_t now = now_ms();
  const std::uint64_t epoch = now / epoch_ms();
  // Forget stale registrations and old rounds.
  std::erase_if(registrations_, [&](const auto& kv) {
    return !kv.second.checking && kv.second.registered_ms + 10 * fresh_epochs * epoch_ms() < now;
  });
  while (!rounds_.empty() && rounds_.begin()->first + 4 < epoch) rounds_.erase(rounds_.begin());

  if (epoch > last_round_ && epoch > state_.epoch()) start_round(epoch);
  for (auto& [e, round] : rounds_) {
    if (round.built || round.votes.find(self_index_) == round.votes.end()) continue;
    const bool all_in = round.votes.size() == state_.network().authorities.size();
    if (all_in || now >= round.vote_deadline_ms) build_round(e);
  }
}

void Authority::start_round(std::uint64_t epoch) {
  last_round_ = epoch;
  const std::uint64_t now = now_ms();
  Vote v;
  v.epoch = epoch;
  if (auto prev = state_.current()) {
    v.previous_epoch = prev->epoch;
    v.previous_digest = prev->digest();
  }
  for (const auto& [id, r] : registrations_) {
    const bool fresh = r.registered_ms + fresh_epochs * epoch_ms() >= now;
    if (fresh && r.reachable_ms != 0) v.descriptors.push_back(r.encoded);
  }
  std::sort(v.descriptors.begin(), v.descriptors.end(), less_bytes);
  Round& round = rounds_[epoch];
  round.vote_deadline_ms = now + std::min(max_vote_wait_ms, epoch_ms() / 4);
  const auto encoded = v.encode();
  round.votes[self_index_] = std::move(v);
  if (state_.network().authorities.size() > 1)
    for (const auto& chunk : encode_chunks(FrameType::auth_vote, epoch, encoded)) broadcast(chunk);
}

void Authority::build_round(std::uint64_t epoch) {
  Round& round = rounds_[epoch];
  std::vector<Vote> votes;
  for (const auto& [i, v] : round.votes) votes.push_back(v);
  auto prev = state_.current();
  round.built = build_directory(state_.network(), config_.params, epoch, votes,
                                state_.network().authorities.size(), prev.get());
  round.digest = round.built->digest();
  const Ed25519Signature own = crypto::sign(config_.identity->sec, round.digest);
  round.signatures[self_index_] = own;
  log_->debug("epoch {}: built a directory of {} nodes from {} votes", epoch,
              round.built->entries.size(), votes.size());
  if (state_.network().authorities.size() > 1) {
    SignatureMessage m{epoch, round.digest, config_.identity->pub, own};
    broadcast(encode_signature(m));
  }
  auto early = std::move(round.early);
  round.early.clear();
  for (const auto& m : early) add_signature(round, m);
  try_publish(epoch);
}

void Authority::add_signature(Round& round, const SignatureMessage& m) {
  const auto& auths = state_.network().authorities;
  for (std::size_t i = 0; i < auths.size(); ++i) {
    if (!(auths[i].id == m.authority)) continue;
    if (!(m.digest == round.digest)) {
      log_->warn("epoch {}: authority {} signed a different directory", m.epoch, auths[i].name);
      return;
    }
    if (crypto::verify(m.authority, m.digest, m.signature)) round.signatures[i] = m.signature;
    return;
  }
}

void Authority::try_publish(std::uint64_t epoch) {
  Round& round = rounds_[epoch];
  if (!round.built || round.published) return;
  if (round.signatures.size() < state_.network().signatures_needed()) return;
  Directory d = *round.built;
  d.signatures.clear();
  const auto& auths = state_.network().authorities;
  for (const auto& [i, sig] : round.signatures) d.add_signature(AuthoritySignature{auths[i].id, sig});
  auto r = state_.offer(std::move(d));
  round.published = true;
  if (!r) log_->warn("epoch {}: own directory refused: {}", epoch, to_string(r.error()));
}

void Authority::handle_vote_chunk(Link& from, Bytes frame) {
  auto index = authority_index(from);
  if (!index) return;
  auto chunk = decode_chunk(FrameType::auth_vote, frame);
  if (!chunk) return;
  auto [it, fresh] = assemblers_.try_emplace(&from, max_vote_bytes);
  if (it->second.add(*chunk) != BlobAssembler::Status::complete) return;
  auto vote = Vote::decode(it->second.take());
  if (!vote || vote->epoch != chunk->epoch) return;
  if (vote->previous_epoch > state_.epoch()) {
    // That authority holds a newer directory than we do: fetch it before building.
    const auto& a = state_.network().authorities[*index];
    peers_.send(PeerAddress{a.address, a.link_key}, encode_fetch(state_.epoch()));
  }
  if (vote->epoch + 2 < last_round_) return;
  Round& round = rounds_[vote->epoch];
  if (round.built) return;  // too late for this round
  round.votes[*index] = std::move(*vote);
}

void Authority::handle_signature(Link& from, Bytes frame) {
  if (!authority_index(from)) return;
  auto m = decode_signature(frame);
  if (!m) return;
  auto it = rounds_.find(m->epoch);
  if (it == rounds_.end()) {
    if (m->epoch + 2 < last_round_) return;
    it = rounds_.emplace(m->epoch, Round{}).first;
  }
  if (!it->second.built) {
    if (it->second.early.size() < state_.network().authorities.size()) it->second.early.push_back(*m);
    return;
  }
  add_signature(it->second, *m);
  try_publish(m->epoch);
}

void Authority::handle_directory_chunk(Link& from, Bytes frame) {
  auto chunk = decode_chunk(FrameType::dir_chunk, frame);
  if (!chunk) return;
  auto [it, fresh] = assemblers_.try_emplace(&from, Directory::max_encoded_bytes);
  if (it->second.add(*chunk) != BlobAssembler::Status::complete) return;
  auto r = state_.offer_encoded(it->second.take());
  if (!r) log_->warn("directory from a peer authority refused: {}", to_string(r.error()));
}

void Authority::broadcast(Bytes frame) {
  const auto& auths = state_.network().authorities;
  for (std::size_t i = 0; i < auths.size(); ++i)
    if (i != self_index_) peers_.send(PeerAddress{auths[i].address, auths[i].link_key}, frame);
}

}  // namespace nightjar
