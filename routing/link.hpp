// The link layer over libuv TCP: encrypted, authenticated frame streams between
// a client and a node or between two nodes. Link is one connection, created by
// Link::dial or accepted by a LinkListener; LinkSession (link_session.hpp) does
// the protocol, this file does the I/O, timeouts and flow control.
//
// Lifetime: a Link keeps itself alive while its socket is open and lets go of
// itself only in the socket's close callback. on_closed is its last callback.
// Everything here runs on the loop's thread.
//
// Batching: send() seals the frame into the write queue and returns. The
// queue goes to the socket when the loop's current turn is done (a TurnEnd,
// runtime.hpp): one uv_try_write of all of it, and a uv_write of what the
// socket did not take; while that write is in flight, what is queued waits
// for it to complete, and then for the end of that turn. So the frames a turn
// produces for one link (a read of many cells, a burst of sends) leave in one
// write system call, not one each. close() discards what has not left yet.
//
// Flow control: send() never blocks. Sealed frames wait in a write queue; while
// that queue is over `read_pause_bytes` the link stops reading from its peer
// (a peer that does not read our replies cannot make us read more requests),
// and a send that would take it over `write_queue_limit` is refused with
// SendStatus::queue_full. on_writable fires when the queue has drained.
//
// Liveness: a peer can go silent without the TCP connection closing (a
// network partition). While the application awaits at least one answer on a
// link (begin_await/end_await, or a ReplyWait), the link probes a silent peer
// with link_ping frames (frame.hpp), which every Link answers with link_pong,
// and closes with CloseReason::liveness_timeout when nothing at all has come
// from the peer for LinkConfig::liveness_timeout (and what is queued for it
// is not draining either); its owner then fails what it awaited, as on any
// close. Idle links send no pings, and pings do not count as traffic for the
// idle timeout. docs/PROTOCOL.md ("Liveness") has the exact rule.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "routing/endpoint.hpp"
#include "routing/link_faults.hpp"
#include "routing/link_session.hpp"
#include "routing/runtime.hpp"

namespace spdlog {
class logger;
}

namespace nightjar {

// Sees every frame a link sends or receives, after sealing on the way out
// and as read on the way in: the simnet's record of what a global passive
// observer sees (simnet/trace.hpp). `wire_bytes` is the frame's length on
// the wire (its sealed length); `peer` as for LinkFaults. Called on the
// link's loop thread; production nodes and clients never set one.
class LinkObserver {
 public:
  virtual ~LinkObserver() = default;
  virtual void frame(FrameDirection direction, const std::optional<X25519PublicKey>& peer,
                     std::size_t wire_bytes) = 0;
};

struct LinkConfig {
  std::size_t max_frame = LinkSession::default_max_frame;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{300'000};
  std::size_t read_pause_bytes = 1u
                                 << 20;  // stop reading while our queue to the peer is above this
  std::size_t write_queue_limit = 4u << 20;  // refuse sends beyond this many queued bytes
  std::vector<std::uint8_t> prologue;        // e.g. the network ID; both ends must agree
  std::shared_ptr<spdlog::logger> log;       // null: spdlog's default logger
  // Fault injection (the simnet, tests): drops or delays frames (link_faults.hpp).
  std::shared_ptr<LinkFaults> faults;
  // What an observer of the wire would see (the simnet's trace); null: none.
  std::shared_ptr<LinkObserver> observer;
  // While a reply is awaited: a ping after `liveness_probe` with nothing heard
  // from the peer, a close after `liveness_timeout` of silence (counted in
  // whole probe intervals). A zero timeout turns the check off.
  std::chrono::milliseconds liveness_probe{1000};
  std::chrono::milliseconds liveness_timeout{4000};
};

enum class SendStatus { ok, queue_full, not_open, too_large };
const char* to_string(SendStatus s);

enum class CloseReason {
  local,              // close() or shutdown() was called
  peer_closed,        // end of stream from the peer
  io_error,           // a socket error
  connect_failed,     // the dial did not connect
  handshake_timeout,  // no complete handshake in time
  idle_timeout,       // no application frame sent or received for too long
  liveness_timeout,   // a reply was awaited and the peer stayed silent, pings unanswered
  protocol_error,     // see Link::protocol_error()
  refused,            // the listener was over its connection limit
};
const char* to_string(CloseReason r);

// How many times this process could not get a socket for a link because it
// was out of file descriptors (EMFILE or ENFILE), dialing or accepting. The
// link fails like any other (connect_failed; an accept is dropped), so this
// is the one place that says why: raise the limit (LimitNOFILE=, ulimit -n)
// when it moves. Process-wide; the first failure is also logged as a warning.
std::uint64_t link_descriptor_failures();

struct LinkStats {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t sends_refused = 0;
  std::uint64_t fault_drops = 0;   // frames LinkConfig::faults dropped
  std::uint64_t fault_delays = 0;  // frames it held back
  std::uint64_t pings_sent = 0;    // liveness probes (counted in frames_out too)
  std::uint64_t pongs_sent = 0;    // answers to the peer's probes (likewise)
  // Writes handed to the socket: each uv_try_write of everything queued,
  // each uv_write of what it did not take. The frames sent in one turn of the
  // loop share them (see "Batching" above).
  std::uint64_t writes = 0;
};

class Link : public std::enable_shared_from_this<Link>, private FrameSink {
 public:
  struct Handlers {
    std::function<void(Link&)> on_established;
    std::function<void(Link&, Bytes)> on_frame;
    std::function<void(Link&)> on_writable;
    std::function<void(Link&, CloseReason)> on_closed;
  };

