#include "routing/link.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

#include "routing/frame.hpp"

namespace nightjar {

const char* to_string(SendStatus s) {
  switch (s) {
    case SendStatus::ok:
      return "ok";
    case SendStatus::queue_full:
      return "write queue full";
    case SendStatus::not_open:
      return "link not open";
    case SendStatus::too_large:
      return "frame too large";
  }
  return "unknown";
}

namespace {

std::atomic<std::uint64_t> descriptor_failures{0};

// Counts (and logs the first) socket failures for want of descriptors.
void note_descriptors(int rc, const std::shared_ptr<spdlog::logger>& log, const char* what) {
  if (rc != UV_EMFILE && rc != UV_ENFILE) return;
  if (descriptor_failures.fetch_add(1, std::memory_order_relaxed) == 0)
    log->warn("cannot {} a link: {} (raise the limit on open files; further failures are only "
              "counted, nightjar_link_descriptor_failures_total)",
              what, uv_strerror(rc));
}

}  // namespace

std::uint64_t link_descriptor_failures() {
  return descriptor_failures.load(std::memory_order_relaxed);
}

const char* to_string(CloseReason r) {
  switch (r) {
    case CloseReason::local:
      return "closed locally";
    case CloseReason::peer_closed:
      return "closed by peer";
    case CloseReason::io_error:
      return "socket error";
    case CloseReason::connect_failed:
      return "connect failed";
    case CloseReason::handshake_timeout:
      return "handshake timed out";
    case CloseReason::idle_timeout:
      return "idle timeout";
    case CloseReason::liveness_timeout:
      return "peer silent while awaited";
    case CloseReason::protocol_error:
      return "protocol error";
    case CloseReason::refused:
      return "over connection limit";
  }
  return "unknown";
}

namespace {

std::shared_ptr<spdlog::logger> logger_or_default(const std::shared_ptr<spdlog::logger>& l) {
  return l ? l : spdlog::default_logger();
}

// Keeps buffer memory proportional to current load: a burst must not pin a
// multi-megabyte allocation on every idle link.
void release_if_large(std::vector<std::uint8_t>& v) {
  if (v.empty() && v.capacity() > 256 * 1024) std::vector<std::uint8_t>().swap(v);
}

bool link_internal(Bytes frame) {
  return !frame.empty() && is_link_internal(frame[0]);
}

std::string peer_name(uv_tcp_t* tcp) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "(unknown peer)";
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).to_string();
}

}  // namespace

// --- Link --------------------------------------------------------------------

Link::Link(uv_loop_t* loop, LinkSession session, LinkConfig config, Handlers handlers)
    : loop_(loop),
      session_(std::move(session)),
      config_(std::move(config)),
      handlers_(std::move(handlers)),
      log_(logger_or_default(config_.log)),
      timer_(loop, [this] { handle_timer(); }),
      delay_timer_(loop, [this] { release_delayed(); }),
      flush_turn_(loop, [this] { end_turn(); }) {}

Link::~Link() = default;

void Link::init_handles() {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  last_activity_ms_ = uv_now(loop_);
  start_timer(static_cast<std::uint64_t>(config_.handshake_timeout.count()), 0);
}

void Link::start_timer(std::uint64_t first_ms, std::uint64_t repeat_ms) {
  timer_.start(std::chrono::milliseconds(first_ms), std::chrono::milliseconds(repeat_ms));
}

std::shared_ptr<Link> Link::dial(uv_loop_t* loop, const Endpoint& to,
                                 const X25519PublicKey& expected,
                                 std::shared_ptr<const X25519KeyPair> own, LinkConfig config,
                                 Handlers handlers) {
  crypto::init();
  auto session = LinkSession::dialer(expected, std::move(own), config.prologue, config.max_frame);
  std::shared_ptr<Link> link(
      new Link(loop, std::move(session), std::move(config), std::move(handlers)));
  link->self_ = link;
  link->peer_label_ = to.to_string();
  link->init_handles();
  link->connect_req_.data = link.get();
  int rc =
      uv_tcp_connect(&link->connect_req_, &link->tcp_, to.sa(), [](uv_connect_t* req, int status) {
        auto* self = static_cast<Link*>(req->data);
        if (status == UV_ECANCELED) return;  // we closed while connecting
        if (status < 0) {
          note_descriptors(status, self->log_, "dial");
          self->drop(CloseReason::connect_failed, uv_strerror(status));
          return;
        }
        self->connected_ = true;
        self->start_io();
      });
  if (rc < 0) {
    note_descriptors(rc, link->log_, "dial");
    link->drop(CloseReason::connect_failed, uv_strerror(rc));
  }
  return link;
}

