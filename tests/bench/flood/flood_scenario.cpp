// nightjar-flood-scenario: what one flooded node does to the people whose
// paths go through it. It starts an authority and --nodes nightjar-node
// processes on loopback (the simnet's process network, simnet/
// sim_network.hpp), picks the first node (node0) as the target,
// and runs honest clients that keep storing messages for each other through
// paths whose first hop is the target (latency_clients.hpp). It measures
// their store round trips unloaded, then while two nightjar-flood processes
// (cells and garbage) flood the target, then after; it samples the target's
// resident memory every 100 ms and reads its /metrics before and after.
// One JSON object on standard output; progress on standard error.
//
// Figures are reported, never judged, except with --check: then the exit
// status is 1 when the target died, stopped answering /metrics, stopped
// relaying after the flood, or (--max-rss-mb) used more memory than that.
// Timing is never checked. docs/RELIABILITY.md explains the figures and the
// bounds.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstring>

// GCC 12 reports a false "potential null pointer dereference" in libstdc++ when
// Boost.Program_options' typed_value<std::string>::notify is inlined (as in node/settings.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/program_options.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "routing/runtime.hpp"
#include "tests/bench/bench_util.hpp"
#include "tests/bench/flood/proc_stats.hpp"
#include "tests/bench/flood/latency_clients.hpp"
#include "simnet/sim_network.hpp"
#include "tests/integration/daemon_process.hpp"
#include "tests/support/metrics_http.hpp"

using namespace nightjar;
using namespace nightjar::flood;
using nightjar::test::ChildProcess;
using namespace std::chrono_literals;

namespace {

constexpr char program[] = "nightjar-flood-scenario";

struct Options {
  std::size_t nodes = 8;
  std::size_t clients = 3;
  double client_rate = 50;
  double unloaded_seconds = 10;
  double flood_seconds = 30;
  double after_seconds = 3;
  std::size_t cell_connections = 8;
  std::size_t garbage_connections = 64;
  std::uint64_t built_per_second = 50;
  double max_rss_mb = 0;
  bool short_run = false;
  bool check = false;
  bool keep = false;
};

// Runs `loop` for `seconds`, or until `stop_early` holds (checked every 100 ms).
void run_for(uv_loop_t* loop, double seconds, const std::function<bool()>& stop_early = {}) {
  struct State {
    uv_loop_t* loop;
    std::uint64_t until;
    const std::function<bool()>* stop_early;
  } state{loop, uv_now(loop) + static_cast<std::uint64_t>(seconds * 1000), &stop_early};
  uv_timer_t t;
  uv_timer_init(loop, &t);
  t.data = &state;
  uv_timer_start(
      &t,
      [](uv_timer_t* h) {
        auto* s = static_cast<State*>(h->data);
        if (uv_now(s->loop) >= s->until || (*s->stop_early && (*s->stop_early)())) uv_stop(s->loop);
      },
      100, 100);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);  // t's close completes before it goes out of scope
}

// The target's resident memory, sampled every 100 ms by a timer, the maximum
// kept per phase.
struct RssSampler {
  pid_t pid;
  std::uint64_t max_kb = 0;
  std::uint64_t last_kb = 0;
  bool gone = false;
  uv_timer_t timer{};
  void start(uv_loop_t* loop) {
    uv_timer_init(loop, &timer);
    timer.data = this;
    uv_timer_start(
        &timer, [](uv_timer_t* t) { static_cast<RssSampler*>(t->data)->sample(); }, 0, 100);
  }
  void sample() {
    if (auto kb = resident_kb(pid)) {
      last_kb = *kb;
      max_kb = std::max(max_kb, *kb);
    } else {
      gone = true;
    }
  }
  std::uint64_t take_max() { return std::exchange(max_kb, last_kb); }
};

double mb(std::uint64_t kb) {
  return static_cast<double>(kb) / 1024.0;
}

std::optional<std::string> scrape(std::uint16_t port) {
  return test::http_get(port, "/metrics", 5s);
}

