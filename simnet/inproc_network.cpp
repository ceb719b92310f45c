// InprocNetwork: the authorities and nodes as nightjar::Node objects on the
// simnet's loop, on real loopback sockets, each with its own data directory.
// Made for scale: the stores share one RocksDB block cache and skip the fsync
// per write (the process does not crash: a "killed" node is stopped and its
// store closed, and what it wrote is in the OS's page cache), and every node
// logs to one shared logger.
#include <rocksdb/cache.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "node/node.hpp"
#include "routing/runtime.hpp"
#include "simnet/light_env.hpp"
#include "simnet/sim_faults.hpp"
#include "simnet/trace.hpp"
#include "simnet/sim_network.hpp"

namespace nightjar::simnet {

namespace {

constexpr std::size_t shared_cache_bytes = 64u << 20;
// A stopped Node is destroyed only after its links' close callbacks ran.
constexpr std::uint64_t release_after_ms = 200;
constexpr std::size_t nodes_per_tick = 1;

std::uint64_t monotonic_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

class InprocNetwork final : public SimNetwork {
 public:
  InprocNetwork(uv_loop_t* loop, NetworkSetup setup)
      : loop_(loop),
        setup_(std::move(setup)),
        log_(setup_.log ? setup_.log : spdlog::default_logger()),
        cache_(rocksdb::NewLRUCache(shared_cache_bytes)),
        faults_(std::make_shared<FaultState>(total_nodes(setup_.scenario), setup_.scenario.seed)),
        release_timer_(loop, [this] { released(); }),
        create_timer_(loop, [this] { create_some(); }) {}

  ~InprocNetwork() override {
    for (auto& n : running_)
      if (n) n->stop();
    for (auto& a : authorities_)
      if (a) a->stop();
  }

  Result<void, std::string> start() override {
    const Scenario& s = setup_.scenario;
    crypto::random_bytes(config_.network_id.mutable_view());
    config_.name = "simnet";
    for (std::size_t i = 0; i < s.authorities; ++i) {
      const std::string name = "authority" + std::to_string(i + 1);
      auto keys = make_node_keys(setup_.run_dir / name);
      if (!keys) return keys.failure();
      auto port = free_loopback_port();
      if (!port) return port.failure();
      config_.authorities.push_back(AuthorityInfo{
          name, keys->first, keys->second, *Endpoint::parse("127.0.0.1:" + std::to_string(*port))});
    }
    for (std::size_t i = 0; i < s.authorities; ++i) {
      auto a = make(setup_.run_dir / config_.authorities[i].name, config_.authorities[i].address,
                    true, 0);
      if (!a) return a.failure();
      authorities_.push_back(std::move(*a));
    }
    const std::size_t total = total_nodes(s);
    held_back_ = total - s.nodes;
    running_.resize(total);
    stats_.resize(total);
    for (std::size_t i = 0; i < total; ++i) {
      SimNode n;
      n.name = "node" + std::to_string(i);
      n.data_dir = setup_.run_dir / n.name;
      auto keys = make_node_keys(n.data_dir);
      if (!keys) return keys.failure();
      n.id = keys->first;
      n.link_key = keys->second;
      faults_->set_link_key(i, n.link_key);
      nodes_.push_back(n);
    }
    // Nodes are created a few at a time from the loop, so that the loop
    // keeps running (handshakes, registrations) while hundreds start: each
    // creation opens a RocksDB store, tens of milliseconds of fsyncs.
    create_timer_.start(std::chrono::milliseconds(0), std::chrono::milliseconds(1));
    return {};
  }

  void create_some() {
    const std::size_t first = first_held_back();
    for (std::size_t k = 0; k < nodes_per_tick && created_ < first; ++k) {
      if (auto r = start_node(created_); !r) {
        error_ = r.error();
        created_ = first;
        break;
      }
      ++created_;
    }
    if (created_ < first) return;
    create_timer_.close();
  }

  Result<void, std::string> join_held_back() override {
    for (std::size_t i = first_held_back(); i < nodes_.size(); ++i)
      if (!running_[i])
        if (auto r = start_node(i); !r) return r;
    return {};
  }

  void released() {
    release_stopped(true);
    release_timer_.close();
    if (done_) {
      auto d = std::move(done_);
      d();
    }
  }

  std::shared_ptr<const Directory> directory() const override {
    for (const auto& a : authorities_)
      if (auto d = a->directory().current()) return d;
    return nullptr;
  }

  bool ready() const override {
    const std::size_t started = first_held_back();
    if (created_ < started) return false;
    // Every running node holds a directory that lists every node started
    // (not necessarily the newest: one epoch may be on its way).
    for (const auto& n : running_) {
      if (!n) continue;
      auto d = n->directory().current();
      if (!d || d->entries.size() < started) return false;
    }
    auto d = directory();
    return d && d->entries.size() >= started;
  }

  void kill(std::size_t i) override {
    if (i >= running_.size() || !running_[i]) return;
    add_stats(i, *running_[i]);
    running_[i]->stop();
    stopped_.push_back({monotonic_ms(), std::move(running_[i])});
    nodes_[i].running = false;
  }

  Result<bool, std::string> restart(std::size_t i) override {
    if (i >= running_.size()) return fail("no node " + std::to_string(i + 1));
    if (running_[i]) return true;
    release_stopped(false);
    for (const auto& s : stopped_)
      if (s.node && s.node->id() == nodes_[i].id) return false;  // still letting go
    if (auto r = start_node(i); !r) return r.failure();
    ++nodes_[i].restarts;
    return true;
  }