void Link::start_io() {
  uv_tcp_nodelay(&tcp_, 1);  // cells are latency-sensitive; never wait for Nagle
  scratch_.clear();
  session_.start(scratch_);
  if (!scratch_.empty()) queue_raw(scratch_);
  update_flow();
}

void Link::queue_raw(std::vector<std::uint8_t>& bytes) {
  bytes_queued_ += bytes.size();
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  bytes.clear();
  flush_soon();
}

// What is queued leaves when this turn's callbacks are done, together with
// whatever else they queue; while a write is in flight, its completion
// flushes instead.
void Link::flush_soon() {
  if (!closing_ && !write_in_flight_ && !pending_.empty()) flush_turn_.arm();
}

// The TurnEnd's callback. What the socket took at once shrank the queue, and
// no write completion will follow to say so.
void Link::end_turn() {
  const bool was_paused = flow_paused_;
  flush();
  queue_shrank(was_paused);
}

// Flow control may resume reading, and a sender that was refused may go on.
void Link::queue_shrank(bool was_paused) {
  update_flow();
  if (was_paused && !flow_paused_ && !closing_ && handlers_.on_writable)
    handlers_.on_writable(*this);
}

SendStatus Link::send(Bytes frame) {
  if (closing_ || shutting_down_ || !connected_) return SendStatus::not_open;
  if (frame.size() > session_.max_frame()) return SendStatus::too_large;
  if (config_.faults) {
    const FrameFate fate = config_.faults->decide(FrameDirection::out, session_.peer_static(),
                                                  frame.empty() ? 0 : frame[0]);
    if (fate.drop) {
      ++stats_.fault_drops;
      return SendStatus::ok;  // as if it was lost on the way
    }
    if (fate.delay.count() > 0 || (delayed_ && delayed_->holds(FrameDirection::out))) {
      hold(FrameDirection::out, fate.delay, frame);
      return SendStatus::ok;
    }
  }
  return send_now(frame);
}

SendStatus Link::send_now(Bytes frame) {
  if (closing_ || shutting_down_ || !connected_) return SendStatus::not_open;
  if (frame.size() > session_.max_frame()) return SendStatus::too_large;
  if (write_queue_bytes() + frame.size() + LinkSession::frame_overhead >
      config_.write_queue_limit) {
    ++stats_.sends_refused;
    return SendStatus::queue_full;
  }
  const std::size_t before = pending_.size();
  if (!session_.seal(frame, pending_)) return SendStatus::not_open;
  bytes_queued_ += pending_.size() - before;
  ++stats_.frames_out;
  if (config_.observer)
    config_.observer->frame(FrameDirection::out, session_.peer_static(), pending_.size() - before);
  if (!link_internal(frame)) pending_app_ = true;
  flush_soon();
  update_flow();
  return SendStatus::ok;
}

