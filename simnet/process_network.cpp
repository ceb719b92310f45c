// ProcessNetwork: one nightjar-node process per authority and node, each with
// its own data directory, loopback port and log file (DATA-DIR/node.log),
// started with uv_spawn on the simnet's loop. A kill is SIGKILL; a restart
// runs the same command again. The simnet follows the directory itself (a
// DirectoryClient that only fetches), to know when the network is ready and
// which nodes form which swarm. At the end it reads each node's /metrics
// (when this nightjar-node serves them), stops every process with SIGTERM
// (SIGKILL after a bound), and opens each data directory's message store to
// see which replicas it holds.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "node/directory_client.hpp"
#include "node/directory_state.hpp"
#include "node/node_config.hpp"
#include "node/peer_links.hpp"
#include "routing/runtime.hpp"
#include "simnet/metrics_scrape.hpp"
#include "simnet/sim_network.hpp"

namespace nightjar::simnet {

namespace {

constexpr std::uint64_t stop_bound_ms = 10'000;
constexpr auto scrape_timeout = std::chrono::milliseconds(2000);

// What this nightjar-node binary accepts, from its --help text.
struct BinaryFeatures {
  bool metrics = false;
  bool quorum = false;
};

Result<BinaryFeatures, std::string> probe(const std::filesystem::path& binary) {
  if (!std::filesystem::exists(binary))
    return fail("nightjar-node not found at " + binary.string() + " (give --node-binary)");
  const std::string cmd = "'" + binary.string() + "' --help 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return fail("cannot run " + binary.string());
  std::string text;
  char buf[4096];
  while (text.size() < (1u << 20)) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, p);
    if (n == 0) break;
    text.append(buf, n);
  }
  ::pclose(p);
  if (text.find("--data-dir") == std::string::npos)
    return fail(binary.string() + " --help does not look like nightjar-node's");
  return BinaryFeatures{text.find("--metrics") != std::string::npos,
                        text.find("--quorum") != std::string::npos};
}

// Why link faults cannot be had in process mode here: they would need tc
// netem in a network namespace of our own (root, and the kernel's sch_netem).
std::string netem_unavailable_reason() {
  if (::geteuid() != 0)
    return "they need root (tc netem in a network namespace of the simnet's own)";
  FILE* p = ::popen(
      "unshare -n sh -c 'ip link set lo up && tc qdisc add dev lo root netem delay 1ms' 2>&1", "r");
  if (!p) return "cannot run unshare and tc";
  std::string out;
  char buf[512];
  while (out.size() < 4096) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, p);
    if (n == 0) break;
    out.append(buf, n);
  }
  const int status = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  if (status == 0)
    return "tc netem works here, but the simnet does not yet move its nodes into a namespace";
  return "tc netem is not available here (" + (out.empty() ? std::string("tc failed") : out) + ")";
}

// The last line of a text file, for an error message ("" if unreadable).
std::string log_tail(const std::filesystem::path& file) {
  std::ifstream f(file);
  std::string line, last;
  while (std::getline(f, line))
    if (!line.empty()) last = line;
  return last;
}

struct Child {
  uv_process_t proc{};
  bool exited = false;
  int64_t status = 0;
  int signal = 0;
  std::function<void(const Child&)> on_exit;  // after the fields above are set
};

class ProcessNetwork final : public SimNetwork {
 public:
  ProcessNetwork(uv_loop_t* loop, NetworkSetup setup)
      : loop_(loop),
        setup_(std::move(setup)),
        log_(setup_.log ? setup_.log : spdlog::default_logger()) {}

  ~ProcessNetwork() override {
    // Nothing may outlive the simnet: kill what is still running.
    for (auto& c : children_)
      if (c && !c->exited) uv_process_kill(&c->proc, SIGKILL);
    for (auto& c : authority_children_)
      if (c && !c->exited) uv_process_kill(&c->proc, SIGKILL);
    if (fetcher_) fetcher_->stop();
    if (peers_) peers_->close_all();
  }

