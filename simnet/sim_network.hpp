// SimNetwork: the authorities and service nodes of one simnet run, started
// on this machine and stopped again, in one of two modes with the same node
// code: InprocNetwork (many nightjar::Node objects on the simnet's own loop)
// and ProcessNetwork (one nightjar-node process each). The runner
// (runner.hpp) starts it, waits until every node is listed, kills and
// restarts nodes and applies other faults as the schedule says, and at the
// end asks it for the nodes' figures and the replicas they hold.
//
// Everything runs on the simnet's loop thread. Nodes are numbered 0..N-1 and
// named node0..node<N-1>; their keys are made before they first start, so their
// IDs are known from the beginning.
#pragma once

#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "simnet/report.hpp"
#include "simnet/scenario.hpp"
#include "swarm/directory.hpp"
#include "swarm/message_store.hpp"

namespace spdlog {
class logger;
}

namespace nightjar::simnet {

class RunTrace;

struct SimNode {
  std::string name;
  NodeId id;
  X25519PublicKey link_key;
  std::filesystem::path data_dir;  // process mode: its log is data_dir/node.log
  std::uint16_t port = 0;
  bool running = false;
  std::uint32_t restarts = 0;
};

// The message IDs one node holds, by recipient.
using HeldMessages = std::map<Ed25519PublicKey, std::set<MessageId>>;

class SimNetwork {
 public:
  virtual ~SimNetwork() = default;

  // Creates keys and data directories under the run directory and starts the
  // authorities and nodes. Errors are for the researcher.
  virtual Result<void, std::string> start() = 0;
  // The newest directory the simnet knows of (null before the first).
  virtual std::shared_ptr<const Directory> directory() const = 0;
  // True when the network can take traffic: the directory lists every node
  // (in-process: and every running node holds such a directory).
  virtual bool ready() const = 0;
  // A failure after start() returned (a node that could not be created).
  const std::string& error() const { return error_; }

  // Starts the nodes start() held back (a Sybil adversary's, Scenario::
  // adversary): numbered from Scenario::nodes on.
  virtual Result<void, std::string> join_held_back() = 0;
  // Nodes that start() does not start (joining later).
  std::size_t held_back() const { return held_back_; }
  // The first held-back node's index: the nodes start() starts come before.
  std::size_t first_held_back() const { return nodes_.size() - held_back_; }

  // Stops node i at once, as a crash would (its data directory stays).
  virtual void kill(std::size_t i) = 0;
  // Starts node i again from its data directory. False: not yet possible
  // (the killed node is still letting go of its resources); try again soon.
  virtual Result<bool, std::string> restart(std::size_t i) = 0;

  // Partitions and link faults, where the mode supports them. `lasts`: when
  // the partition is to heal (nullopt: not before the end of the run).
  virtual bool partition(const std::vector<std::size_t>& side,
                         std::optional<std::chrono::milliseconds> lasts) = 0;
  virtual void heal() = 0;
  virtual bool set_link_faults(const std::vector<std::size_t>& nodes, double latency_ms,
                               double jitter_ms, double loss) = 0;

  // Collects the nodes' figures, stops everything and calls `done` when every
  // node has stopped (bounded: nodes that do not stop in time are killed).
  virtual void stop(std::function<void()> done) = 0;
  // After stop: per node, its figures and the messages it holds.
  virtual std::vector<NodeReport> node_reports() const = 0;
  virtual const std::vector<HeldMessages>& held_messages() const = 0;

  // For a tool that watches one node from outside, as nightjar-flood-scenario
  // does (it samples the node's memory and reads its /metrics). Process mode
  // only: in-process nodes have no process of their own (nullopt).
  // The PID of node i's process while it runs (nullopt once it has exited).
  virtual std::optional<int> pid(std::size_t) const { return std::nullopt; }
  // The loopback port of node i's /metrics (nullopt: this nightjar-node serves none).
  virtual std::optional<std::uint16_t> metrics_port(std::size_t) const { return std::nullopt; }
  // After stop: the exit status of node i's last process (nullopt: it was
  // ended by a signal, SIGKILL after the stop bound included).
  virtual std::optional<int> exit_status(std::size_t) const { return std::nullopt; }

