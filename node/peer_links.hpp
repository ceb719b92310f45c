// PeerLinks: a node's outgoing control links to other nodes and authorities
// (directory registration and fetches, votes, replication), one per peer,
// keyed by the peer's link key: a LinkPool (routing/link_pool.hpp) that dials
// on demand and queues frames (a bounded number) until the handshake. Every
// frame that arrives on these links goes to one handler, the same one that
// handles frames on accepted links, so request/response code does not care
// who dialed.
//
// Onion cells do not use these links: the relay has a pool of its own.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "routing/link.hpp"
#include "routing/link_pool.hpp"

namespace nightjar {

using PeerAddress = PeerInfo;
using LinkKeyHash = FixedBytesHash;

class PeerLinks {
 public:
  using FrameHandler = std::function<void(Link&, Bytes)>;
  // A peer's link closed; `undelivered` frames were still queued for it.
  using ClosedHandler = std::function<void(const X25519PublicKey& peer, CloseReason, std::size_t undelivered)>;

  PeerLinks(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> identity, LinkConfig config,
            FrameHandler on_frame, std::size_t max_pending_per_peer = 1024);
  PeerLinks(const PeerLinks&) = delete;
  PeerLinks& operator=(const PeerLinks&) = delete;

  // Sends (or queues until the link is up). False when the frame cannot be
  // queued: too many pending frames, or the link's write queue is full.
  bool send(const PeerAddress& to, Bytes frame);
  // The established link to this peer, if there is one.
  std::shared_ptr<Link> established(const X25519PublicKey& peer) const {
    return pool_.established(peer);
  }
  // Drops the link to one peer (e.g. after its address changed).
  void close(const X25519PublicKey& peer) { pool_.close(peer); }
  void close_all() { pool_.close_all(); }
  void set_closed_handler(ClosedHandler h) { on_closed_ = std::move(h); }
  std::size_t size() const { return pool_.size(); }

 private:
  FrameHandler on_frame_;
  ClosedHandler on_closed_;
  LinkPool<X25519PublicKey> pool_;
};

}  // namespace nightjar