void Link::flush() {
  if (closing_ || write_in_flight_ || pending_.empty()) return;
  flush_turn_.cancel();  // everything queued so far goes now
  // Try the socket directly first: what it takes leaves now, without an
  // allocation or a trip through the loop.
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(pending_.data()), static_cast<unsigned>(pending_.size()));
  const int n = uv_try_write(stream(), &buf, 1);
  ++stats_.writes;
  std::size_t taken = 0;
  if (n > 0) {
    taken = static_cast<std::size_t>(n);
    stats_.bytes_out += taken;
    if (pending_app_) last_activity_ms_ = uv_now(loop_);
  } else if (n < 0 && n != UV_EAGAIN) {
    drop(CloseReason::io_error, uv_strerror(n));
    return;
  }
  if (taken == pending_.size()) {
    pending_.clear();
    pending_app_ = false;
    release_if_large(pending_);
    maybe_finish_shutdown();
    return;
  }
  // The rest goes with uv_write, from where the socket stopped: no bytes move.
  inflight_.swap(pending_);
  inflight_sent_ = taken;
  pending_.clear();
  inflight_app_ = pending_app_;
  pending_app_ = false;
  buf = uv_buf_init(reinterpret_cast<char*>(inflight_.data() + taken),
                    static_cast<unsigned>(inflight_.size() - taken));
  ++stats_.writes;
  write_req_.data = this;
  int rc = uv_write(&write_req_, stream(), &buf, 1, [](uv_write_t* req, int status) {
    static_cast<Link*>(req->data)->handle_write_done(status);
  });
  if (rc < 0) {
    inflight_.clear();
    inflight_sent_ = 0;
    drop(CloseReason::io_error, uv_strerror(rc));
    return;
  }
  write_in_flight_ = true;
}

void Link::handle_write_done(int status) {
  write_in_flight_ = false;
  stats_.bytes_out += inflight_.size() - inflight_sent_;
  inflight_.clear();
  inflight_sent_ = 0;
  release_if_large(inflight_);
  if (status < 0) {
    if (status != UV_ECANCELED) drop(CloseReason::io_error, uv_strerror(status));
    return;
  }
  if (inflight_app_) last_activity_ms_ = uv_now(loop_);
  inflight_app_ = false;
  const bool was_paused = flow_paused_;
  // What was queued meanwhile leaves at the end of this turn, with what the
  // rest of the turn queues; nothing queued: a shutdown may finish now.
  if (pending_.empty())
    maybe_finish_shutdown();
  else
    flush_soon();
  queue_shrank(was_paused);
}

void Link::update_flow() {
  if (closing_) return;
  const std::size_t queued = write_queue_bytes();
  if (queued > config_.read_pause_bytes)
    flow_paused_ = true;
  else if (queued <= config_.read_pause_bytes / 2)
    flow_paused_ = false;

  const bool want = connected_ && !shutting_down_ && !app_paused_ && !flow_paused_;
  if (want && !reading_) {
    int rc = uv_read_start(
        stream(),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
          auto* self = static_cast<Link*>(h->data);
          *buf = uv_buf_init(self->read_buf_.data(), static_cast<unsigned>(self->read_buf_.size()));
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          static_cast<Link*>(s->data)->handle_read(nread, buf);
        });
    if (rc < 0) {
      drop(CloseReason::io_error, uv_strerror(rc));
      return;
    }
    reading_ = true;
  } else if (!want && reading_) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void Link::handle_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0 || closing_) return;
  if (nread < 0) {
    if (nread == UV_EOF) {
      if (session_.established())
        drop(CloseReason::peer_closed, "end of stream");
      else
        drop(CloseReason::peer_closed, "end of stream during handshake");
    } else {
      drop(CloseReason::io_error, uv_strerror(static_cast<int>(nread)));
    }
    return;
  }
  stats_.bytes_in += static_cast<std::uint64_t>(nread);
  const bool was_established = session_.established();
  scratch_.clear();
  auto r = session_.receive(
      {reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(nread)}, scratch_,
      *this);
  if (!r) {
    protocol_error_ = r.error();
    drop(CloseReason::protocol_error, to_string(r.error()));
    return;
  }
  if (!scratch_.empty()) queue_raw(scratch_);
  if (!was_established && session_.established() && !closing_) {
    // The handshake is done: the timer now watches for idleness instead (and
    // for silence, if a reply was awaited before the link was up).
    last_activity_ms_ = uv_now(loop_);
    watch_established();
    log_->debug("link {} established", peer_label_);
    if (handlers_.on_established) handlers_.on_established(*this);
  }
}