  // Connects to `to` expecting its static key `expected`. `own` set: a mutual
  // (node) link; null: anonymous (client). Errors arrive through on_closed.
  static std::shared_ptr<Link> dial(uv_loop_t* loop, const Endpoint& to,
                                    const X25519PublicKey& expected,
                                    std::shared_ptr<const X25519KeyPair> own, LinkConfig config,
                                    Handlers handlers);

  ~Link() override;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  SendStatus send(Bytes frame);
  // Closes at once; queued frames are discarded.
  void close(CloseReason reason = CloseReason::local);
  // Stops reading, sends what is queued, then closes.
  void shutdown();
  // Application-level read pause, independent of backpressure.
  void pause_reading();
  void resume_reading();
  // The application awaits an answer on this link (a request sent, a cell
  // forwarded). While at least one is awaited the liveness check runs. Each
  // begin_await() needs exactly one end_await(), however the wait ends
  // (answer, error, expiry); ReplyWait pairs them for you.
  void begin_await();
  void end_await();
  std::size_t awaiting() const { return awaiting_; }

  bool established() const { return session_.established(); }
  bool is_open() const { return !closing_; }
  bool reading() const { return reading_; }
  std::size_t write_queue_bytes() const {
    return pending_.size() + inflight_.size() - inflight_sent_;
  }
  const std::optional<X25519PublicKey>& peer_static() const { return session_.peer_static(); }
  std::optional<LinkError> protocol_error() const { return protocol_error_; }
  const std::string& peer_label() const { return peer_label_; }
  const LinkStats& stats() const { return stats_; }
  void set_handlers(Handlers h) { handlers_ = std::move(h); }

 private:
  friend class LinkListener;
  Link(uv_loop_t* loop, LinkSession session, LinkConfig config, Handlers handlers);

  void init_handles();
  void start_io();
  bool on_frame(Bytes frame) override;
  void handle_read(ssize_t nread, const uv_buf_t* buf);
  void handle_write_done(int status);
  void handle_timer();
  void start_timer(std::uint64_t first_ms, std::uint64_t repeat_ms);
  void watch_established();
  void check_liveness();
  void handle_link_frame(Bytes frame);
  std::uint64_t unsent_bytes();
  SendStatus send_now(Bytes frame);
  void deliver(Bytes frame);
  void hold(FrameDirection direction, std::chrono::milliseconds delay, Bytes frame);
  void release_delayed();
  void queue_raw(std::vector<std::uint8_t>& bytes);
  void flush_soon();
  void end_turn();
  void flush();
  void queue_shrank(bool was_paused);
  void update_flow();
  void drop(CloseReason reason, const std::string& why);
  void maybe_finish_shutdown();
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  uv_loop_t* loop_;
  LinkSession session_;
  LinkConfig config_;
  Handlers handlers_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<Link> self_;  // set while any handle is open

  uv_tcp_t tcp_{};
  Timer timer_;
  // Only with LinkConfig::faults, created on the first delayed frame.
  std::unique_ptr<FrameDelayQueue> delayed_;
  Timer delay_timer_;
  TurnEnd flush_turn_;  // flushes what this turn queued, once
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};

