#include "client/onion_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "routing/frame.hpp"
#include "routing/wire.hpp"

namespace nightjar {

const char* to_string(RequestError e) {
  switch (e) {
    case RequestError::no_directory: return "no directory yet";
    case RequestError::unknown_node: return "a node of the path is not in the directory";
    case RequestError::too_large: return "request too large for one cell";
    case RequestError::link_failed: return "link to the first relay failed";
    case RequestError::relay_error: return "a relay could not forward the request";
    case RequestError::timeout: return "no answer in time";
    case RequestError::bad_reply: return "unreadable reply";
    case RequestError::overloaded: return "too many requests in flight";
  }
  return "unknown request error";
}

namespace {
// The expiry timer waits at most this long, so that a clock that jumps (a
// test's, the simnet's) is noticed within it.
constexpr std::uint64_t max_expiry_wait_ms = 1000;

LinkConfig link_config(const OnionClientConfig& c, const std::shared_ptr<spdlog::logger>& log) {
  LinkConfig l = c.link;
  l.log = log;
  return l;
}
}  // namespace

OnionClient::OnionClient(uv_loop_t* loop, OnionClientConfig config, RandomSource& rng)
    : config_(std::move(config)),
      rng_(rng),
      log_(config_.log ? config_.log : spdlog::default_logger()),
      guards_(loop, nullptr, link_config(config_, log_), config_.max_in_flight,
              {.on_frame = [this](Link&, Bytes f) { handle_frame(f); },
               .on_queued = [this](std::uint64_t id, Queued outcome) { guard_queued(id, outcome); },
               .on_closed = [this](const NodeId& guard, Link&, CloseReason,
                                   std::size_t) { handle_closed(guard); }}),
      expiry_(loop, [this] { tick(); }),
      jobs_(loop) {
  config_.link.log = log_;
}

OnionClient::~OnionClient() { close(); }

std::uint64_t OnionClient::now_ms() const {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(config_.clock.unix_ms()) + clock_offset_ms_);
}

void OnionClient::close() {
  jobs_.cancel_all();
  expiry_.close();
  expiry_at_ms_ = 0;
  // Requests still queued for a guard's handshake fail here (link_failed),
  // the others just below.
  guards_.close_all();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending)
    if (p.done) p.done(fail(RequestFailure{RequestError::link_failed, {}, {}, 0}));
}

void OnionClient::fail_later(Callback done, RequestFailure f) {
  // Never call back from inside send(): a pending request (so that close()
  // answers it too) that is answered on the loop's next turn.
  const std::uint64_t id = crypto::random_u64();
  Pending p;
  p.deadline_ms = 0;
  p.done = std::move(done);
  pending_.emplace(id, std::move(p));
  jobs_.call_later(std::chrono::milliseconds(0), [this, id, f] { finish(id, fail(f)); });
}

std::shared_ptr<Link> OnionClient::guard_link(const NodeId& node) {
  if (auto link = guards_.find(node)) return link;
  const DirectoryEntry* e = directory_ ? directory_->find(node) : nullptr;
  if (!e) return nullptr;
  return guards_.dial(node, PeerInfo{e->node.address, e->node.link_key});
}

Result<OnionClient::Prepared, RequestFailure> OnionClient::prepare(const std::vector<NodeId>& relays,
                                                                   const NodeId& destination,
                                                                   Bytes request) {
  if (!directory_) return fail(RequestFailure{RequestError::no_directory, {}, {}, 0});
  if (pending_.size() >= config_.max_in_flight)
    return fail(RequestFailure{RequestError::overloaded, {}, {}, 0});
  Prepared out;
  out.path = relays;
  out.path.push_back(destination);
  const std::uint64_t now_s = now_ms() / 1000;
  std::vector<OnionHop> hops;
  for (std::size_t i = 0; i < out.path.size(); ++i) {
    const DirectoryEntry* e = directory_->find(out.path[i]);
    const OnionKeyInfo* k = e ? e->node.onion_key_at(now_s) : nullptr;
    if (!k) return fail(RequestFailure{RequestError::unknown_node, i, out.path[i], 0});
    hops.push_back(OnionHop{out.path[i], k->key, k->epoch});
  }
  auto built = build_cell(directory_->params.cell_bytes, hops, request, rng_);
  if (!built) {
    const auto err = built.error() == OnionError::data_too_large ? RequestError::too_large
                                                                 : RequestError::unknown_node;
    return fail(RequestFailure{err, {}, {}, 0});
  }
  out.guard = guard_link(out.path.front());
  if (!out.guard)
    return fail(RequestFailure{RequestError::unknown_node, 0, out.path.front(), 0});
  do out.id = crypto::random_u64();
  while (out.id == 0 || pending_.count(out.id));
  out.frame = make_onion_frame(FrameType::onion_cell, out.id, built->cell);
  out.reply_keys = std::move(built->reply_keys);
  if (config_.on_request) config_.on_request(relays, destination, request);
  return out;
}

