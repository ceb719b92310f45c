#include "tests/bench/store_load_rtt.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <functional>
#include <stdexcept>

#include "client/directory_fetcher.hpp"
#include "client/onion_client.hpp"
#include "routing/crypto.hpp"
#include "routing/runtime.hpp"
#include "simnet/sim_network.hpp"
#include "swarm/storage_messages.hpp"
#include "tests/bench/flood/proc_stats.hpp"
#include "tests/integration/daemon_process.hpp"
#include "tests/support/metrics_http.hpp"

namespace nightjar::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t network_nodes = 6;
constexpr std::size_t flood_recipients = 16;
constexpr std::chrono::milliseconds probe_period{10};

double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

// Runs the loop for `seconds`, or until `done` says so (checked every 50 ms).
void run_for(uv_loop_t* loop, double seconds, const std::function<bool()>& done = {}) {
  const auto until = SteadyClock::now() + std::chrono::duration<double>(seconds);
  Timer tick(loop, [&] {
    if (SteadyClock::now() >= until || (done && done())) uv_stop(loop);
  });
  tick.start(std::chrono::milliseconds(50), std::chrono::milliseconds(50));
  uv_run(loop, UV_RUN_DEFAULT);
}

OnionClientConfig client_config(const NetworkConfig& network) {
  OnionClientConfig cfg;
  cfg.link.prologue.assign(network.network_id.bytes.begin(), network.network_id.bytes.end());
  cfg.timeout = std::chrono::seconds(10);
  return cfg;
}

// One info request at a time, every probe_period, through `relays` to
// `destination`; round trips of the ok answers go to `*into`.
class Prober {
 public:
  Prober(uv_loop_t* loop, OnionClient& onion, std::vector<NodeId> relays, NodeId destination)
      : onion_(onion), relays_(std::move(relays)), destination_(destination), timer_(loop) {
    timer_.set_callback([this] { send(); });
  }
  void start(std::vector<double>* into, std::size_t* failed) {
    into_ = into;
    failed_ = failed;
    if (!busy_) timer_.start(probe_period);
  }
  void stop() {
    into_ = nullptr;
    failed_ = nullptr;
    timer_.stop();
  }
  bool busy() const { return busy_; }

 private:
  void send() {
    busy_ = true;
    const auto sent = SteadyClock::now();
    onion_.send(relays_, destination_, storage::encode(storage::Request{storage::InfoRequest{}}),
                [this, sent](Result<std::vector<std::uint8_t>, RequestFailure> r) {
                  busy_ = false;
                  const double ms = ms_since(sent);
                  bool ok = false;
                  if (r) {
                    auto resp = storage::decode_response(storage::Method::info, r.value());
                    ok = resp && resp->status == storage::Status::ok;
                  }
                  if (ok && into_) into_->push_back(ms);
                  if (!ok && failed_) ++*failed_;
                  if (into_) timer_.start(probe_period);
                });
  }

  OnionClient& onion_;
  std::vector<NodeId> relays_;
  NodeId destination_;
  Timer timer_;
  std::vector<double>* into_ = nullptr;
  std::size_t* failed_ = nullptr;
  bool busy_ = false;
};

// Sends stores for T's swarm to T: `rate` a second (0: as fast as answers
// come back), at most `in_flight` outstanding.
class Flood {
 public:
  Flood(uv_loop_t* loop, OnionClient& onion, std::vector<NodeId> relays, NodeId target,
        std::vector<Ed25519PublicKey> recipients, std::size_t body_bytes)
      : onion_(onion),
        relays_(std::move(relays)),
        target_(target),
        recipients_(std::move(recipients)),
        body_(body_bytes),
        pace_(loop) {
    pace_.set_callback([this] { top_up(); });
  }
  void start(double rate, std::size_t in_flight) {
    open_ = true;
    rate_ = rate;
    in_flight_ = in_flight;
    last_ = SteadyClock::now();
    if (rate_ > 0)
      pace_.start(std::chrono::milliseconds(1), std::chrono::milliseconds(1));
    else
      top_up();
  }
  void count(bool on) { counting_ = on; }
  void stop() {
    open_ = false;
    pace_.stop();
  }
  std::size_t outstanding() const { return outstanding_; }
  std::size_t acked = 0, failed = 0;