  const NetworkConfig& config() const { return config_; }
  const std::vector<SimNode>& nodes() const { return nodes_; }
  const std::vector<std::string>& notes() const { return notes_; }
  std::size_t running_count() const;
  // Node index of a node ID, if it is one of ours.
  std::optional<std::size_t> index_of(const NodeId& id) const;

 protected:
  NetworkConfig config_;
  std::vector<SimNode> nodes_;
  std::vector<std::string> notes_;
  std::string error_;
  std::size_t held_back_ = 0;
};

// What the runner needs to build either kind.
struct NetworkSetup {
  Scenario scenario;
  std::filesystem::path run_dir;        // data directories go below
  std::filesystem::path node_binary;    // process mode
  std::shared_ptr<spdlog::logger> log;  // inproc: the nodes' log
  std::string node_log_level = "warn";  // process mode: --log-level
  // Process mode: a --log-level for some nodes (by index) instead of
  // node_log_level, to hear one node as operators run it. In-process mode
  // ignores it: its nodes all write to `log`.
  std::map<std::size_t, std::string> node_log_levels;
  // Process mode: more arguments for every nightjar-node (a benchmark's
  // "--client-rate 0", say). In-process mode ignores them.
  std::vector<std::string> node_args;
  // The adversary models' record (simnet/trace.hpp): in-process nodes count
  // their node-to-node frames through it. Null: nothing recorded.
  std::shared_ptr<RunTrace> trace;
};

std::unique_ptr<SimNetwork> make_inproc_network(uv_loop_t* loop, NetworkSetup setup);
std::unique_ptr<SimNetwork> make_process_network(uv_loop_t* loop, NetworkSetup setup);

// Keys for an authority or node in `dir` (made if missing), for a network
// config or for knowing a node's ID before it first starts.
Result<std::pair<NodeId, X25519PublicKey>, std::string> make_node_keys(
    const std::filesystem::path& dir);
// A port on `host` (a loopback address) that was free a moment ago, below
// the kernel's range for outgoing connections' ports where it can, so that
// no connection takes it before its listener binds it. Never the same port
// (on the same host) twice in one process.
Result<std::uint16_t, std::string> free_loopback_port(const std::string& host = "127.0.0.1");
// The loopback address node `index` listens on: 127.X.Y.1, X from 1 to 254,
// so that up to 254 nodes are each in a /16 of their own and path
// selection's network diversity has something to work with (all of
// 127.0.0.0/8 is loopback on Linux).
std::string node_host(std::size_t index);
// The NetworkParams a scenario asks for.
NetworkParams network_params(const Scenario& s);

// The fraction of stored messages that every member of their recipient's
// swarm (in `d`) holds. Over the union of what the nodes hold: a message is
// counted once, whoever holds it; a member that holds nothing (stopped,
// unreadable) holds none of them. `held[i]` belongs to `ids[i]`.
struct ReplicationFigure {
  std::uint64_t messages = 0;
  std::uint64_t complete = 0;
  double fraction() const { return messages ? double(complete) / double(messages) : 1.0; }
};
ReplicationFigure replication_completeness(const Directory& d, const std::vector<NodeId>& ids,
                                           const std::vector<HeldMessages>& held);

// The same for the messages the clients were told are stored, which the
// figure above cannot see when no node holds them any more: each is complete
// when every member of its recipient's swarm holds every fragment.
struct AckedMessage {
  Ed25519PublicKey recipient;
  std::vector<MessageId> stored_ids;
};
struct AckedReplicationFigure {
  std::uint64_t messages = 0;
  std::uint64_t complete = 0;
  std::uint64_t held_nowhere = 0;  // some fragment on no node at all
  double fraction() const { return messages ? double(complete) / double(messages) : 1.0; }
};
AckedReplicationFigure acked_replication(const Directory& d, const std::vector<NodeId>& ids,
                                         const std::vector<HeldMessages>& held,
                                         const std::vector<AckedMessage>& acked);

// Every message a store holds, by recipient.
HeldMessages held_by(MessageStore& store, std::uint64_t now_ms);

}  // namespace nightjar::simnet