void OnionClient::send(const std::vector<NodeId>& relays, const NodeId& destination, Bytes request,
                       Callback done, std::optional<std::chrono::milliseconds> timeout,
                       SegmentHandler on_segment) {
  auto prepared = prepare(relays, destination, request);
  if (!prepared) return fail_later(std::move(done), prepared.error());
  Pending p;
  p.reply_keys = std::move(prepared->reply_keys);
  p.path = std::move(prepared->path);
  p.deadline_ms = config_.clock.unix_ms() +
                  static_cast<std::uint64_t>((timeout ? *timeout : config_.timeout).count()) +
                  static_cast<std::uint64_t>(allowance_.count());
  p.first_hop = p.path.front();
  p.wait = ReplyWait(prepared->guard);
  p.done = std::move(done);
  p.on_segment = std::move(on_segment);
  const NodeId first = p.first_hop;
  const std::uint64_t id = prepared->id;
  arm_expiry(p.deadline_ms);
  pending_.emplace(id, std::move(p));
  switch (guards_.send(first, prepared->frame, id).status) {
    case PoolSend::sent:
    case PoolSend::queued: return;  // guard_queued() reports a queued one
    default: {
      auto it = pending_.find(id);
      auto cb = std::move(it->second.done);
      pending_.erase(it);
      fail_later(std::move(cb), {RequestError::link_failed, 0, first, 0});
    }
  }
}

Result<void, RequestError> OnionClient::send_oneway(const std::vector<NodeId>& relays,
                                                     const NodeId& destination, Bytes request) {
  auto prepared = prepare(relays, destination, request);
  if (!prepared) return fail(prepared.error().error);
  switch (guards_.send(prepared->path.front(), prepared->frame, prepared->id).status) {
    case PoolSend::sent:
    case PoolSend::queued: return {};
    default: return fail(RequestError::link_failed);
  }
}

void OnionClient::guard_queued(std::uint64_t id, Queued outcome) {
  if (outcome == Queued::sent) return;
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  finish(id, fail(RequestFailure{RequestError::link_failed, 0, it->second.first_hop, 0}));
}

void OnionClient::handle_frame(Bytes frame) {
  if (frame.size() < onion_frame_header) return;
  const auto type = static_cast<FrameType>(frame[0]);
  if (type != FrameType::onion_reply && type != FrameType::onion_reply_last) return;
  const std::uint64_t id = load_u64(frame.data() + 1);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::vector<std::uint8_t> cell(frame.begin() + onion_frame_header, frame.end());
  auto opened = open_reply(it->second.reply_keys, cell);
  if (!opened) return finish(id, fail(RequestFailure{RequestError::bad_reply, {}, {}, 0}));
  if (opened->kind == ReplyKind::relay_error) {
    const auto& path = it->second.path;
    RequestFailure f{RequestError::relay_error, opened->hop, {}, opened->code};
    // An unknown or unreachable next hop is the next node's fault; overload is this one's.
    const std::size_t culprit =
        opened->code == static_cast<std::uint8_t>(RelayErrorCode::overloaded) ? opened->hop
                                                                               : opened->hop + 1;
    if (culprit < path.size()) f.failed_node = path[culprit];
    return finish(id, fail(f));
  }
  auto& answer = it->second.answer;
  answer.insert(answer.end(), opened->data.begin(), opened->data.end());
  if (type == FrameType::onion_reply_last) return finish(id, std::move(answer));
  if (opened->code != reply_segment_end) return;  // more cells of this answer follow
  if (!it->second.on_segment) return finish(id, fail(RequestFailure{RequestError::bad_reply, {}, {}, 0}));
  // The handler may send, close or destroy this client: take what it needs first.
  std::vector<std::uint8_t> segment = std::move(answer);
  answer.clear();
  auto handler = it->second.on_segment;
  handler(std::move(segment));
}

void OnionClient::handle_closed(const NodeId& guard) {
  std::vector<std::uint64_t> lost;
  for (const auto& [id, p] : pending_)
    if (p.first_hop == guard && !p.path.empty()) lost.push_back(id);
  for (std::uint64_t id : lost)
    finish(id, fail(RequestFailure{RequestError::link_failed, 0, guard, 0}));
}

void OnionClient::finish(std::uint64_t id, Result<std::vector<std::uint8_t>, RequestFailure> r) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto done = std::move(it->second.done);
  pending_.erase(it);
  if (done) done(std::move(r));
}

void OnionClient::arm_expiry(std::uint64_t deadline_ms) {
  if (expiry_at_ms_ != 0 && expiry_at_ms_ <= deadline_ms) return;
  const std::uint64_t now = config_.clock.unix_ms();
  const std::uint64_t wait =
      std::min(deadline_ms > now ? deadline_ms - now : 0, max_expiry_wait_ms);
  expiry_at_ms_ = now + wait;
  expiry_.start(std::chrono::milliseconds(wait));
}

void OnionClient::tick() {
  expiry_at_ms_ = 0;
  const std::uint64_t now = config_.clock.unix_ms();
  std::vector<std::uint64_t> expired;
  for (const auto& [id, p] : pending_)
    if (p.deadline_ms <= now) expired.push_back(id);
  // A callback may close or destroy this client: check after each.
  const auto life = jobs_.lifetime();
  for (std::uint64_t id : expired) {
    if (life.expired()) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    RequestFailure f{RequestError::timeout, {}, {}, 0};
    finish(id, fail(f));
  }
  if (life.expired()) return;
  // The next request due (one answered meanwhile only makes it early).
  std::uint64_t next = 0;
  for (const auto& [id, p] : pending_)
    if (p.deadline_ms != 0 && (next == 0 || p.deadline_ms < next)) next = p.deadline_ms;
  if (next != 0) arm_expiry(next);
}

}  // namespace nightjar