 private:
  void top_up() {
    if (rate_ > 0) {
      const auto now = SteadyClock::now();
      credit_ = std::min(credit_ + rate_ * std::chrono::duration<double>(now - last_).count(),
                         rate_ / 10);  // at most 100 ms of backlog
      last_ = now;
    }
    while (open_ && outstanding_ < in_flight_ && (rate_ <= 0 || credit_ >= 1)) {
      credit_ -= 1;
      send();
    }
  }
  void send() {
    storage::StoreRequest req;
    req.recipient = recipients_[next_++ % recipients_.size()];
    req.ttl_seconds = 600;
    crypto::random_bytes(MutableBytes{body_.data(), body_.size()});
    req.body = body_;
    ++outstanding_;
    onion_.send(relays_, target_, storage::encode(req),
                [this](Result<std::vector<std::uint8_t>, RequestFailure> r) {
                  --outstanding_;
                  bool ok = false;
                  if (r) {
                    auto resp = storage::decode_response(storage::Method::store, r.value());
                    ok = resp && resp->status == storage::Status::ok;
                  }
                  if (counting_) ++(ok ? acked : failed);
                  if (rate_ <= 0) top_up();
                });
  }

  OnionClient& onion_;
  std::vector<NodeId> relays_;
  NodeId target_;
  std::vector<Ed25519PublicKey> recipients_;
  std::vector<std::uint8_t> body_;
  Timer pace_;
  double rate_ = 0, credit_ = 0;
  SteadyClock::time_point last_;
  std::size_t in_flight_ = 0;
  std::size_t next_ = 0, outstanding_ = 0;
  bool open_ = false, counting_ = false;
};

std::string hex_list(const std::vector<NodeId>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id.hex();
  return out;
}

std::optional<NodeId> node_from_hex(std::string_view hex) {
  NodeId id;
  if (hex.size() != 2 * NodeId::size() || !from_hex(hex, MutableBytes{id.data(), id.size()}))
    return std::nullopt;
  return id;
}

struct RunDir {
  std::filesystem::path path;
  explicit RunDir(const std::filesystem::path& parent) {
    std::string tmpl = (parent / "store_bench-net-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot create " + tmpl);
    path = tmpl;
  }
  ~RunDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// T's CPU time over `seconds` of the loop, as a share of one core.
double cpu_share(uv_loop_t* loop, int pid, double seconds) {
  const double before = flood::cpu_seconds(pid).value_or(0);
  const auto start = SteadyClock::now();
  run_for(loop, seconds);
  const double wall = ms_since(start) / 1000;
  return wall > 0 ? (flood::cpu_seconds(pid).value_or(0) - before) / wall : 0;
}

}  // namespace

