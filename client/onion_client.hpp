// OnionClient: sends one request through an onion path and collects its
// answer. It builds a fresh cell for every request (relays and destination
// from the directory, each hop's current onion key), sends it on an
// anonymous link to the first relay (links are kept open and reused), and
// opens the reply cells that come back, however many the answer takes.
// A relay's error reply, a link failure or the timeout ends the request with
// an error that says which hop failed, so the caller can choose another path.
// A pending request awaits its answer on the guard link (ReplyWait), so a
// guard that goes silent closes that link within LinkConfig::liveness_timeout
// and fails the requests on it (link_failed) long before their timeouts.
//
// Used by the client library's send and receive code, and by tests and the
// simnet. One thread: the loop's.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "routing/link.hpp"
#include "routing/link_pool.hpp"
#include "routing/onion_cell.hpp"
#include "routing/onion_relay.hpp"
#include "routing/runtime.hpp"
#include "swarm/directory.hpp"

namespace nightjar {

enum class RequestError {
  no_directory,   // no directory yet
  unknown_node,   // a node of the path is not in the directory, or has no live onion key
  too_large,      // the request does not fit in a cell
  link_failed,    // the link to the first relay failed or closed
  relay_error,    // a relay answered with an error (see failed_hop and relay_code)
  timeout,        // no (complete) answer in time
  bad_reply,      // a reply cell that did not open
  overloaded,     // too many requests in flight
};
const char* to_string(RequestError e);

struct RequestFailure {
  RequestError error = RequestError::timeout;
  std::optional<std::size_t> failed_hop;  // index in relays + destination
  std::optional<NodeId> failed_node;      // the node that failed or was unreachable, if known
  std::uint8_t relay_code = 0;            // RelayErrorCode for relay_error
};

struct OnionClientConfig {
  LinkConfig link;  // prologue: the network ID
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_in_flight = 4096;
  Clock clock;  // unix ms, for onion key epochs
  std::shared_ptr<spdlog::logger> log;
  // Called with each request's path and bytes as its cell leaves (the
  // simnet's record of who used which path, for its adversary models).
  using RequestObserver = std::function<void(const std::vector<NodeId>& relays,
                                             const NodeId& destination, Bytes request)>;
  RequestObserver on_request;
};

class OnionClient {
 public:
  using Callback = std::function<void(Result<std::vector<std::uint8_t>, RequestFailure>)>;
  // One answer of a request the destination keeps open (a streamed long
  // poll): called for every segment before `done` gets the last answer.
  using SegmentHandler = std::function<void(std::vector<std::uint8_t>)>;

  OnionClient(uv_loop_t* loop, OnionClientConfig config, RandomSource& rng);
  ~OnionClient();
  OnionClient(const OnionClient&) = delete;
  OnionClient& operator=(const OnionClient&) = delete;

  void set_directory(std::shared_ptr<const Directory> d) { directory_ = std::move(d); }
  const std::shared_ptr<const Directory>& directory() const { return directory_; }
  // Offset to add to the local clock (learned from nodes' answers) when
  // choosing onion keys.
  void set_clock_offset_ms(std::int64_t offset) { clock_offset_ms_ = offset; }
  // Added to every request's timeout from now on: how much later an answer
  // may come when the network's relays hold cells for mixing delays.
  void set_timeout_allowance(std::chrono::milliseconds extra) { allowance_ = extra; }

  // Sends `request` over relays[0] -> ... -> destination. `done` is called
  // exactly once (never from inside send()).
  // `timeout` overrides the configured one (long polls wait longer).
  // Without `on_segment`, a segment (Responder::reply_segment) fails the
  // request with bad_reply: only a request that asked for them gets them.
  void send(const std::vector<NodeId>& relays, const NodeId& destination, Bytes request,
            Callback done, std::optional<std::chrono::milliseconds> timeout = std::nullopt,
            SegmentHandler on_segment = {});
  // Sends `request` over the path expecting no answer (a drop cover cell,
  // docs/ANONYMITY.md): nothing is kept, and a reply, were one to come, is
  // ignored. An error only when the cell could not be built or sent.
  Result<void, RequestError> send_oneway(const std::vector<NodeId>& relays,
                                         const NodeId& destination, Bytes request);
  // Requests waiting for an answer.
  std::size_t in_flight() const { return pending_.size(); }
  // Fails every pending request and closes the links.
  void close();

 private:
  struct Pending {
    std::vector<ReplyKey> reply_keys;
    std::vector<NodeId> path;
    std::vector<std::uint8_t> answer;
    std::uint64_t deadline_ms = 0;
    NodeId first_hop;
    ReplyWait wait;  // on the guard link, until the request is finished
    Callback done;
    SegmentHandler on_segment;
  };
  // A request's cell, ready for its guard link (which is dialled if need be).
  struct Prepared {
    std::vector<std::uint8_t> frame;
    std::vector<ReplyKey> reply_keys;
    std::vector<NodeId> path;  // relays, then the destination
    std::uint64_t id = 0;
    std::shared_ptr<Link> guard;  // the first relay's link, dialed if need be
  };
  Result<Prepared, RequestFailure> prepare(const std::vector<NodeId>& relays,
                                           const NodeId& destination, Bytes request);
  void handle_frame(Bytes frame);
  void handle_closed(const NodeId& guard);
  void finish(std::uint64_t id, Result<std::vector<std::uint8_t>, RequestFailure> r);
  void fail_later(Callback done, RequestFailure f);
  void tick();
  // Arms the expiry timer for a request due at `deadline_ms` (client clock)
  // if it is earlier than what the timer waits for.
  void arm_expiry(std::uint64_t deadline_ms);
  std::shared_ptr<Link> guard_link(const NodeId& node);
  void guard_queued(std::uint64_t id, Queued outcome);
  std::uint64_t now_ms() const;

  OnionClientConfig config_;
  RandomSource& rng_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const Directory> directory_;
  std::int64_t clock_offset_ms_ = 0;
  std::chrono::milliseconds allowance_{0};
  std::unordered_map<std::uint64_t, Pending> pending_;
  LinkPool<NodeId> guards_;  // links to first hops; frames tagged with the request id
  // tick() when the earliest request is due (at most a second ahead), not
  // every 20 ms: a client with nothing in flight does not wake at all.
  Timer expiry_;
  std::uint64_t expiry_at_ms_ = 0;  // what expiry_ is armed for; 0: not armed
  Scheduler jobs_;  // answers due, link handlers; last: cancelled first
};

}  // namespace nightjar