  Result<void, std::string> start() override {
    auto features = probe(setup_.node_binary);
    if (!features) return features.failure();
    features_ = *features;
    const Scenario& s = setup_.scenario;
    if (!features_.metrics)
      notes_.push_back(
          "process mode: this nightjar-node serves no /metrics, so per-node cells "
          "relayed and dropped are not known (messages stored are read from the stores)");
    if (s.quorum != 0 && !features_.quorum)
      notes_.push_back(
          "process mode: this nightjar-node takes no --quorum; the network runs with "
          "its default quorum (a majority)");

    bool partitions = false, link_faults = false;
    for (const auto& f : s.faults) {
      partitions |= f.kind == FaultSpec::Kind::partition;
      link_faults |= f.kind == FaultSpec::Kind::link;
    }
    if (partitions)
      notes_.push_back(
          "process mode: partitions are skipped (they need a network namespace per "
          "side; use --mode inproc)");
    if (link_faults)
      notes_.push_back("process mode: link latency and loss are skipped: " +
                       netem_unavailable_reason() + "; use --mode inproc");

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
    network_file_ = setup_.run_dir / "network.conf";
    if (auto r = config_.save(network_file_); !r)
      return fail("cannot write " + network_file_.string() + ": " + r.error());

    for (std::size_t i = 0; i < s.authorities; ++i) {
      const auto& a = config_.authorities[i];
      auto args = common_args(setup_.run_dir / a.name, "127.0.0.1", a.address.port());
      args.insert(args.end(), {"--authority", "--epoch-seconds", std::to_string(s.epoch_seconds),
                               "--swarm-sizes",
                               std::to_string(s.swarm_min) + "," + std::to_string(s.swarm_ideal) +
                                   "," + std::to_string(s.swarm_max)});
      if (features_.quorum) args.insert(args.end(), {"--quorum", std::to_string(s.quorum)});
      // The defences, as the authorities publish them (network_params()).
      if (const Defences d = network_params(s).defences; d.any()) {
        args.insert(args.end(), {"--mix-delay-ms", std::to_string(d.mix_delay_ms),
                                 "--mix-delay-max-ms", std::to_string(d.mix_delay_max_ms),
                                 "--loop-rate", format_millihertz(d.loop_rate_millihertz),
                                 "--drop-rate", format_millihertz(d.drop_rate_millihertz),
                                 "--poll-padding-ms", std::to_string(d.poll_padding_ms)});
      }
      auto child = spawn(args, setup_.run_dir / a.name);
      if (!child) return child.failure();
      authority_children_.push_back(std::move(*child));
    }
    const std::size_t total = total_nodes(s);
    held_back_ = total - s.nodes;
    children_.resize(total);
    metrics_ports_.resize(total);
    last_samples_.resize(total);
    carried_.resize(total);
    for (std::size_t i = 0; i < total; ++i) {
      SimNode n;
      n.name = "node" + std::to_string(i);
      n.data_dir = setup_.run_dir / n.name;
      auto keys = make_node_keys(n.data_dir);
      if (!keys) return keys.failure();
      n.id = keys->first;
      n.link_key = keys->second;
      auto port = free_loopback_port(node_host(i));
      if (!port) return port.failure();
      n.port = *port;
      if (features_.metrics) {
        auto mport = free_loopback_port();
        if (!mport) return mport.failure();
        metrics_ports_[i] = *mport;
      }
      nodes_.push_back(n);
      if (i < s.nodes)
        if (auto r = start_node(i); !r) return r.failure();
    }
    start_fetcher();
    return {};
  }

  std::shared_ptr<const Directory> directory() const override {
    return state_ ? state_->current() : nullptr;
  }

  bool ready() const override {
    auto d = directory();
    return d && d->entries.size() >= first_held_back();
  }

  Result<void, std::string> join_held_back() override {
    for (std::size_t i = first_held_back(); i < nodes_.size(); ++i)
      if (!nodes_[i].running)
        if (auto r = start_node(i); !r) return r;
    return {};
  }

  void kill(std::size_t i) override {
    if (i >= children_.size() || !children_[i] || children_[i]->exited) return;
    nodes_[i].running = false;
    Child* c = children_[i].get();
    if (!features_.metrics) {
      uv_process_kill(&c->proc, SIGKILL);
      return;
    }
    // Read its counters first: a killed process takes them with it.
    scrape(i, [this, i, c] {
      carry(i);
      if (children_[i].get() == c && !c->exited) uv_process_kill(&c->proc, SIGKILL);
    });
  }