StoreLoadFigures measure_rtt_under_store_load(const std::filesystem::path& parent,
                                              const StoreLoadOptions& o) {
  StoreLoadFigures fig;
  fig.seconds = o.seconds;
  fig.nodes = network_nodes;
  RunDir run_dir(parent);
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::string error;
  {
    simnet::NetworkSetup setup;
    setup.scenario.mode = simnet::Mode::process;
    setup.scenario.authorities = 1;
    setup.scenario.nodes = network_nodes;
    setup.scenario.swarm_min = 3;  // 6 nodes: two swarms of 3
    setup.scenario.swarm_ideal = 3;
    setup.scenario.swarm_max = 5;
    setup.scenario.epoch_seconds = 2;
    setup.run_dir = run_dir.path;
    setup.node_binary = o.node_binary;
    setup.log = std::make_shared<spdlog::logger>("store-load-network",
                                                 std::make_shared<spdlog::sinks::null_sink_mt>());
    setup.node_log_level = "warn";
    setup.node_args = {"--client-rate", "0"};  // one flood client, thousands of cells a second
    auto net = simnet::make_process_network(&loop, std::move(setup));
    try {
      if (auto r = net->start(); !r) throw std::runtime_error(r.error());
      run_for(&loop, 60, [&] { return net->ready() || !net->error().empty(); });
      if (!net->ready())
        throw std::runtime_error(net->error().empty() ? "the 6-node network was not ready in 60 s"
                                                      : net->error());
      const auto until = SteadyClock::now() + std::chrono::seconds(30);
      for (std::size_t i = 0; i < network_nodes; ++i)
        if (!test::wait_for_metric(net->metrics_port(i).value_or(0), "nightjar_directory_nodes",
                                   static_cast<double>(network_nodes), until))
          throw std::runtime_error(net->nodes()[i].name + " did not get the full directory");
      const auto dir = net->directory();
      const NodeId target = net->nodes()[0].id;
      const auto target_pid = net->pid(0);
      if (!target_pid) throw std::runtime_error("the target has no process");

      // T's swarm, and the nodes outside it.
      std::vector<NodeId> swarm_peers, outside;
      std::optional<SwarmId> target_swarm;
      for (SwarmId sw : dir->swarms())
        for (const DirectoryEntry* m : dir->members(sw))
          if (m->node.id == target) target_swarm = sw;
      if (!target_swarm) throw std::runtime_error("the target is in no swarm");
      for (const auto& e : dir->entries) {
        if (e.node.id == target) continue;
        bool in_swarm = false;
        for (const DirectoryEntry* m : dir->members(*target_swarm)) in_swarm |= m->node.id == e.node.id;
        (in_swarm ? swarm_peers : outside).push_back(e.node.id);
      }
      fig.swarm_members = swarm_peers.size() + 1;
      if (outside.size() < 3 || swarm_peers.empty())
        throw std::runtime_error("the directory's swarms do not leave 3 nodes outside the target's");

      SystemRandom rng;
      OnionClient probe_client(&loop, client_config(net->config()), rng);
      probe_client.set_directory(dir);
      Prober prober(&loop, probe_client, {target, outside[0], outside[1]}, outside[2]);

      // Warm-up (links, caches), then the idle phase.
      std::vector<double> discard;
      std::size_t discard_failed = 0;
      prober.start(&discard, &discard_failed);
      run_for(&loop, 1.0);
      prober.start(&fig.idle_rtt_ms, &fig.idle_failed);
      fig.target_cpu_idle = cpu_share(&loop, *target_pid, o.seconds);

      // The flood, in its own process: one second to warm up, the phase, one more.
      const auto network_file = run_dir.path / "store-flood-network.conf";
      if (auto r = net->config().save(network_file); !r) throw std::runtime_error(r.error());
      prober.start(&discard, &discard_failed);
      test::ChildProcess flood(
          o.self_binary,
          {store_flood_child_flag, network_file.string(), target.hex(), hex_list(swarm_peers),
           std::to_string(o.rate), std::to_string(o.in_flight), std::to_string(o.seconds + 2),
           std::to_string(o.body_bytes)},
          run_dir.path / "flood.out", run_dir.path / "flood.err");
      if (!flood.started()) throw std::runtime_error("cannot start the flood client");
      run_for(&loop, 30, [&] {
        return flood.out().find("flooding") != std::string::npos || flood.wait_exit(std::chrono::milliseconds(0));
      });
      if (flood.out().find("flooding") == std::string::npos)
        throw std::runtime_error("the flood client did not start: " + flood.err());
      run_for(&loop, 1.0);
      prober.start(&fig.load_rtt_ms, &fig.load_failed);
      fig.target_cpu_load = cpu_share(&loop, *target_pid, o.seconds);
      prober.stop();
      run_for(&loop, o.seconds + 30, [&] { return flood.wait_exit(std::chrono::milliseconds(0)).has_value(); });
      const std::string out = flood.out();
      const auto at = out.find("result ");
      if (at == std::string::npos) throw std::runtime_error("the flood client failed: " + flood.err());
      double flood_seconds = 0;
      if (std::sscanf(out.c_str() + at, "result %zu %zu %lf", &fig.flood_acked, &fig.flood_failed,
                      &flood_seconds) != 3 || flood_seconds <= 0)
        throw std::runtime_error("the flood client's result is unreadable: " + out.substr(at));
      fig.flood_stores_per_s = static_cast<double>(fig.flood_acked) / flood_seconds;
      run_for(&loop, 15, [&] { return !prober.busy(); });
      probe_client.close();
    } catch (const std::exception& e) {
      error = e.what();
    }
    bool stopped = false;
    net->stop([&] { stopped = true; });
    run_for(&loop, 30, [&] { return stopped; });
  }
  (void)close_loop(&loop);
  if (!error.empty()) throw std::runtime_error(error);
  return fig;
}

