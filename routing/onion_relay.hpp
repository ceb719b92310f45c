// OnionRelay: a node's part in carrying onion cells over links. It peels each
// cell that arrives, forwards it to the next hop over an outgoing link (dialed
// on demand), remembers where the reply must go, and re-encrypts replies on
// their way back. At the destination it hands the request to the
// application, which answers through a Responder, now or later (long polls).
//
// Request IDs are local to one link: every hop picks a fresh random ID for the
// next link, so no field crosses two links unchanged. The relay table is
// bounded and its entries expire; a cell that cannot be forwarded (unknown or
// unreachable next hop, full table or queue) is answered with an error reply.
// Each entry awaits its reply on the outgoing link (ReplyWait), so that link
// notices a next hop gone silent (link.hpp, liveness) and closes; the cells
// stranded on a closed link are answered with next_hop_unreachable.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "routing/frame.hpp"
#include "routing/link.hpp"
#include "routing/link_pool.hpp"
#include "routing/onion_cell.hpp"

namespace nightjar {

using NodeIdHash = FixedBytesHash;

// How a relay finds the next hop. The directory (swarm/) implements it.
class PeerDirectory {
 public:
  virtual ~PeerDirectory() = default;
  virtual std::optional<PeerInfo> lookup(const NodeId& node) const = 0;
};

// Codes of ReplyKind::relay_error replies.
enum class RelayErrorCode : std::uint8_t {
  unknown_next_hop = 1,
  next_hop_unreachable = 2,
  overloaded = 3,
};
const char* to_string(RelayErrorCode c);

struct RelayConfig {
  std::size_t cell_bytes = onion::default_cell_bytes;
  std::size_t max_entries = 1u << 16;              // relay table entries
  std::chrono::seconds entry_ttl{120};             // longer than the longest long poll
  std::size_t max_pending_per_peer = 256;          // cells waiting for a link to connect
  std::size_t replay_entries_per_epoch = 1u << 22;
  // Mixing delays (set_mixing): cells and reply cells held at once; a cell
  // beyond it is answered 'overloaded', a reply cell beyond it goes at once.
  std::size_t max_mix_held = 16384;
  // Tests: each released cell's drawn delay and the time it was actually
  // held (which adds the loop's lateness).
  std::function<void(std::chrono::microseconds drawn, std::chrono::microseconds held)>
      on_mix_released;
  LinkConfig link;                                 // for outgoing links
  Clock clock;                                     // wall time: onion key epochs
  // Called after rotation added or dropped onion keys (the node saves them
  // and publishes a new descriptor).
  std::function<void(const OnionKeyring&)> on_keys_changed;
};

struct RelayStats {
  std::uint64_t cells_in = 0;
  std::uint64_t cells_forwarded = 0;
  std::uint64_t cells_delivered = 0;
  std::uint64_t replies_forwarded = 0;
  std::uint64_t replies_sent = 0;
  std::uint64_t error_replies = 0;
  std::uint64_t replies_dropped = 0;  // no entry (expired, unknown) or wrong link
  std::uint64_t dropped[8] = {};      // by PeelDrop
  std::uint64_t dropped_bad_frame = 0;
  std::uint64_t dropped_unforwardable = 0;  // by RelayErrorCode, summed
  // Mixing delays: cells and reply cells held and released, the time they
  // were actually held (microseconds, summed and the longest), those turned
  // away or sent at once because max_mix_held were held, and those whose
  // route was gone by their release.
  std::uint64_t mix_held = 0;
  std::uint64_t mix_released = 0;
  std::uint64_t mix_held_us_sum = 0;
  std::uint64_t mix_held_us_max = 0;
  std::uint64_t mix_overflow = 0;
  std::uint64_t mix_stale = 0;
};

class OnionRelay;

// Answers one delivered request. Move-only; a reply sent after the relay or
// the previous link is gone is dropped quietly.
class Responder {
 public:
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&&) noexcept = default;
  // Splits `data` over as many reply cells as needed; the last one is marked
  // (onion_reply_last) and ends the request.
  bool reply(Bytes data);
  // One answer of a request that stays open (a streamed long poll): `data`
  // over as many onion_reply cells as needed, the last one carrying the
  // response code reply_segment_end inside its encryption, so relays see
  // nothing but more reply cells. reply() sends the request's last answer.
  bool reply_segment(Bytes data);
  std::size_t max_cell_data() const;

 private:
  friend class OnionRelay;
  bool send_cells(Bytes data, bool ends_request);
  Responder(std::weak_ptr<Link> prev, std::uint64_t id, ReplyKey key, std::size_t cell_bytes,
            std::weak_ptr<RelayStats> stats)
      : prev_(std::move(prev)), id_(id), key_(std::move(key)), cell_bytes_(cell_bytes),
        stats_(std::move(stats)) {}
  std::weak_ptr<Link> prev_;
  std::uint64_t id_;
  ReplyKey key_;
  std::size_t cell_bytes_;
  std::weak_ptr<RelayStats> stats_;
};

class OnionRelay {
 public:
  using DeliverHandler = std::function<void(Bytes request, Responder responder)>;

  OnionRelay(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> link_identity,
             OnionKeyring keys, const PeerDirectory& directory, RelayConfig config,
             DeliverHandler on_deliver);
  ~OnionRelay();
  OnionRelay(const OnionRelay&) = delete;
  OnionRelay& operator=(const OnionRelay&) = delete;