  bool closing_ = false;
  bool shutting_down_ = false;
  bool shutdown_sent_ = false;
  bool connected_ = false;
  bool reading_ = false;
  bool app_paused_ = false;
  bool flow_paused_ = false;
  bool write_in_flight_ = false;
  CloseReason close_reason_ = CloseReason::local;
  std::optional<LinkError> protocol_error_;
  std::uint64_t last_activity_ms_ = 0;  // application frames only: pings do not keep a link open
  bool pending_app_ = false;            // pending_ holds (part of) an application frame
  bool inflight_app_ = false;           // inflight_ does

  // Liveness (see the file comment). Silence is counted in timer ticks, not
  // read from the clock: after the loop thread was blocked, a tick can run
  // before the data waiting in the socket is read, so one long stall must
  // count as one silent tick, not as the whole timeout.
  std::size_t awaiting_ = 0;
  bool probing_ = false;  // the timer runs at the probe interval
  bool heard_ = false;    // a frame arrived since the previous tick
  std::uint32_t silent_ticks_ = 0;
  std::uint64_t bytes_queued_ = 0;    // every byte ever put in pending_
  std::uint64_t unsent_at_tick_ = 0;  // not yet taken by the socket at the previous tick
  std::uint64_t taken_at_tick_ = 0;   // taken by the socket by then
  std::string peer_label_;

  std::vector<std::uint8_t> pending_;   // sealed, not yet given to libuv
  std::vector<std::uint8_t> inflight_;  // owned by write_req_ until its callback
  std::size_t inflight_sent_ = 0;       // its first bytes, which uv_try_write took
  std::vector<std::uint8_t> scratch_;   // handshake bytes produced while reading
  std::array<char, 64 * 1024> read_buf_;
  LinkStats stats_;
};

// One awaited answer on a link, held for as long as it is awaited: it calls
// begin_await() when made and end_await() when destroyed or reset. Kept in
// the record of what is awaited (a relay-table entry, a pending request), it
// ends the wait on every path that erases the record. It does not keep the
// link alive.
class ReplyWait {
 public:
  ReplyWait() = default;
  explicit ReplyWait(const std::shared_ptr<Link>& link);
  explicit ReplyWait(Link& link);
  ReplyWait(ReplyWait&& other) noexcept : link_(std::move(other.link_)) { other.link_.reset(); }
  ReplyWait& operator=(ReplyWait&& other) noexcept;
  ReplyWait(const ReplyWait&) = delete;
  ReplyWait& operator=(const ReplyWait&) = delete;
  ~ReplyWait() { reset(); }

  void reset();
  // The link awaited on; null if none or gone.
  std::shared_ptr<Link> link() const { return link_.lock(); }

 private:
  std::weak_ptr<Link> link_;
};

struct ListenerOptions {
  bool allow_anonymous = true;   // accept clients, not only nodes
  std::size_t max_links = 4096;  // connections over this are closed at once
};

// Accepts connections and runs the responder side of the handshake. For each
// accepted connection `on_accept` is called before any byte is read; it
// returns the handlers for that link.
class LinkListener {
 public:
  using AcceptHandler = std::function<Link::Handlers(Link&)>;

  LinkListener(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> identity, LinkConfig config,
               ListenerOptions options, AcceptHandler on_accept);
  ~LinkListener();
  LinkListener(const LinkListener&) = delete;
  LinkListener& operator=(const LinkListener&) = delete;

  // Binds and listens; port 0 picks a free port (see port()).
  Result<void, std::string> listen(const Endpoint& at);
  std::uint16_t port() const;
  // Stops accepting. Existing links stay open.
  void close();
  // Closes every link this listener accepted.
  void close_links(CloseReason reason = CloseReason::local);
  std::size_t link_count();

 private:
  struct Handle;
  void handle_connection(int status);

  uv_loop_t* loop_;
  std::shared_ptr<const X25519KeyPair> identity_;
  LinkConfig config_;
  ListenerOptions options_;
  AcceptHandler on_accept_;
  std::shared_ptr<spdlog::logger> log_;
  Handle* handle_ = nullptr;  // freed in its close callback
  std::unordered_map<Link*, std::weak_ptr<Link>> links_;
};

}  // namespace nightjar