int store_flood_child_main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "%s %s: expected 7 arguments\n", argv[0], store_flood_child_flag);
    return 2;
  }
  if (!crypto::init()) return 1;
  spdlog::set_level(spdlog::level::warn);
  auto network = NetworkConfig::load(argv[2]);
  const auto target = node_from_hex(argv[3]);
  std::vector<NodeId> relays;
  for (std::string_view list = argv[4]; !list.empty();) {
    const auto comma = list.find(',');
    auto id = node_from_hex(list.substr(0, comma));
    if (!id) break;
    relays.push_back(*id);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  const double rate = std::atof(argv[5]);
  const auto in_flight = static_cast<std::size_t>(std::atol(argv[6]));
  const double seconds = std::atof(argv[7]);
  const auto body_bytes = static_cast<std::size_t>(std::atol(argv[8]));
  if (!network || !target || relays.empty() || in_flight == 0 || seconds <= 0) {
    std::fprintf(stderr, "%s %s: bad arguments\n", argv[0], store_flood_child_flag);
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int status = 0;
  {
    LinkConfig link;
    link.prologue.assign(network->network_id.bytes.begin(), network->network_id.bytes.end());
    client::DirectoryFetcher fetcher(&loop, *network, link,
                                     std::make_shared<spdlog::logger>(
                                         "fetcher", std::make_shared<spdlog::sinks::null_sink_mt>()));
    std::shared_ptr<const Directory> dir;
    fetcher.fetch(nullptr, [&](auto r) {
      if (r) dir = *r;
    });
    run_for(&loop, 20, [&] { return dir != nullptr; });
    fetcher.close();
    if (!dir) {
      std::fprintf(stderr, "no directory\n");
      status = 1;
    } else {
      const auto target_swarm = [&]() -> std::optional<SwarmId> {
        for (SwarmId sw : dir->swarms())
          for (const DirectoryEntry* m : dir->members(sw))
            if (m->node.id == *target) return sw;
        return std::nullopt;
      }();
      std::vector<Ed25519PublicKey> recipients;
      for (int i = 0; i < 100'000 && recipients.size() < flood_recipients; ++i) {
        const auto key = crypto::ed25519_generate().pub;
        if (dir->swarm_for(key) == target_swarm) recipients.push_back(key);
      }
      SystemRandom rng;
      OnionClient onion(&loop, client_config(*network), rng);
      onion.set_directory(dir);
      Flood flood(&loop, onion, relays, *target, recipients, body_bytes);
      flood.start(rate, in_flight);
      std::printf("flooding\n");
      std::fflush(stdout);
      run_for(&loop, 1.0);  // warm-up
      flood.count(true);
      const auto start = SteadyClock::now();
      run_for(&loop, seconds - 1);
      const double counted = ms_since(start) / 1000;
      flood.count(false);
      flood.stop();
      run_for(&loop, 15, [&] { return flood.outstanding() == 0; });
      std::printf("result %zu %zu %.3f\n", flood.acked, flood.failed, counted);
      std::fflush(stdout);
      onion.close();
    }
  }
  (void)close_loop(&loop);
  return status;
}

}  // namespace nightjar::bench