  Result<bool, std::string> restart(std::size_t i) override {
    if (i >= children_.size()) return fail("no node " + std::to_string(i + 1));
    if (nodes_[i].running) return true;
    if (children_[i] && !children_[i]->exited) return false;  // not gone yet
    if (auto r = start_node(i); !r) return r.failure();
    ++nodes_[i].restarts;
    return true;
  }

  bool partition(const std::vector<std::size_t>&, std::optional<std::chrono::milliseconds>) override {
    return false;
  }
  void heal() override {}
  bool set_link_faults(const std::vector<std::size_t>&, double, double, double) override {
    return false;
  }

  void stop(std::function<void()> done) override {
    done_ = std::move(done);
    std::size_t pending = 0;
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (features_.metrics && nodes_[i].running) ++pending;
    scrapes_pending_ = pending;
    if (pending == 0) return terminate_all();
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (features_.metrics && nodes_[i].running)
        scrape(i, [this] {
          if (--scrapes_pending_ == 0) terminate_all();
        });
  }

  std::vector<NodeReport> node_reports() const override { return reports_; }
  const std::vector<HeldMessages>& held_messages() const override { return held_; }

  std::optional<int> pid(std::size_t i) const override {
    if (i >= children_.size() || !children_[i] || children_[i]->exited) return std::nullopt;
    return children_[i]->proc.pid;
  }
  std::optional<std::uint16_t> metrics_port(std::size_t i) const override {
    if (!features_.metrics || i >= metrics_ports_.size()) return std::nullopt;
    return metrics_ports_[i];
  }
  std::optional<int> exit_status(std::size_t i) const override {
    return i < exit_statuses_.size() ? exit_statuses_[i] : std::nullopt;
  }

 private:
  std::vector<std::string> common_args(const std::filesystem::path& dir, const std::string& host,
                                       std::uint16_t port,
                                       std::optional<std::size_t> node = std::nullopt) const {
    std::string log_level = setup_.node_log_level;
    if (node) {
      const auto it = setup_.node_log_levels.find(*node);
      if (it != setup_.node_log_levels.end()) log_level = it->second;
    }
    return {setup_.node_binary.string(),
            "--data-dir",
            dir.string(),
            "--listen",
            host + ":" + std::to_string(port),
            "--network",
            network_file_.string(),
            "--log-level",
            log_level};
  }

  Result<std::unique_ptr<Child>, std::string> spawn(const std::vector<std::string>& args,
                                                    const std::filesystem::path& dir) {
    const auto log_file = dir / "node.log";
    uv_fs_t req;
    const int fd = uv_fs_open(nullptr, &req, log_file.c_str(),
                              UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_APPEND, 0600, nullptr);
    uv_fs_req_cleanup(&req);
    if (fd < 0) return fail("cannot open " + log_file.string() + ": " + uv_strerror(fd));
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fd;
    uv_process_options_t o{};
    o.file = argv[0];
    o.args = argv.data();
    o.stdio = stdio;
    o.stdio_count = 3;
    o.exit_cb = [](uv_process_t* p, int64_t status, int signal) {
      auto* c = static_cast<Child*>(p->data);
      c->exited = true;
      c->status = status;
      c->signal = signal;
      if (c->on_exit) c->on_exit(*c);
    };
    auto child = std::make_unique<Child>();
    child->proc.data = child.get();
    const int rc = uv_spawn(loop_, &child->proc, &o);
    uv_fs_t close_req;
    uv_fs_close(nullptr, &close_req, fd, nullptr);
    uv_fs_req_cleanup(&close_req);
    if (rc < 0) {
      // uv_spawn leaves the handle initialised even when it fails.
      uv_close(reinterpret_cast<uv_handle_t*>(&child->proc),
               [](uv_handle_t* h) { delete static_cast<Child*>(h->data); });
      (void)child.release();
      return fail("cannot start " + args[0] + ": " + uv_strerror(rc));
    }
    return child;
  }