bool Link::on_frame(Bytes frame) {
  if (closing_) return false;
  ++stats_.frames_in;
  if (config_.observer)
    config_.observer->frame(FrameDirection::in, session_.peer_static(),
                            frame.size() + LinkSession::frame_overhead);
  // Idle time counts application frames as they arrive, before the fault
  // policy (as counting bytes read did); liveness counts what the policy lets
  // through (deliver()), pings and pongs included.
  if (!link_internal(frame)) last_activity_ms_ = uv_now(loop_);
  if (config_.faults) {
    const FrameFate fate = config_.faults->decide(FrameDirection::in, session_.peer_static(),
                                                  frame.empty() ? 0 : frame[0]);
    if (fate.drop) {
      ++stats_.fault_drops;
      return true;
    }
    if (fate.delay.count() > 0 || (delayed_ && delayed_->holds(FrameDirection::in))) {
      hold(FrameDirection::in, fate.delay, frame);
      return true;
    }
  }
  deliver(frame);
  // Frames that arrived in the same read after a pause are still delivered;
  // the pause takes effect at the next read.
  return !closing_;
}

void Link::deliver(Bytes frame) {
  heard_ = true;
  if (link_internal(frame)) {
    handle_link_frame(frame);
    return;
  }
  if (handlers_.on_frame) handlers_.on_frame(*this, frame);
}

void Link::handle_link_frame(Bytes frame) {
  // Anything but a bare ping or pong is ignored (the format is canonical);
  // it still showed that the peer is alive.
  if (frame.size() != 1) return;
  if (frame[0] == static_cast<std::uint8_t>(FrameType::link_ping)) {
    const std::uint8_t pong = static_cast<std::uint8_t>(FrameType::link_pong);
    // Through send(), so that a fault policy judges the pong like any frame.
    if (send(Bytes{&pong, 1}) == SendStatus::ok) ++stats_.pongs_sent;
  }
}

void Link::hold(FrameDirection direction, std::chrono::milliseconds delay, Bytes frame) {
  ++stats_.fault_delays;
  if (!delayed_) delayed_ = std::make_unique<FrameDelayQueue>();
  const std::uint64_t now = uv_now(loop_);
  delayed_->push(direction, now, delay, {frame.begin(), frame.end()});
  const std::uint64_t due = *delayed_->next_due();
  delay_timer_.start(std::chrono::milliseconds(due > now ? due - now : 0));
}

void Link::release_delayed() {
  if (closing_ || !delayed_) return;
  // Keep ourselves alive: a handler may close the link and drop the last
  // outside reference while we are still in the loop below.
  auto keep = shared_from_this();
  for (auto& f : delayed_->take_due(uv_now(loop_))) {
    if (closing_) return;
    if (f.direction == FrameDirection::in)
      deliver(f.bytes);
    else
      (void)send_now(f.bytes);  // refused now: lost, as a dropped frame would be
  }
  if (closing_) return;
  if (auto due = delayed_->next_due()) {
    const std::uint64_t now = uv_now(loop_);
    delay_timer_.start(std::chrono::milliseconds(*due > now ? *due - now : 0));
  }
}

void Link::handle_timer() {
  if (closing_) return;
  if (shutting_down_) {
    drop(CloseReason::local, "shutdown did not finish in time");
    return;
  }
  if (!session_.established()) {
    drop(CloseReason::handshake_timeout,
         "no handshake within " + std::to_string(config_.handshake_timeout.count()) + " ms");
    return;
  }
  const std::uint64_t idle = uv_now(loop_) - last_activity_ms_;
  if (idle >= static_cast<std::uint64_t>(config_.idle_timeout.count())) {
    drop(CloseReason::idle_timeout, "idle for " + std::to_string(idle) + " ms");
    return;
  }
  if (probing_) check_liveness();
}

// After the handshake the timer ticks every idle_timeout / 4, or every probe
// interval while a reply is awaited.
void Link::watch_established() {
  probing_ = awaiting_ > 0 && config_.liveness_timeout.count() > 0;
  if (probing_) {
    heard_ = false;
    silent_ticks_ = 0;
    unsent_at_tick_ = unsent_bytes();
    taken_at_tick_ = bytes_queued_ - unsent_at_tick_;
    const auto probe =
        std::max<std::uint64_t>(1, static_cast<std::uint64_t>(config_.liveness_probe.count()));
    start_timer(probe, probe);
    return;
  }
  const auto period =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(config_.idle_timeout.count()) / 4);
  start_timer(period, period);
}

