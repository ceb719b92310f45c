// Node: one Nightjar service node (or directory authority) on an event loop.
// It owns the node's keys, its listener, its onion relay, its view of the
// directory, and the role-specific parts: the directory client on a service
// node, the Authority on an authority. No globals: a process may run many
// Nodes on one loop (the simnet does), each with its own data directory.
//
// nightjar-node (node/main.cpp) is a thin command line around this class.
#pragma once

#include <uv.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "node/authority.hpp"
#include "node/directory_client.hpp"
#include "node/directory_state.hpp"
#include "node/peer_links.hpp"
#include "node/rate_limit.hpp"
#include "node/storage_service.hpp"
#include "routing/frame_registry.hpp"
#include "routing/onion_relay.hpp"
#include "routing/runtime.hpp"
#include "swarm/message_store.hpp"
#include "swarm/replication.hpp"

namespace nightjar {

struct NodeOptions {
  std::filesystem::path data_dir;
  Endpoint listen;                        // port 0: any free port
  std::optional<Endpoint> public_address; // default: the listen address and port
  bool authority = false;
  // Service nodes: the network to join. Authorities: the network they serve
  // (they must be listed in it); for a new single-authority network, leave
  // it empty: create() loads DATA-DIR/network.conf if there is one;
  // otherwise it makes a new network ID, and start() writes
  // DATA-DIR/network.conf, listing this authority, once it listens.
  std::optional<NetworkConfig> network;
  NetworkParams params;  // authorities: the parameters they publish
  ListenerOptions listener;
  StoreOptions store;             // service nodes: limits of the local store
  ReplicationConfig replication;  // intervals and bounds (clock and log are set by the node)
  LinkConfig link;       // prologue is set from the network ID
  RelayConfig relay;     // service nodes: bounds (cell size, link and clock are set by the node)
  std::size_t max_long_polls = 20'000;  // service nodes: retrieves waiting at once
  RateLimitOptions rate_limits;         // per link, on every frame that arrives
  Clock clock;  // unix milliseconds; default: system clock
  // Fault injection (tests, the simnet): replication frames to or from a
  // peer for which this returns false are dropped, as in a partition.
  std::function<bool(const NodeId& peer)> replication_filter;
  std::shared_ptr<spdlog::logger> log;
};

class Node {
 public:
  // Loads or creates the keys in data_dir. Throws nothing; errors are messages
  // for the operator.
  static Result<std::unique_ptr<Node>, std::string> create(uv_loop_t* loop, NodeOptions options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Binds the listener and starts the node's timers.
  Result<void, std::string> start();
  // Closes the listener and every link and stops the timers; the loop then
  // runs out of handles.
  void stop();

  const NodeId& id() const { return identity_->pub; }
  const X25519PublicKey& link_key() const { return link_identity_->pub; }
  Endpoint address() const;  // the public address, with the bound port
  bool is_authority() const { return authority_ != nullptr; }
  bool keys_created() const { return keys_created_; }

  DirectoryState& directory() { return *state_; }
  const OnionRelay* relay() const { return relay_.get(); }
  const DirectoryClient* directory_client() const { return client_.get(); }
  const Authority* authority() const { return authority_.get(); }
  MessageStore* store() { return store_.get(); }
  const Replicator* replicator() const { return replicator_.get(); }
  const StorageService* storage() const { return storage_.get(); }
  // Open links, for metrics: accepted from nodes and clients, and control
  // links this node dialed (the relay's own: relay()->outgoing_links()).
  std::size_t accepted_links() { return listener_ ? listener_->link_count() : 0; }
  std::size_t control_links() const { return peers_ ? peers_->size() : 0; }
  const RateLimitStats& rate_limit_stats() const { return limiter_.stats(); }

  // This authority's line for a network config ("authority = ...").
  AuthorityInfo authority_info(const std::string& name) const;
  // The encoded, freshly signed descriptor of this (service) node.
  std::vector<std::uint8_t> descriptor() const;

 private:
  Node(uv_loop_t* loop, NodeOptions options);
  void dispatch(Link& from, Bytes frame);
  void replicate(Link& from, Bytes frame);
  bool admit(Link& from, Bytes frame);
  LinkClass link_class(const Link& link) const;
  void on_link_closed(Link& link);
  void on_directory(const Directory* previous, const Directory& current);
  void tick();
  Result<void, std::string> start_service_node();
  std::uint64_t now_ms() const { return options_.clock.unix_ms(); }

  uv_loop_t* loop_;
  NodeOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const Ed25519KeyPair> identity_;
  std::shared_ptr<const X25519KeyPair> link_identity_;
  bool keys_created_ = false;
  std::uint16_t bound_port_ = 0;

  std::unique_ptr<DirectoryState> state_;
  std::unique_ptr<PeerLinks> peers_;
  std::unique_ptr<LinkListener> listener_;
  std::unique_ptr<OnionRelay> relay_;
  std::unique_ptr<DirectoryClient> client_;
  std::unique_ptr<Authority> authority_;
  std::unique_ptr<MessageStore> store_;
  std::unique_ptr<ReplicationTransport> transport_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<StorageService> storage_;
  std::uint64_t next_sweep_ms_ = 0;
  LinkRateLimiter limiter_;
  FrameRegistry frames_;  // every frame type this node handles, and who handles it
  Timer pad_timer_;       // poll padding: StorageService::pad() every period
  Scheduler jobs_;  // tick() every 100 ms; last: cancelled first
};

}  // namespace nightjar