double metric(const std::optional<std::string>& text, const std::string& series) {
  if (!text) return 0;
  return test::metric_value(*text, series).value_or(0);
}

void add_phase(bench::JsonObject& j, const std::string& name, const LatencySample& s) {
  j.add(name + "_requests", s.round_trips_ms.size() + s.failed())
      .add(name + "_failures", s.failed())
      .add(name + "_p50_ms", percentile(s.round_trips_ms, 50), 3)
      .add(name + "_p99_ms", percentile(s.round_trips_ms, 99), 3);
  std::string why;
  for (const auto& [what, count] : s.failures)
    why += (why.empty() ? "" : "; ") + what + ": " + std::to_string(count);
  j.add(name + "_failure_kinds", why);
}

void add_metric_deltas(bench::JsonObject& j, const std::optional<std::string>& before,
                       const std::optional<std::string>& after) {
  auto delta = [&](const std::string& series) {
    return metric(after, series) - metric(before, series);
  };
  auto add = [&](const std::string& key, const std::string& series) {
    j.add(key, static_cast<std::int64_t>(delta(series)));
  };
  add("target_cells_received", "nightjar_cells_received_total");
  add("target_cells_relayed", "nightjar_cells_relayed_total");
  for (const char* reason :
       {"wrong_size", "expired_key", "low_order_key", "bad_mac", "replay", "replay_cache_full",
        "bad_slot", "bad_payload", "bad_frame", "unforwardable"})
    add(std::string("target_dropped_") + reason,
        std::string("nightjar_cells_dropped_total{reason=\"") + reason + "\"}");
  for (const char* action : {"refused", "cell_dropped", "frame_dropped"})
    add(std::string("target_rate_limited_") + action,
        std::string("nightjar_rate_limited_total{action=\"") + action + "\"}");
  add("target_replay_hits", "nightjar_replay_hits_total");
  add("target_relay_error_replies", "nightjar_replies_total{result=\"relay_error\"}");
  j.add("target_replay_cache_bytes",
        static_cast<std::int64_t>(metric(after, "nightjar_replay_cache_bytes")));
  j.add("target_relay_table_entries",
        static_cast<std::int64_t>(metric(after, "nightjar_relay_table_entries")));
}

