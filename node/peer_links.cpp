#include "node/peer_links.hpp"

namespace nightjar {

PeerLinks::PeerLinks(uv_loop_t* loop, std::shared_ptr<const X25519KeyPair> identity,
                     LinkConfig config, FrameHandler on_frame, std::size_t max_pending_per_peer)
    : on_frame_(std::move(on_frame)),
      pool_(loop, std::move(identity), std::move(config), max_pending_per_peer,
            {.on_frame =
                 [this](Link& l, Bytes f) {
                   if (on_frame_) on_frame_(l, f);
                 },
             .on_queued = {},
             .on_closed =
                 [this](const X25519PublicKey& key, Link&, CloseReason why, std::size_t unsent) {
                   if (on_closed_) on_closed_(key, why, unsent);
                 }}) {}

bool PeerLinks::send(const PeerAddress& to, Bytes frame) {
  if (!pool_.dial(to.link_key, to)) return false;
  switch (pool_.send(to.link_key, frame).status) {
    case PoolSend::sent:
    case PoolSend::queued: return true;
    default: return false;
  }
}

}  // namespace nightjar