  Result<void, std::string> start_node(std::size_t i) {
    SimNode& n = nodes_[i];
    auto args = common_args(n.data_dir, node_host(i), n.port, i);
    if (features_.metrics)
      args.insert(args.end(), {"--metrics", "127.0.0.1:" + std::to_string(metrics_ports_[i])});
    args.insert(args.end(), setup_.node_args.begin(), setup_.node_args.end());
    if (children_[i]) release(std::move(children_[i]));
    auto child = spawn(args, n.data_dir);
    if (!child) return child.failure();
    // A node that stops by itself before the network is ready (it could not
    // listen, say) is an error now, not a timeout a minute later.
    (*child)->on_exit = [this, i](const Child& c) {
      if (!nodes_[i].running || !error_.empty() || ready()) return;
      error_ = nodes_[i].name + " exited while the network was starting (status " +
               std::to_string(c.status) + ", signal " + std::to_string(c.signal) +
               "); the end of its log: " + log_tail(nodes_[i].data_dir / "node.log");
    };
    children_[i] = std::move(*child);
    n.running = true;
    last_samples_[i].clear();
    return {};
  }

  // Closes an exited (or abandoned) child's handle; it frees itself.
  static void release(std::unique_ptr<Child> c) {
    Child* raw = c.release();
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->proc),
             [](uv_handle_t* h) { delete static_cast<Child*>(h->data); });
  }

  void scrape(std::size_t i, std::function<void()> then) {
    const auto at = *Endpoint::parse("127.0.0.1:" + std::to_string(metrics_ports_[i]));
    scrape_metrics(loop_, at, scrape_timeout,
                   [this, i, then = std::move(then)](Result<std::string, std::string> r) {
                     if (r) last_samples_[i] = parse_metrics(*r);
                     then();
                   });
  }

  // Adds the last scrape of node i to what earlier runs of it relayed.
  void carry(std::size_t i) {
    const auto& m = last_samples_[i];
    if (m.empty()) return;
    carried_[i].cells_relayed +=
        static_cast<std::uint64_t>(metric_sum(m, "nightjar_cells_relayed_total"));
    carried_[i].cells_dropped +=
        static_cast<std::uint64_t>(metric_sum(m, "nightjar_cells_dropped_total"));
    carried_[i].cells_delivered +=
        static_cast<std::uint64_t>(metric_sum(m, "nightjar_cells_delivered_total"));
    carried_[i].stores_accepted +=
        static_cast<std::uint64_t>(metric_sum(m, "nightjar_stores_total"));
    auto sample = [&m](const char* series) {
      auto it = m.find(series);
      return it == m.end() ? std::uint64_t{0} : static_cast<std::uint64_t>(it->second);
    };
    carried_[i].mix_released += sample("nightjar_mix_cells_total{event=\"released\"}");
    carried_[i].mix_held_us_sum += sample("nightjar_mix_held_microseconds_total");
    carried_[i].cover_cells +=
        static_cast<std::uint64_t>(metric_sum(m, "nightjar_cover_cells_total"));
    carried_[i].padding_segments += sample("nightjar_long_poll_padding_total");
    carried_[i].descriptor_failures += sample("nightjar_link_descriptor_failures_total");
    carried_[i].mix_held_us_max =
        std::max(carried_[i].mix_held_us_max, sample("nightjar_mix_held_microseconds_max"));
    last_samples_[i].clear();
  }

  void start_fetcher() {
    state_ = std::make_unique<DirectoryState>(config_, std::filesystem::path{}, log_);
    LinkConfig lc;
    lc.prologue.assign(config_.network_id.bytes.begin(), config_.network_id.bytes.end());
    lc.log = log_;
    own_key_ = std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
    peers_ = std::make_unique<PeerLinks>(loop_, own_key_, lc, [this](Link& l, Bytes f) {
      if (fetcher_) (void)fetcher_->handle_frame(l, f);
    });
    DirectoryClientConfig dc;
    dc.register_node = false;
    dc.log = log_;
    fetcher_ = std::make_unique<DirectoryClient>(loop_, std::move(dc), *state_, *peers_);
    fetcher_->start();
  }

  void terminate_all() {
    for (std::size_t i = 0; i < children_.size(); ++i)
      carry(i);
    if (fetcher_) fetcher_->stop();
    if (peers_) peers_->close_all();
    auto signal_all = [this](int sig) {
      for (auto* list : {&children_, &authority_children_})
        for (auto& c : *list)
          if (c && !c->exited) uv_process_kill(&c->proc, sig);
    };
    signal_all(SIGTERM);
    stop_started_ms_ = uv_now(loop_);
    stop_timer_.set_callback([this] { check_stopped(); });
    stop_timer_.start(std::chrono::milliseconds(50), std::chrono::milliseconds(50));
  }

  // Every 50 ms after SIGTERM: finish once every child exited; SIGKILL what
  // is left after the bound.
  void check_stopped() {
    bool all_gone = true;
    for (auto* list : {&children_, &authority_children_})
      for (auto& c : *list)
        if (c && !c->exited) all_gone = false;
    const bool overdue = uv_now(loop_) - stop_started_ms_ > stop_bound_ms;
    if (!all_gone && !overdue) return;
    if (!all_gone) {
      notes_.push_back(
          "some nightjar-node processes did not stop within 10 s of "
          "SIGTERM and were killed");
      for (auto* list : {&children_, &authority_children_})
        for (auto& c : *list)
          if (c && !c->exited) uv_process_kill(&c->proc, SIGKILL);
      return;  // wait for their exit callbacks
    }
    stop_timer_.close();
    finish();
  }

  void finish() {
    exit_statuses_.assign(nodes_.size(), std::nullopt);
    for (std::size_t i = 0; i < children_.size() && i < nodes_.size(); ++i)
      if (children_[i] && children_[i]->exited && children_[i]->signal == 0)
        exit_statuses_[i] = static_cast<int>(children_[i]->status);
    for (auto* list : {&children_, &authority_children_})
      for (auto& c : *list)
        if (c) release(std::move(c));
    const std::uint64_t now = system_unix_ms();
    reports_.clear();
    held_.assign(nodes_.size(), {});
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      NodeReport r = carried_[i];
      r.name = nodes_[i].name;
      r.id = nodes_[i].id.hex();
      r.running = nodes_[i].running;
      r.restarts = nodes_[i].restarts;
      r.stats_known = features_.metrics;
      StoreOptions so;
      so.log = log_;
      so.cache_bytes = 1u << 20;
      auto store = MessageStore::open(nodes_[i].data_dir / "messages", so);
      if (store) {
        r.messages_stored = (*store)->message_count();
        held_[i] = held_by(**store, now);
      } else {
        notes_.push_back(nodes_[i].name + ": cannot open its store: " + store.error());
      }
      reports_.push_back(r);
    }
    if (done_) {
      auto d = std::move(done_);
      d();
    }
  }

  uv_loop_t* loop_;
  NetworkSetup setup_;
  std::shared_ptr<spdlog::logger> log_;
  BinaryFeatures features_;
  std::filesystem::path network_file_;
  std::vector<std::unique_ptr<Child>> children_, authority_children_;
  std::vector<std::uint16_t> metrics_ports_;
  std::vector<MetricSamples> last_samples_;
  std::vector<NodeReport> carried_;
  std::size_t scrapes_pending_ = 0;
  std::unique_ptr<DirectoryState> state_;
  std::shared_ptr<const X25519KeyPair> own_key_;
  std::unique_ptr<PeerLinks> peers_;
  std::unique_ptr<DirectoryClient> fetcher_;
  std::vector<NodeReport> reports_;
  std::vector<HeldMessages> held_;
  std::vector<std::optional<int>> exit_statuses_;
  std::function<void()> done_;
  Timer stop_timer_{loop_};
  std::uint64_t stop_started_ms_ = 0;
};

}  // namespace

std::unique_ptr<SimNetwork> make_process_network(uv_loop_t* loop, NetworkSetup setup) {
  return std::make_unique<ProcessNetwork>(loop, std::move(setup));
}

}  // namespace nightjar::simnet
