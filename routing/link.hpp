// The link layer over libuv TCP: encrypted, authenticated frame streams between
// a client and a node or between two nodes. Link is one connection, created by
// Link::dial or accepted by a LinkListener; LinkSession (link_session.hpp) does
// the protocol, this file does the I/O, timeouts and flow control.
//
// Lifetime: a Link keeps itself alive while its libuv handles are open and
// frees them only in their close callbacks. on_closed is its last callback.
// Everything here runs on the loop's thread.
//
// Flow control: send() never blocks. Sealed frames wait in a write queue; while
// that queue is over `read_pause_bytes` the link stops reading from its peer
// (a peer that does not read our replies cannot make us read more requests),
// and a send that would take it over `write_queue_limit` is refused with
// SendStatus::queue_full. on_writable fires when the queue has drained.
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

namespace spdlog {
class logger;
}

namespace nightjar {

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
};

enum class SendStatus { ok, queue_full, not_open, too_large };
const char* to_string(SendStatus s);

enum class CloseReason {
  local,              // close() or shutdown() was called
  peer_closed,        // end of stream from the peer
  io_error,           // a socket error
  connect_failed,     // the dial did not connect
  handshake_timeout,  // no complete handshake in time
  idle_timeout,       // nothing sent or received for too long
  protocol_error,     // see Link::protocol_error()
  refused,            // the listener was over its connection limit
};
const char* to_string(CloseReason r);

struct LinkStats {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t sends_refused = 0;
  std::uint64_t fault_drops = 0;   // frames LinkConfig::faults dropped
  std::uint64_t fault_delays = 0;  // frames it held back
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

  bool established() const { return session_.established(); }
  bool is_open() const { return !closing_; }
  bool reading() const { return reading_; }
  std::size_t write_queue_bytes() const { return pending_.size() + inflight_.size(); }
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
  SendStatus send_now(Bytes frame);
  void deliver(Bytes frame);
  void hold(FrameDirection direction, std::chrono::milliseconds delay, Bytes frame);
  void release_delayed();
  void queue_raw(std::vector<std::uint8_t>& bytes);
  void flush();
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
  uv_timer_t timer_{};
  // Only with LinkConfig::faults, created on the first delayed frame.
  std::unique_ptr<FrameDelayQueue> delayed_;
  uv_timer_t delay_timer_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};
  int open_handles_ = 0;

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
  std::uint64_t last_activity_ms_ = 0;
  std::string peer_label_;

  std::vector<std::uint8_t> pending_;   // sealed, not yet given to libuv
  std::vector<std::uint8_t> inflight_;  // owned by write_req_ until its callback
  std::vector<std::uint8_t> scratch_;   // handshake bytes produced while reading
  std::array<char, 64 * 1024> read_buf_;
  LinkStats stats_;
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
