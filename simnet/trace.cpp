#include "simnet/trace.hpp"

#include <uv.h>

#include <algorithm>
#include <variant>

#include "swarm/storage_messages.hpp"

namespace nightjar::simnet {

namespace {

using adversary::Party;
using adversary::RequestKind;

// A client's links: frames it sends to a node and frames a node sends it.
// Links to anything that is not a service node of the run (the authorities,
// from which the client fetches the directory) are not part of the models.
class ClientObserver final : public LinkObserver {
 public:
  ClientObserver(std::weak_ptr<RunTrace> trace, std::size_t client)
      : trace_(std::move(trace)), client_(static_cast<std::uint32_t>(client)) {}
  void frame(FrameDirection direction, const std::optional<X25519PublicKey>& peer,
             std::size_t wire_bytes) override {
    auto trace = trace_.lock();
    if (!trace || !trace->recording() || !peer) return;
    const auto node = trace->node_of(*peer);
    if (!node) return;
    if (direction == FrameDirection::out)
      trace->record(Party::client(client_), Party::node(*node), wire_bytes);
    else
      trace->record(Party::node(*node), Party::client(client_), wire_bytes);
  }

 private:
  std::weak_ptr<RunTrace> trace_;
  std::uint32_t client_;
};

// A node's links: frames it sends to another node are counted (client links
// are recorded by the clients' own observers, so each frame once).
class NodeObserver final : public LinkObserver {
 public:
  explicit NodeObserver(std::weak_ptr<RunTrace> trace) : trace_(std::move(trace)) {}
  void frame(FrameDirection direction, const std::optional<X25519PublicKey>& peer,
             std::size_t wire_bytes) override {
    if (direction != FrameDirection::out || !peer) return;
    auto trace = trace_.lock();
    if (!trace || !trace->recording() || !trace->node_of(*peer)) return;
    trace->count_node_frame(wire_bytes);
  }

 private:
  std::weak_ptr<RunTrace> trace_;
};

RequestKind kind_of(const storage::Request& r) {
  if (std::holds_alternative<storage::StoreRequest>(r)) return RequestKind::store;
  if (std::holds_alternative<storage::RetrieveRequest>(r)) return RequestKind::retrieve;
  if (std::holds_alternative<storage::LookupRequest>(r)) return RequestKind::lookup;
  if (const auto* c = std::get_if<storage::CoverRequest>(&r))
    return c->loop ? RequestKind::cover_loop : RequestKind::cover_drop;
  return RequestKind::other;
}

}  // namespace

void RunTrace::add_node(std::size_t index, const X25519PublicKey& link_key, const NodeId& id) {
  by_link_key_[link_key] = static_cast<std::uint32_t>(index);
  by_id_[id] = static_cast<std::uint32_t>(index);
}

std::optional<std::uint32_t> RunTrace::node_of(const X25519PublicKey& key) const {
  auto it = by_link_key_.find(key);
  if (it == by_link_key_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint32_t> RunTrace::node_of(const NodeId& id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

double RunTrace::now_ms() const {
  return static_cast<double>(static_cast<std::int64_t>(uv_hrtime() - origin_ns_)) / 1e6;
}

void RunTrace::record(Party from, Party to, std::size_t bytes) {
  const std::uint32_t client = from.is_client() ? from.index : to.index;
  if (client < client_bytes_.size()) client_bytes_[client] += bytes;
  if (frames_.size() >= max_frames_) {
    ++frames_dropped_;
    return;
  }
  frames_.push_back({now_ms(), from, to, static_cast<std::uint32_t>(bytes)});
}

void RunTrace::count_node_frame(std::size_t bytes) {
  ++node_link_frames_;
  node_link_bytes_ += bytes;
}

std::shared_ptr<LinkObserver> RunTrace::client_observer(std::size_t client) {
  return std::make_shared<ClientObserver>(weak_from_this(), client);
}

std::shared_ptr<LinkObserver> RunTrace::node_observer() {
  return std::make_shared<NodeObserver>(weak_from_this());
}

OnionClientConfig::RequestObserver RunTrace::request_observer(std::size_t client) {
  std::weak_ptr<RunTrace> weak = weak_from_this();
  return [weak, client](const std::vector<NodeId>& relays, const NodeId& destination,
                        Bytes request) {
    auto trace = weak.lock();
    if (!trace || !trace->recording_ || relays.empty()) return;
    const auto guard = trace->node_of(relays.front());
    const auto last = trace->node_of(relays.back());
    const auto dest = trace->node_of(destination);
    if (!guard || !last || !dest) return;
    adversary::RequestPath p;
    p.t_ms = trace->now_ms();
    p.client = static_cast<std::uint32_t>(client);
    p.guard = *guard;
    p.last_relay = *last;
    p.destination = *dest;
    MessageId store_id{};
    if (auto decoded = storage::decode_request(request)) {
      p.kind = kind_of(*decoded);
      if (const auto* s = std::get_if<storage::StoreRequest>(&*decoded))
        store_id = message_id(storage::mailbox_of(*s), s->body);
    }
    trace->requests_.push_back(p);
    trace->store_ids_.push_back(store_id);
  };
}

void RunTrace::attribute_stores(const std::vector<MessageRecord>& records) {
  std::unordered_map<MessageId, std::uint64_t, FixedBytesHash> owner;
  for (const auto& r : records)
    for (const auto& id : r.stored_ids)
      owner.emplace(id, r.plan.index);
  for (std::size_t i = 0; i < requests_.size(); ++i) {
    if (requests_[i].kind != RequestKind::store) continue;
    auto it = owner.find(store_ids_[i]);
    if (it != owner.end()) requests_[i].message = it->second;
  }
}

}  // namespace nightjar::simnet