  // Feed every frame from any link here. Returns false if the frame is not an
  // onion frame (the caller may handle other types).
  bool handle_frame(Link& from, Bytes frame);
  // Answers an onion_cell frame with a relay error instead of handling it
  // (a node over its rate limit refuses with `overloaded`). The cell is
  // peeled for its reply key, so that the answer reaches the client; one
  // that does not peel is dropped and counted as in handle_frame. False if
  // `frame` is not an onion cell frame of the network's size.
  bool refuse_cell(Link& from, Bytes frame, RelayErrorCode code);

  // Rotates onion keys and forgets the replay tags of expired epochs; the
  // relay's own timer calls this every second, tests may call it directly.
  void maintain();
  // Closes outgoing links and stops the timer.
  void close();

  const OnionKeyring& keyring() const { return keys_; }
  // The network's cell size changed (a new directory): cells of the old size
  // are dropped from now on.
  void set_cell_bytes(std::size_t cell_bytes) { config_.cell_bytes = cell_bytes; }
  // Mixing delays (NetworkParams::defences, docs/ANONYMITY.md): from now on
  // each cell forwarded and each reply cell passed back is held for a
  // random delay, exponential with mean `mean`, cut at `bound`; the reply
  // cells of one request keep their order. A zero mean turns delays off;
  // cells already held still wait their time.
  void set_mixing(std::chrono::milliseconds mean, std::chrono::milliseconds bound);
  std::size_t mix_held_now() const { return held_.size(); }
  std::size_t cell_bytes() const { return config_.cell_bytes; }
  const RelayStats& stats() const { return *stats_; }
  std::size_t entries() const { return table_.size(); }
  std::size_t outgoing_links() const { return peers_.size(); }
  // Replies awaited on the open outgoing links (Link::awaiting, summed): zero
  // once every forwarded cell was answered, failed or expired.
  std::size_t awaiting_replies() const;
  std::size_t replay_memory_bytes() const { return replay_.memory_bytes(); }

 private:
  struct Entry {
    std::weak_ptr<Link> prev;
    std::uint64_t prev_id = 0;
    ReplyWait next;  // the outgoing link, awaiting the reply while the entry lives
    ReplyKey key;
    std::uint64_t expires = 0;
    std::uint64_t reply_due_us = 0;  // mixing: the last held reply cell's release
    std::uint32_t replies_held = 0;  // reply cells of this entry still held
  };
  // A cell or reply cell held for its mixing delay.
  struct Held {
    std::uint64_t due_us = 0;   // uv_hrtime, microseconds
    std::uint64_t seq = 0;      // ties: first held, first released
    std::uint64_t since_us = 0;
    bool reply = false;
    std::uint64_t out_id = 0;  // its entry
    NodeId next;               // a cell: the next hop
    std::weak_ptr<Link> prev;  // a reply cell: where it goes
    std::vector<std::uint8_t> frame;
  };
  struct HeldLater {
    bool operator()(const Held& a, const Held& b) const {
      return a.due_us != b.due_us ? a.due_us > b.due_us : a.seq > b.seq;
    }
  };

  void handle_cell(Link& from, std::uint64_t id, Bytes cell);
  void peel_and_forward(Link& from, std::uint64_t id, Bytes cell, std::vector<std::uint8_t>& out);
  void handle_reply(Link& from, FrameType type, std::uint64_t id, Bytes cell);
  void forward(const NodeId& next, const PeerInfo& peer, std::uint64_t out_id, Entry& entry,
               Bytes frame);
  std::uint64_t fresh_out_id();
  void fail_entry(std::uint64_t out_id, RelayErrorCode code);
  void send_error(Link& to, std::uint64_t id, const ReplyKey& key, RelayErrorCode code);
  void peer_queued(std::uint64_t out_id, Queued outcome);
  void peer_closed(Link& link);
  void expire_entries();
  std::uint64_t now() const;
  std::uint64_t random_u64();
  std::uint64_t draw_delay_us();
  void hold(Held h);
  void release_held();
  void arm_mix_timer(std::uint64_t now_us);

  uv_loop_t* loop_;
  std::shared_ptr<const X25519KeyPair> link_identity_;
  OnionKeyring keys_;
  ReplayCache replay_;
  const PeerDirectory& directory_;
  RelayConfig config_;
  DeliverHandler on_deliver_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<RelayStats> stats_ = std::make_shared<RelayStats>();

  std::unordered_map<std::uint64_t, Entry> table_;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> expiry_;  // (expires, out id), in order
  LinkPool<NodeId> peers_;  // to next hops; frames tagged with their out id
  std::vector<std::uint8_t> scratch_;
  std::vector<std::uint8_t> frame_buf_;  // lent to handle_cell
  std::array<std::uint64_t, 32> random_ids_{};  // random_u64's batch
  std::size_t random_ids_left_ = 0;
  std::uint64_t mix_mean_us_ = 0, mix_bound_us_ = 0;  // 0: no mixing
  std::vector<Held> held_;                            // a heap: HeldLater
  std::uint64_t held_seq_ = 0;
  Timer mix_timer_;  // the earliest release
  Scheduler jobs_;  // maintain() every second; last: cancelled first
};

}  // namespace nightjar
