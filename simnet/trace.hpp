// RunTrace: what the simnet records while a run goes on, for its adversary
// models (simnet/adversary.hpp, docs/ANONYMITY.md):
// - every frame on every client link (client <-> node), with its time, its
//   two ends and its length on the wire, through a LinkObserver on each
//   client's links (routing/link.hpp); in-process, node-to-node frames are
//   counted through each node's observer;
// - every request each client sent, with its path (guard, relays,
//   destination) and, for stores, the storage ID, through
//   ClientOptions::on_request; attribute_stores() later names the planned
//   message each store carried.
//
// Frames are recorded only while recording is on (the workload and the
// drain) and at most `max_frames` of them; times are milliseconds since the
// origin (the workload's start) on the monotonic clock (uv_hrtime), as
// MessageRecord's. Everything runs on the simnet's loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "client/onion_client.hpp"
#include "node/peer_links.hpp"
#include "routing/link.hpp"
#include "simnet/adversary.hpp"
#include "simnet/report.hpp"

namespace nightjar::simnet {

class RunTrace : public std::enable_shared_from_this<RunTrace> {
 public:
  explicit RunTrace(std::size_t max_frames = 20'000'000) : max_frames_(max_frames) {}

  // Times are measured from `ns` (uv_hrtime) on.
  void set_origin(std::uint64_t ns) { origin_ns_ = ns; }
  void set_recording(bool on) { recording_ = on; }
  bool recording() const { return recording_; }

  // Node `index` has this link key and node ID (both known before it starts).
  void add_node(std::size_t index, const X25519PublicKey& link_key, const NodeId& id);
  // The run has this many clients (numbered from 0).
  void set_clients(std::size_t count) { client_bytes_.assign(count, 0); }

  std::shared_ptr<LinkObserver> client_observer(std::size_t client);
  // Node links are only counted (frames and bytes, all nodes together).
  std::shared_ptr<LinkObserver> node_observer();
  OnionClientConfig::RequestObserver request_observer(std::size_t client);

  // Sets RequestPath::message on every store request whose storage ID is
  // one of a planned message's fragments.
  void attribute_stores(const std::vector<MessageRecord>& records);

  const std::vector<adversary::FrameEvent>& frames() const { return frames_; }
  const std::vector<adversary::RequestPath>& requests() const { return requests_; }
  std::uint64_t frames_dropped() const { return frames_dropped_; }  // over max_frames
  std::uint64_t node_link_frames() const { return node_link_frames_; }
  std::uint64_t node_link_bytes() const { return node_link_bytes_; }
  // Frames and bytes each client's links carried while recording (both
  // directions): the cost side of cover traffic.
  const std::vector<std::uint64_t>& client_bytes() const { return client_bytes_; }

  double now_ms() const;
  void record(adversary::Party from, adversary::Party to, std::size_t bytes);
  void count_node_frame(std::size_t bytes);
  std::optional<std::uint32_t> node_of(const X25519PublicKey& key) const;
  std::optional<std::uint32_t> node_of(const NodeId& id) const;

 private:
  std::size_t max_frames_;
  std::uint64_t origin_ns_ = 0;
  bool recording_ = false;
  std::unordered_map<X25519PublicKey, std::uint32_t, LinkKeyHash> by_link_key_;
  std::unordered_map<NodeId, std::uint32_t, FixedBytesHash> by_id_;
  std::vector<adversary::FrameEvent> frames_;
  std::vector<adversary::RequestPath> requests_;
  std::vector<MessageId> store_ids_;  // parallel to requests_ (zero for non-stores)
  std::vector<std::uint64_t> client_bytes_;
  std::uint64_t frames_dropped_ = 0, node_link_frames_ = 0, node_link_bytes_ = 0;
};

}  // namespace nightjar::simnet
