// PeerLinks: a node's outgoing control links to other nodes and authorities
// (directory registration and fetches, votes, replication), one per peer,
// dialed on demand and keyed by the peer's link key. Frames sent before the
// handshake completes wait in a bounded queue. Every frame that arrives on
// these links goes to one handler, the same one that handles frames on
// accepted links, so request/response code does not care who dialed.
//
// Onion cells do not use this: routing/onion_relay.hpp keeps its own links.
#pragma once

#include <uv.h>

#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "routing/link.hpp"

namespace nightjar {

struct PeerAddress {
  Endpoint endpoint;
  X25519PublicKey link_key;
};

struct LinkKeyHash {
  std::size_t operator()(const X25519PublicKey& k) const noexcept {
    std::size_t h;
    std::memcpy(&h, k.data(), sizeof h);
    return h;
  }
};

class PeerLinks {
 public:
  using FrameHandler = std::function<void(Link&, Bytes)>;
  // A peer's link closed; `undelivered` frames were still queued for it.
  using ClosedHandler = std::function<void(const X25519PublicKey& peer, CloseReason, std::size_t undelivered)>;

  PeerLinks(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> identity, LinkConfig config,
            FrameHandler on_frame, std::size_t max_pending_per_peer = 1024);
  ~PeerLinks();
  PeerLinks(const PeerLinks&) = delete;
  PeerLinks& operator=(const PeerLinks&) = delete;

  // Sends (or queues until the link is up). False when the frame cannot be
  // queued: too many pending frames, or the link's write queue is full.
  bool send(const PeerAddress& to, Bytes frame);
  // The established link to this peer, if there is one.
  std::shared_ptr<Link> established(const X25519PublicKey& peer) const;
  // Drops the link to one peer (e.g. after its address changed).
  void close(const X25519PublicKey& peer);
  void close_all();
  void set_closed_handler(ClosedHandler h) { on_closed_ = std::move(h); }
  std::size_t size() const { return peers_.size(); }

 private:
  struct Peer {
    std::shared_ptr<Link> link;
    Endpoint endpoint;
    std::deque<std::vector<std::uint8_t>> pending;
  };
  Peer& connect(const PeerAddress& to);

  uv_loop_t* loop_;
  std::shared_ptr<const X25519KeyPair> identity_;
  LinkConfig config_;
  FrameHandler on_frame_;
  ClosedHandler on_closed_;
  std::size_t max_pending_;
  std::unordered_map<X25519PublicKey, Peer, LinkKeyHash> peers_;
};

}  // namespace nightjar
