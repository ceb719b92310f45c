#include "node/peer_links.hpp"

namespace nightjar {

PeerLinks::PeerLinks(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> identity,
                     LinkConfig config, FrameHandler on_frame, std::size_t max_pending_per_peer)
    : loop_(loop),
      identity_(std::move(identity)),
      config_(std::move(config)),
      on_frame_(std::move(on_frame)),
      max_pending_(max_pending_per_peer) {}

PeerLinks::~PeerLinks() { close_all(); }

PeerLinks::Peer& PeerLinks::connect(const PeerAddress& to) {
  auto it = peers_.find(to.link_key);
  if (it != peers_.end()) {
    // A new address for the same key (the node moved): start over.
    if (it->second.link && it->second.endpoint.to_string() == to.endpoint.to_string())
      return it->second;
    close(to.link_key);
  }
  const X25519PublicKey key = to.link_key;
  Link::Handlers h;
  h.on_established = [this, key](Link& l) {
    auto p = peers_.find(key);
    if (p == peers_.end() || p->second.link.get() != &l) return;
    while (!p->second.pending.empty()) {
      if (l.send(p->second.pending.front()) != SendStatus::ok) break;
      p->second.pending.pop_front();
    }
  };
  h.on_frame = [this](Link& l, Bytes f) {
    if (on_frame_) on_frame_(l, f);
  };
  h.on_closed = [this, key](Link& l, CloseReason why) {
    auto p = peers_.find(key);
    if (p == peers_.end() || p->second.link.get() != &l) return;
    const std::size_t undelivered = p->second.pending.size();
    peers_.erase(p);
    if (on_closed_) on_closed_(key, why, undelivered);
  };
  Peer peer;
  peer.endpoint = to.endpoint;
  peer.link = Link::dial(loop_, to.endpoint, to.link_key, identity_, config_, std::move(h));
  return peers_.insert_or_assign(key, std::move(peer)).first->second;
}

bool PeerLinks::send(const PeerAddress& to, Bytes frame) {
  Peer& p = connect(to);
  if (!p.link) return false;
  if (p.link->established() && p.pending.empty()) return p.link->send(frame) == SendStatus::ok;
  if (p.pending.size() >= max_pending_) return false;
  p.pending.emplace_back(frame.begin(), frame.end());
  return true;
}

std::shared_ptr<Link> PeerLinks::established(const X25519PublicKey& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.link || !it->second.link->established()) return nullptr;
  return it->second.link;
}

void PeerLinks::close(const X25519PublicKey& peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  auto link = std::move(it->second.link);
  peers_.erase(it);
  if (link) {
    link->set_handlers({});
    link->close();
  }
}

void PeerLinks::close_all() {
  auto peers = std::move(peers_);
  peers_.clear();
  for (auto& [key, p] : peers) {
    if (!p.link) continue;
    p.link->set_handlers({});
    p.link->close();
  }
}

}  // namespace nightjar