nlohmann::json flood_figures(ChildProcess& p) {
  auto j = nlohmann::json::parse(p.out(), nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

void say(const std::string& line) {
  std::cerr << program << ": " << line << std::endl;
}

// Stops the network and runs the loop until every process has stopped
// (bounded: the network kills what outlasts its own bound of 10 s).
bool stop_network(uv_loop_t* loop, simnet::SimNetwork& net) {
  bool stopped = false;
  net.stop([&stopped] { stopped = true; });
  run_for(loop, 30, [&stopped] { return stopped; });
  if (!stopped) say("the network did not stop within 30 s");
  return stopped;
}

// The scenario on a network of nightjar-node processes in `run_dir`: one
// authority (1-second epochs) and o.nodes nodes in swarms of 3 to 6; node 0
// is the target and logs at info, as operators run it, the others at warn.
int run_scenario(const Options& o, uv_loop_t* loop, const std::filesystem::path& run_dir) {
  simnet::NetworkSetup setup;
  setup.scenario.mode = simnet::Mode::process;
  setup.scenario.authorities = 1;
  setup.scenario.nodes = o.nodes;
  setup.scenario.swarm_min = 3;  // 8 nodes: two swarms of 4
  setup.scenario.swarm_ideal = 4;
  setup.scenario.swarm_max = 6;
  setup.scenario.epoch_seconds = 1;
  setup.run_dir = run_dir;
  setup.node_binary = NIGHTJAR_NODE_BINARY;
  // The simnet's own directory fetches log here; stdout is for the JSON.
  setup.log = std::make_shared<spdlog::logger>("flood-network",
                                               std::make_shared<spdlog::sinks::null_sink_mt>());
  setup.node_log_level = "warn";
  setup.node_log_levels[0] = "info";
  auto net = simnet::make_process_network(loop, std::move(setup));
  say("starting an authority and " + std::to_string(o.nodes) + " nodes in " + run_dir.string());
  if (auto r = net->start(); !r) {
    say(r.error());
    stop_network(loop, *net);
    return 1;
  }
  constexpr double ready_timeout_s = 60;
  run_for(loop, ready_timeout_s, [&] { return net->ready() || !net->error().empty(); });
  if (!net->ready()) {
    say(net->error().empty() ? "the network did not list all " + std::to_string(o.nodes) +
                                   " nodes within " + std::to_string(int(ready_timeout_s)) + " s"
                             : net->error());
    stop_network(loop, *net);
    return 1;
  }
  const auto target_pid = net->pid(0);
  const auto target_metrics = net->metrics_port(0);
  if (!target_pid || !target_metrics) {
    say("the target has no process or serves no /metrics (" NIGHTJAR_NODE_BINARY ")");
    stop_network(loop, *net);
    return 1;
  }
  // Every node holds the full directory too, so that the clients' paths
  // through any of them work from the first store.
  const auto until = std::chrono::steady_clock::now() + 30s;
  for (std::size_t i = 0; i < o.nodes; ++i)
    if (!test::wait_for_metric(net->metrics_port(i).value_or(0), "nightjar_directory_nodes",
                               static_cast<double>(o.nodes), until)) {
      say(net->nodes()[i].name + " did not get the full directory in time (its log: " +
          (net->nodes()[i].data_dir / "node.log").string() + ")");
      stop_network(loop, *net);
      return 1;
    }
  const simnet::SimNode& target = net->nodes()[0];
  const auto dir = net->directory();
  const DirectoryEntry* target_entry = nullptr;
  for (const auto& e : dir->entries)
    if (e.node.id == target.id) target_entry = &e;
  if (!target_entry) {
    say("the target is not in the directory");
    stop_network(loop, *net);
    return 1;
  }
  const std::string target_address = target_entry->node.address.to_string();
  // The floods read the network from a file, as clients do.
  const auto network_file = run_dir / "flood-network.conf";
  if (auto r = net->config().save(network_file); !r) {
    say("cannot write " + network_file.string() + ": " + r.error());
    stop_network(loop, *net);
    return 1;
  }

  bench::JsonObject j;
  RssSampler rss{*target_pid};
  rss.start(loop);
  run_for(loop, 1.0);
  const std::uint64_t idle_kb = rss.take_max();

  LatencyClients clients(loop, net->config(), dir, target_entry->node.id,
                         LatencyOptions{o.clients, o.client_rate});
  clients.start();
  run_for(loop, 1.0);
  (void)clients.take();  // warm-up: links and first RocksDB writes
  say("measuring " + std::to_string(o.unloaded_seconds) + " s without a flood");
  run_for(loop, o.unloaded_seconds);
  const LatencySample unloaded = clients.take();
  const std::uint64_t unloaded_kb = rss.take_max();

  const auto before = scrape(*target_metrics);
  const auto cpu_before = cpu_seconds(*target_pid).value_or(0);
  const std::string seconds = std::to_string(o.flood_seconds);
  say("flooding " + target_address + " for " + seconds + " s (cells and garbage)");
  ChildProcess cells(NIGHTJAR_FLOOD_BINARY,
                     {"--network", network_file.string(), "--target", target_address, "--mode",
                      "cells", "--seconds", seconds, "--connections",
                      std::to_string(o.cell_connections), "--built-per-second",
                      std::to_string(o.built_per_second), "--json"},
                     run_dir / "flood-cells.json", run_dir / "flood-cells.err");
  ChildProcess garbage(NIGHTJAR_FLOOD_BINARY,
                       {"--network", network_file.string(), "--target", target_address, "--mode",
                        "garbage", "--seconds", seconds, "--connections",
                        std::to_string(o.garbage_connections), "--json"},
                       run_dir / "flood-garbage.json", run_dir / "flood-garbage.err");
  // The floods fetch a directory first (about a second), then flood; bounded
  // by their own --seconds, and by this wait.
  run_for(loop, o.flood_seconds + 30, [&] { return cells.wait_exit(0ms) && garbage.wait_exit(0ms); });
  for (ChildProcess* p : {&cells, &garbage}) {
    if (!p->wait_exit(0ms)) {
      p->signal(SIGTERM);
      if (!p->wait_exit(5s)) p->signal(SIGKILL);
    }
  }
  const double cpu_flood = cpu_seconds(*target_pid).value_or(0) - cpu_before;
  const LatencySample flooded = clients.take();
  const std::uint64_t flood_kb = rss.take_max();

  say("measuring " + std::to_string(o.after_seconds) + " s after the flood");
  run_for(loop, o.after_seconds);
  const LatencySample after = clients.take();
  const std::uint64_t after_kb = rss.take_max();
  const auto after_text = scrape(*target_metrics);
  const bool survived = net->pid(0).has_value() && !rss.gone;

  clients.stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&rss.timer), nullptr);
  std::error_code ec;
  const std::uint64_t log_bytes = std::filesystem::file_size(target.data_dir / "node.log", ec);
  stop_network(loop, *net);
  const bool clean_exit = net->exit_status(0) == 0;

  const double p99_unloaded = percentile(unloaded.round_trips_ms, 99);
  const double p99_flood = percentile(flooded.round_trips_ms, 99);
  const bool relays_after = after.round_trips_ms.size() >= o.clients && after.failed() <= o.clients;
  const auto cj = flood_figures(cells);
  const auto gj = flood_figures(garbage);

  j.add("nodes", o.nodes).add("clients", o.clients).add("client_rate", o.client_rate, 1);
  j.add("unloaded_seconds", o.unloaded_seconds, 1).add("flood_seconds", o.flood_seconds, 1);
  add_phase(j, "unloaded", unloaded);
  add_phase(j, "flood", flooded);
  add_phase(j, "after", after);
  j.add("p50_factor",
        percentile(unloaded.round_trips_ms, 50) > 0
            ? percentile(flooded.round_trips_ms, 50) / percentile(unloaded.round_trips_ms, 50)
            : 0.0,
        2);
  j.add("p99_factor", p99_unloaded > 0 ? p99_flood / p99_unloaded : 0.0, 2);
  j.add("target_rss_idle_mb", mb(idle_kb), 1)
      .add("target_rss_unloaded_max_mb", mb(unloaded_kb), 1)
      .add("target_rss_max_mb", mb(std::max(flood_kb, after_kb)), 1)
      .add("target_rss_end_mb", mb(rss.last_kb), 1)
      .add("target_cpu_seconds_flood", cpu_flood, 2)
      .add("target_survived", survived)
      .add("target_metrics_answered", after_text.has_value())
      .add("target_relays_after", relays_after)
      .add("target_clean_exit", clean_exit)
      .add("target_log_bytes", log_bytes);
  j.add("cells_sent", cj.value("cells_sent", std::uint64_t{0}))
      .add("cells_per_second", cj.value("cells_per_second", 0.0), 0)
      .add("built_sent", cj.value("built_sent", std::uint64_t{0}))
      .add("built_answered", cj.value("built_answered", std::uint64_t{0}))
      .add("built_refused_overloaded", cj.value("built_refused_overloaded", std::uint64_t{0}))
      .add("cell_links_closed_by_target", cj.value("links_closed_by_target", std::uint64_t{0}))
      .add("garbage_connections", gj.value("connections", std::uint64_t{0}))
      .add("garbage_dropped", gj.value("dropped_by_target", std::uint64_t{0}))
      .add("garbage_not_dropped", gj.value("not_dropped", std::uint64_t{0}))
      .add("garbage_stalled_drop_ms_max", gj.value("stalled_drop_ms_max", std::uint64_t{0}));
  add_metric_deltas(j, before, after_text);
  const bool rss_ok = o.max_rss_mb <= 0 || mb(std::max(flood_kb, after_kb)) <= o.max_rss_mb;
  j.add("max_rss_bound_mb", o.max_rss_mb, 0).add("rss_within_bound", rss_ok);
  if (o.keep) j.add("directory", run_dir.string());
  j.print();

  if (!o.check) return 0;
  const bool ok = survived && after_text && relays_after && rss_ok;
  if (!ok)
    say("check failed: the target died, went silent, stopped relaying or used too much memory");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // libuv writes to sockets with write(2): a peer that reset its connection
  // (a killed node, a dropped client) would raise SIGPIPE and end the process.
  // Ignored, it is a failed write, and the link closes.
  ::signal(SIGPIPE, SIG_IGN);
  namespace po = boost::program_options;
  Options o;
  po::options_description specific("Scenario");
  specific.add_options()("nodes", po::value(&o.nodes)->default_value(o.nodes),
                         "service nodes (4 to 32)")(
      "clients", po::value(&o.clients)->default_value(o.clients), "honest clients (2 to 16)")(
      "client-rate", po::value(&o.client_rate)->default_value(o.client_rate),
      "stores per second per client, one at a time")(
      "unloaded-seconds", po::value(&o.unloaded_seconds)->default_value(o.unloaded_seconds),
      "measuring without a flood")(
      "flood-seconds", po::value(&o.flood_seconds)->default_value(o.flood_seconds), "flooding")(
      "after-seconds", po::value(&o.after_seconds)->default_value(o.after_seconds),
      "measuring after the flood")(
      "cell-connections", po::value(&o.cell_connections)->default_value(o.cell_connections),
      "links of the cell flood")(
      "garbage-connections",
      po::value(&o.garbage_connections)->default_value(o.garbage_connections),
      "connections of the garbage flood open at once")(
      "built-per-second", po::value(&o.built_per_second)->default_value(o.built_per_second),
      "properly built cells per second in the cell flood")(
      "short", po::bool_switch(&o.short_run), "CI size: 3 s unloaded, 5 s of flood, 3 s after")(
      "check", po::bool_switch(&o.check),
      "exit 1 if the target died, stopped answering /metrics or relaying, or went over "
      "--max-rss-mb")("max-rss-mb", po::value(&o.max_rss_mb)->default_value(o.max_rss_mb),
                      "with --check: the target's resident memory bound (0: not checked)")(
      "keep", po::bool_switch(&o.keep),
      "keep the network's directory (logs, data) and print its path");
  bench::CommonOptions common;  // output is always JSON; --json is accepted
  if (auto exit_status = bench::parse_options(
          argc, argv, program,
          "Floods one node of a loopback network and measures what its clients see.", specific,
          common))
    return *exit_status;
  if (o.short_run) {
    o.unloaded_seconds = 3;
    o.flood_seconds = 5;
    o.after_seconds = 3;
  }
  if (o.nodes < 4 || o.nodes > 32) return bench::bad_option(program, "--nodes must be 4 to 32");
  if (o.clients < 2 || o.clients > 16)
    return bench::bad_option(program, "--clients must be 2 to 16");
  for (double s : {o.unloaded_seconds, o.flood_seconds, o.after_seconds})
    if (!(s > 0) || s > 3600)
      return bench::bad_option(program, "phases must last 0 to 3600 seconds");

  std::string tmpl = (std::filesystem::temp_directory_path() / "nightjar-flood-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    say("cannot make a temporary directory: " + std::string(std::strerror(errno)));
    return 1;
  }
  const std::filesystem::path run_dir = tmpl;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const int status = run_scenario(o, &loop, run_dir);
  // Whatever is left (the network's handles close in its destructor).
  (void)close_loop(&loop);
  if (!o.keep) {
    std::error_code ec;
    std::filesystem::remove_all(run_dir, ec);
  }
  return status;
}