void Link::begin_await() {
  ++awaiting_;
  // Already probing: keep counting, so that a silent peer cannot be kept
  // open by new requests. Not yet established: the handshake's end starts it.
  if (!probing_ && config_.liveness_timeout.count() > 0 && !closing_ && !shutting_down_ &&
      session_.established())
    watch_established();
}

void Link::end_await() {
  if (awaiting_ > 0) --awaiting_;
  // The timer slows down again at its next tick.
}

// Bytes queued for the peer that the socket has not taken yet: ours, and the
// rest of the write libuv is carrying out.
std::uint64_t Link::unsent_bytes() {
  return pending_.size() + uv_stream_get_write_queue_size(stream());
}

void Link::check_liveness() {
  if (awaiting_ == 0) {
    watch_established();
    return;
  }
  // Data that waited for the socket at the last tick has moved since: the
  // peer's TCP is acknowledging, and a ping would wait behind that data
  // anyway (a slow peer, not a silent one).
  const std::uint64_t unsent = unsent_bytes();
  const std::uint64_t taken = bytes_queued_ - unsent;
  const bool draining = unsent_at_tick_ > 0 && taken > taken_at_tick_;
  unsent_at_tick_ = unsent;
  taken_at_tick_ = taken;
  // Heard from the peer since the last tick, our data to it draining, or not
  // reading (flow control, the application's pause: we could not hear it):
  // no judgement.
  if (heard_ || draining || !reading_) {
    heard_ = false;
    silent_ticks_ = 0;
    return;
  }
  const auto probe =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(config_.liveness_probe.count()));
  const auto allowed = std::max<std::uint64_t>(
      1, (static_cast<std::uint64_t>(config_.liveness_timeout.count()) + probe - 1) / probe);
  if (++silent_ticks_ >= allowed) {
    drop(CloseReason::liveness_timeout, "nothing heard for " + std::to_string(silent_ticks_) +
                                            " probe intervals of " + std::to_string(probe) +
                                            " ms while awaiting " + std::to_string(awaiting_) +
                                            " replies");
    return;
  }
  const std::uint8_t ping = static_cast<std::uint8_t>(FrameType::link_ping);
  if (send(Bytes{&ping, 1}) == SendStatus::ok) ++stats_.pings_sent;
}

void Link::pause_reading() {
  app_paused_ = true;
  update_flow();
}

void Link::resume_reading() {
  app_paused_ = false;
  update_flow();
}

void Link::shutdown() {
  if (closing_ || shutting_down_) return;
  if (!connected_) {
    close(CloseReason::local);
    return;
  }
  shutting_down_ = true;
  probing_ = false;
  update_flow();
  // Bound the time a peer that does not read can hold us open.
  start_timer(static_cast<std::uint64_t>(config_.handshake_timeout.count()), 0);
  maybe_finish_shutdown();
}

void Link::maybe_finish_shutdown() {
  if (!shutting_down_ || shutdown_sent_ || closing_ || write_in_flight_ || !pending_.empty())
    return;
  shutdown_sent_ = true;
  shutdown_req_.data = this;
  int rc = uv_shutdown(&shutdown_req_, stream(), [](uv_shutdown_t* req, int status) {
    auto* self = static_cast<Link*>(req->data);
    if (status == UV_ECANCELED) return;
    self->close(CloseReason::local);
  });
  if (rc < 0) close(CloseReason::local);
}

void Link::drop(CloseReason reason, const std::string& why) {
  if (closing_) return;
  switch (reason) {
    case CloseReason::protocol_error:
    case CloseReason::handshake_timeout:
    case CloseReason::refused:
      // Operators need to see misbehaving peers; no payload is ever logged.
      log_->info("link {} dropped: {}: {}", peer_label_, to_string(reason), why);
      break;
    default:
      log_->debug("link {} closed: {}: {}", peer_label_, to_string(reason), why);
  }
  close(reason);
}

