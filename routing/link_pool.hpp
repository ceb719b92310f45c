// LinkPool: outgoing links, one per peer, dialed on demand. The one place
// that dials, queues while connecting, flushes and fails what waited: the
// relay's links to next hops (keyed by node ID), the node's control links to
// peers and authorities (keyed by link key) and the client's guard links.
//
// - dial(key, peer) returns the peer's link, dialing it if there is none, or
//   if the peer's address changed (the old link is closed).
// - send(key, frame, tag) sends at once on an established link; before the
//   handshake the frame waits in a queue of at most `max_queued` frames, sent
//   in order when the handshake completes. It answers with what it did and
//   the peer's link, so a caller that needs the link (to await a reply on it)
//   does not look the peer up again.
// - Every queued frame is reported exactly once through on_queued(tag,
//   outcome): sent at the flush, refused by the link then, or lost with the
//   link (closed before its handshake completed, or by close/close_all).
//   Frames sent at once are not reported: send()'s answer says.
// - on_closed(key, link, reason, unsent) comes after the `unsent` frames
//   still queued for that link were reported; the entry is gone by then, so a
//   new send() dials again.
//   Links close themselves when idle (LinkConfig::idle_timeout).
//
// Handlers never run after the pool is destroyed, or for a link the pool
// closed itself (close, close_all). Everything runs on the loop's thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "routing/endpoint.hpp"
#include "routing/link.hpp"
#include "routing/runtime.hpp"

namespace nightjar {

// Where a peer listens and the static key its link must prove.
struct PeerInfo {
  Endpoint endpoint;
  X25519PublicKey link_key;
};

// Hash for the fixed-size keys (node IDs, link keys): already uniform.
struct FixedBytesHash {
  template <std::size_t N, class Tag>
  std::size_t operator()(const FixedBytes<N, Tag>& k) const noexcept {
    static_assert(N >= sizeof(std::size_t));
    std::size_t h;
    std::memcpy(&h, k.data(), sizeof h);
    return h;
  }
};

enum class Queued { sent, refused, lost };

enum class PoolSend {
  sent,        // handed to the established link
  queued,      // waits for the handshake; on_queued reports it later
  queue_full,  // max_queued frames already wait for this peer
  refused,     // the link refused it (its write queue is full, or it is closing)
  no_link,     // nothing was dialed for this key
};

struct PoolSendResult {
  PoolSend status = PoolSend::no_link;
  Link* link = nullptr;  // the peer's link (the frame went or waits for it); null: no_link
};

template <class Key, class Hash = FixedBytesHash>
class LinkPool {
 public:
  struct Handlers {
    std::function<void(Link&, Bytes)> on_frame;
    std::function<void(std::uint64_t tag, Queued outcome)> on_queued;
    std::function<void(const Key&, Link&, CloseReason, std::size_t unsent)> on_closed;
  };

  // `identity` is null for a client (an anonymous link).
  LinkPool(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> identity, LinkConfig config,
           std::size_t max_queued, Handlers handlers)
      : loop_(loop),
        identity_(std::move(identity)),
        config_(std::move(config)),
        max_queued_(max_queued),
        handlers_(std::move(handlers)),
        jobs_(loop) {}
  ~LinkPool() { close_all(); }
  LinkPool(const LinkPool&) = delete;
  LinkPool& operator=(const LinkPool&) = delete;

  std::shared_ptr<Link> dial(const Key& key, const PeerInfo& peer) {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (it->second.endpoint == peer.endpoint) return it->second.link;
      close(key);  // the peer moved: start over
    }
    Entry e;
    e.endpoint = peer.endpoint;
    e.link = Link::dial(loop_, peer.endpoint, peer.link_key, identity_, config_, link_handlers(key));
    return entries_.insert_or_assign(key, std::move(e)).first->second.link;
  }

  PoolSendResult send(const Key& key, Bytes frame, std::uint64_t tag = 0) {
    auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.link) return {PoolSend::no_link, nullptr};
    Entry& e = it->second;
    Link* link = e.link.get();
    if (link->established() && e.queued.empty())
      return {link->send(frame) == SendStatus::ok ? PoolSend::sent : PoolSend::refused, link};
    if (e.queued.size() >= max_queued_) return {PoolSend::queue_full, link};
    e.queued.push_back(Waiting{tag, {frame.begin(), frame.end()}});
    return {PoolSend::queued, link};
  }

  // The link to this peer, established or still connecting.
  std::shared_ptr<Link> find(const Key& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : it->second.link;
  }
  std::shared_ptr<Link> established(const Key& key) const {
    auto l = find(key);
    return l && l->established() ? l : nullptr;
  }
  std::size_t queued(const Key& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? 0 : it->second.queued.size();
  }

  // Closes the link to one peer; its queued frames are reported unsent, its
  // on_closed does not come.
  void close(const Key& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry e = std::move(it->second);
    entries_.erase(it);
    if (e.link) e.link->close();
    report_unsent(e.queued);
  }
  void close_all() {
    auto entries = std::move(entries_);
    entries_.clear();
    for (auto& [key, e] : entries)
      if (e.link) e.link->close();
    for (auto& [key, e] : entries) report_unsent(e.queued);
  }

  std::size_t size() const { return entries_.size(); }
  template <class F>
  void for_each_link(F&& f) const {
    for (const auto& [key, e] : entries_)
      if (e.link) f(key, *e.link);
  }

 private:
  struct Waiting {
    std::uint64_t tag;
    std::vector<std::uint8_t> frame;
  };
  struct Entry {
    std::shared_ptr<Link> link;
    Endpoint endpoint;
    std::deque<Waiting> queued;
  };

  Link::Handlers link_handlers(const Key& key) {
    Link::Handlers h;
    h.on_established = jobs_.bind([this, key](Link& l) {
      auto it = entries_.find(key);
      if (it == entries_.end() || it->second.link.get() != &l) return;
      auto queued = std::move(it->second.queued);
      it->second.queued.clear();
      // A report may close this link or destroy the pool: check each time.
      const auto life = jobs_.lifetime();
      for (auto& q : queued) {
        if (life.expired()) return;
        const bool sent = l.send(q.frame) == SendStatus::ok;
        if (handlers_.on_queued) handlers_.on_queued(q.tag, sent ? Queued::sent : Queued::refused);
      }
    });
    h.on_frame = jobs_.bind([this](Link& l, Bytes f) {
      if (handlers_.on_frame) handlers_.on_frame(l, f);
    });
    h.on_closed = jobs_.bind([this, key](Link& l, CloseReason why) {
      auto it = entries_.find(key);
      if (it == entries_.end() || it->second.link.get() != &l) return;
      Entry e = std::move(it->second);
      entries_.erase(it);
      const auto life = jobs_.lifetime();
      report_unsent(e.queued);
      if (!life.expired() && handlers_.on_closed) handlers_.on_closed(key, l, why, e.queued.size());
    });
    return h;
  }

  void report_unsent(std::deque<Waiting>& queued) {
    const auto life = jobs_.lifetime();
    for (auto& q : queued) {
      if (life.expired() || !handlers_.on_queued) return;
      handlers_.on_queued(q.tag, Queued::lost);
    }
  }

  uv_loop_t* loop_;
  std::shared_ptr<const X25519KeyPair> identity_;
  LinkConfig config_;
  std::size_t max_queued_;
  Handlers handlers_;
  std::unordered_map<Key, Entry, Hash> entries_;
  Scheduler jobs_;  // binds the link handlers; last: gone first
};

}  // namespace nightjar