  bool partition(const std::vector<std::size_t>& side,
                 std::optional<std::chrono::milliseconds> lasts) override {
    faults_->partition(side, lasts);
    return true;
  }
  void heal() override { faults_->heal(); }
  bool set_link_faults(const std::vector<std::size_t>& nodes, double latency_ms, double jitter_ms,
                       double loss) override {
    for (auto i : nodes)
      faults_->set_link_faults(i, NodeLinkFaults{latency_ms, jitter_ms, loss});
    return true;
  }

  void stop(std::function<void()> done) override {
    create_timer_.close();
    const std::uint64_t now = system_unix_ms();
    reports_.clear();
    held_.assign(nodes_.size(), {});
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      NodeReport r = stats_[i];
      r.name = nodes_[i].name;
      r.id = nodes_[i].id.hex();
      r.running = running_[i] != nullptr;
      r.restarts = nodes_[i].restarts;
      if (running_[i]) {
        add_to(r, *running_[i]);
        if (MessageStore* store = running_[i]->store()) {
          r.messages_stored = store->message_count();
          held_[i] = held_by(*store, now);
        }
      }
      reports_.push_back(r);
    }
    for (auto& n : running_)
      if (n) {
        n->stop();
        stopped_.push_back({monotonic_ms(), std::move(n)});
      }
    for (auto& a : authorities_) {
      a->stop();
      stopped_.push_back({monotonic_ms(), std::move(a)});
    }
    authorities_.clear();
    done_ = std::move(done);
    // Let the close callbacks run, then free the nodes.
    release_timer_.start(std::chrono::milliseconds(release_after_ms));
  }

  std::vector<NodeReport> node_reports() const override { return reports_; }
  const std::vector<HeldMessages>& held_messages() const override { return held_; }

 private:
  struct Stopped {
    std::uint64_t at_ms;
    std::unique_ptr<Node> node;
  };

  Result<std::unique_ptr<Node>, std::string> make(const std::filesystem::path& dir,
                                                  const Endpoint& listen, bool authority,
                                                  std::size_t index) {
    NodeOptions o;
    o.data_dir = dir;
    o.listen = listen;
    o.authority = authority;
    o.network = config_;
    o.params = network_params(setup_.scenario);
    // One logger per node, all on the run's log file, so lines say whose.
    o.log = std::make_shared<spdlog::logger>(dir.filename().string(), log_->sinks().begin(),
                                             log_->sinks().end());
    o.log->set_level(log_->level());
    o.store.sync = false;
    o.store.shared_cache = cache_;
    o.store.env = light_store_env();
    o.replication.anti_entropy_interval_ms = 2000;
    if (!authority) o.link.faults = std::make_shared<SimLinkFaults>(faults_, index);
    if (!authority && setup_.trace) o.link.observer = setup_.trace->node_observer();
    auto node = Node::create(loop_, std::move(o));
    if (!node) return fail(dir.filename().string() + ": " + node.error());
    if (auto r = (*node)->start(); !r) return fail(dir.filename().string() + ": " + r.error());
    return std::move(*node);
  }

  Result<void, std::string> start_node(std::size_t i) {
    SimNode& n = nodes_[i];
    const auto listen = *Endpoint::parse(node_host(i) + ":" + std::to_string(n.port));
    auto node = make(n.data_dir, listen, false, i);
    if (!node) return node.failure();
    n.port = (*node)->address().port();
    n.running = true;
    running_[i] = std::move(*node);
    return {};
  }

  static void add_to(NodeReport& r, const Node& n) {
    if (const OnionRelay* relay = n.relay()) {
      const RelayStats& s = relay->stats();
      r.cells_relayed += s.cells_forwarded;
      r.cells_delivered += s.cells_delivered;
      std::uint64_t dropped = s.dropped_bad_frame + s.dropped_unforwardable;
      for (auto d : s.dropped)
        dropped += d;
      r.cells_dropped += dropped;
      r.mix_released += s.mix_released;
      r.mix_held_us_sum += s.mix_held_us_sum;
      r.mix_held_us_max = std::max(r.mix_held_us_max, s.mix_held_us_max);
    }
    if (const StorageService* storage = n.storage()) {
      r.stores_accepted += storage->stats().stores;
      r.cover_cells += storage->stats().cover_loops + storage->stats().cover_drops;
      r.padding_segments += storage->stats().padding_segments;
    }
  }

  void add_stats(std::size_t i, const Node& n) { add_to(stats_[i], n); }

  void release_stopped(bool all) {
    const std::uint64_t now = monotonic_ms();
    std::erase_if(stopped_,
                  [&](const Stopped& s) { return all || now >= s.at_ms + release_after_ms; });
  }

  uv_loop_t* loop_;
  NetworkSetup setup_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<FaultState> faults_;
  std::vector<std::unique_ptr<Node>> authorities_;
  std::vector<std::unique_ptr<Node>> running_;
  std::vector<Stopped> stopped_;
  std::vector<NodeReport> stats_;  // counters of earlier runs of each node
  std::vector<NodeReport> reports_;
  std::vector<HeldMessages> held_;
  std::function<void()> done_;
  Timer release_timer_;  // frees the stopped nodes once their handles closed
  Timer create_timer_;   // starts a few nodes a tick
  std::size_t created_ = 0;
};

}  // namespace

std::unique_ptr<SimNetwork> make_inproc_network(uv_loop_t* loop, NetworkSetup setup) {
  return std::make_unique<InprocNetwork>(loop, std::move(setup));
}

}  // namespace nightjar::simnet