void Link::close(CloseReason reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = reason;
  reading_ = false;
  timer_.close();
  delay_timer_.close();
  flush_turn_.close();  // what is still queued is discarded
  if (delayed_) delayed_->clear();  // held frames are lost with the link
  auto on_closed = [](uv_handle_t* h) {
    auto* self = static_cast<Link*>(h->data);
    // The socket is closed: report, then let go of ourselves. `keep` may be
    // the final owner, so nothing touches `self` after this block.
    std::shared_ptr<Link> keep = std::move(self->self_);
    if (self->handlers_.on_closed) self->handlers_.on_closed(*self, self->close_reason_);
    self->handlers_ = {};
  };
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_)))
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_closed);
}

// --- ReplyWait -----------------------------------------------------------------

ReplyWait::ReplyWait(const std::shared_ptr<Link>& link) : link_(link) {
  if (link) link->begin_await();
}

ReplyWait::ReplyWait(Link& link) : link_(link.weak_from_this()) { link.begin_await(); }

ReplyWait& ReplyWait::operator=(ReplyWait&& other) noexcept {
  if (this != &other) {
    reset();
    link_ = std::move(other.link_);
    other.link_.reset();
  }
  return *this;
}

void ReplyWait::reset() {
  if (auto l = link_.lock()) l->end_await();
  link_.reset();
}

// --- LinkListener ------------------------------------------------------------

struct LinkListener::Handle {
  uv_tcp_t tcp{};
  LinkListener* owner = nullptr;
};

LinkListener::LinkListener(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> identity,
                           LinkConfig config, ListenerOptions options, AcceptHandler on_accept)
    : loop_(loop),
      identity_(std::move(identity)),
      config_(std::move(config)),
      options_(options),
      on_accept_(std::move(on_accept)),
      log_(logger_or_default(config_.log)) {
  crypto::init();
}

LinkListener::~LinkListener() {
  close();
}

Result<void, std::string> LinkListener::listen(const Endpoint& at) {
  if (handle_) return fail(std::string("already listening"));
  handle_ = new Handle;
  handle_->owner = this;
  handle_->tcp.data = handle_;
  uv_tcp_init(loop_, &handle_->tcp);
  int rc = uv_tcp_bind(&handle_->tcp, at.sa(), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&handle_->tcp), 128,
                   [](uv_stream_t* s, int status) {
                     auto* h = static_cast<Handle*>(s->data);
                     if (h->owner) h->owner->handle_connection(status);
                   });
  if (rc != 0) {
    close();
    return fail("cannot listen on " + at.to_string() + ": " + uv_strerror(rc));
  }
  log_->debug("listening on {}", at.to_string());
  return {};
}

std::uint16_t LinkListener::port() const {
  if (!handle_) return 0;
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(&handle_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).port();
}

void LinkListener::close() {
  if (!handle_) return;
  handle_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->tcp),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
  handle_ = nullptr;
}

std::size_t LinkListener::link_count() {
  std::erase_if(links_, [](const auto& kv) { return kv.second.expired(); });
  return links_.size();
}

void LinkListener::close_links(CloseReason reason) {
  for (auto& [ptr, weak] : links_)
    if (auto l = weak.lock()) l->close(reason);
  links_.clear();
}

void LinkListener::handle_connection(int status) {
  if (status < 0) {
    if (status == UV_EMFILE || status == UV_ENFILE)
      note_descriptors(status, log_, "accept");
    else
      log_->warn("accept failed: {}", uv_strerror(status));
    return;
  }
  auto session = LinkSession::responder(identity_, config_.prologue, options_.allow_anonymous,
                                        config_.max_frame);
  std::shared_ptr<Link> link(new Link(loop_, std::move(session), config_, {}));
  link->self_ = link;
  link->init_handles();
  if (const int rc = uv_accept(reinterpret_cast<uv_stream_t*>(&handle_->tcp), link->stream());
      rc != 0) {
    note_descriptors(rc, log_, "accept");
    link->close(CloseReason::io_error);
    return;
  }
  link->connected_ = true;
  link->peer_label_ = peer_name(&link->tcp_);
  if (link_count() >= options_.max_links) {
    link->drop(CloseReason::refused, std::to_string(options_.max_links) + " links open");
    return;
  }
  links_.emplace(link.get(), link);
  link->handlers_ = on_accept_ ? on_accept_(*link) : Link::Handlers{};
  link->start_io();
}

}  // namespace nightjar
