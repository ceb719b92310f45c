// nightjar-simnet: a whole Nightjar network on this machine, for researchers
// and for our own tests. `nightjar-simnet run` starts authorities, nodes and
// clients (in one process, or as nightjar-node processes), runs a seeded
// workload with faults, stops everything it started and reports what
// happened. docs/SIMNET.md is the guide and the reference.
//
// Exit status: 0 after a run that reported; 1 when the run failed (the
// network never became ready, a file could not be written); 2 for a usage
// or scenario error; 3 when --fail-on-loss or --fail-on-acked-loss found
// what they look for.
#pragma GCC diagnostic ignored "-Wnull-dereference"  // see node/main.cpp
#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "node/version.hpp"
#include "simnet/runner.hpp"
#include "simnet/scenario.hpp"

namespace po = boost::program_options;
using namespace nightjar::simnet;

namespace {

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_check = 3;

int usage_error(const std::string& msg) {
  std::cerr << "nightjar-simnet: " << msg << "\n";
  return exit_usage;
}

std::filesystem::path default_node_binary(const char* argv0) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv0;
  return self.parent_path() / "nightjar-node";
}

// "N@T" or "N@T:R": kill node N at T s, restart it R s later.
bool parse_kill(const std::string& text, FaultSpec& f) {
  unsigned node = 0;
  double at = 0, restart = 0;
  char tail = 0;
  int n = std::sscanf(text.c_str(), "%u@%lf:%lf%c", &node, &at, &restart, &tail);
  if (n == 3)
    f.restart_after_s = restart;
  else if (std::sscanf(text.c_str(), "%u@%lf%c", &node, &at, &tail) != 2)
    return false;
  f.kind = FaultSpec::Kind::kill;
  f.at_s = at;
  f.target.nodes = {node};
  return at >= 0 && restart >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  // libuv writes to sockets with write(2): a peer that reset its connection
  // (a killed node, a dropped client) would raise SIGPIPE and end the process.
  // Ignored, it is a failed write, and the link closes.
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << "Usage: nightjar-simnet run [options]   (nightjar-simnet run --help)\n"
                 "       nightjar-simnet --version\n";
    return argc < 2 ? exit_usage : 0;
  }
  if (std::string(argv[1]) == "--version") {
    std::cout << "nightjar-simnet " << nightjar::nightjar_version() << "\n";
    return 0;
  }
  if (std::string(argv[1]) != "run")
    return usage_error("unknown command '" + std::string(argv[1]) + "' (try: run)");

  po::options_description opts(
      "nightjar-simnet run: options (command-line values override the scenario file)");
  // clang-format off
  opts.add_options()
    ("help,h", "print this help and exit")
    ("scenario", po::value<std::string>(), "scenario file (JSON, docs/SIMNET.md)")
    ("mode", po::value<std::string>(), "inproc (Node objects in this process) or process (nightjar-node processes)")
    ("nodes", po::value<std::size_t>(), "service nodes")
    ("clients", po::value<std::size_t>(), "message clients")
    ("authorities", po::value<std::size_t>(), "directory authorities")
    ("duration", po::value<double>(), "seconds of workload")
    ("drain", po::value<double>(), "at most this many seconds of drain after the workload")
    ("ready-timeout", po::value<double>(), "at most this many seconds for every node to be listed")
    ("seed", po::value<std::uint64_t>(), "seed of the workload and fault schedule")
    ("rate", po::value<double>(), "sends per second per online client (each messages.burst messages)")
    ("size", po::value<std::uint32_t>(), "message size in bytes (a fixed size)")
    ("epoch-seconds", po::value<std::uint32_t>(), "directory epoch length")
    ("swarm-sizes", po::value<std::string>(), "MIN,IDEAL,MAX swarm size")
    ("quorum", po::value<std::uint32_t>(), "copies before a store is acknowledged (0: majority)")
    ("groups", po::value<std::size_t>(), "closed groups (groups.count); 0: none")
    ("group-size", po::value<std::size_t>(), "members per group, picked among the clients (groups.size)")
    ("group-rate", po::value<double>(), "messages per second per group (groups.rate)")
    ("check-defences", po::bool_switch(), "exit 3 if a defence the scenario sets left no trace in the nodes' figures (with --adversary)")
    ("adversary", po::bool_switch(), "record the run and report what adversaries learn (adversary.enabled; docs/ANONYMITY.md)")
    ("sybil-nodes", po::value<std::size_t>(), "with --adversary: this many adversary nodes join during the workload (adversary.sybil_nodes)")
    ("sybil-join", po::value<double>(), "seconds into the workload the Sybil nodes join (adversary.sybil_join_s)")
    ("mix-delay", po::value<double>(), "defence: mean per-hop mixing delay, ms (defences.mix_delay_ms)")
    ("loop-rate", po::value<double>(), "defence: loop cover cells per second per client (defences.loop_rate)")
    ("drop-rate", po::value<double>(), "defence: drop cover cells per second per client (defences.drop_rate)")
    ("poll-padding", po::value<double>(), "defence: a streamed long poll answers at least every this many ms (defences.poll_padding_ms)")
    ("kill", po::value<std::vector<std::string>>()->composing(),
     "N@T[:R]: kill node N at T s into the workload, restart it R s later (repeatable)")
    ("json", po::value<std::string>(), "write the report as JSON to this file")
    ("csv", po::value<std::string>(), "write messages.csv and nodes.csv into this directory")
    ("plot", po::value<std::string>(), "draw SVG plots into this directory (needs gnuplot)")
    ("run-dir", po::value<std::string>(), "data directories and logs here (kept); default: a temporary directory")
    ("keep", po::bool_switch(), "keep the temporary run directory")
    ("node-binary", po::value<std::string>(), "nightjar-node for process mode (default: next to nightjar-simnet)")
    ("log-level", po::value<std::string>()->default_value("warn"), "nodes' and clients' log level (into the run directory)")
    ("no-progress", po::bool_switch(), "no progress output on standard error")
    ("quiet", po::bool_switch(), "no summary on standard output")
    ("fail-on-loss", po::bool_switch(), "exit 3 if any sent message was lost (a group message: "
     "any member missed it, a removal did not finish, a removed member opened one)")
    ("fail-on-acked-loss", po::bool_switch(),
     "exit 3 if any acknowledged message was not received, or is not on every member of its "
     "swarm at the end");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc - 1, argv + 1, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << "Usage: nightjar-simnet run [--scenario FILE] [options]\n\n" << opts << "\n";
    return 0;
  }

  Scenario s;
  if (vm.count("scenario")) {
    auto loaded = load_scenario(vm["scenario"].as<std::string>());
    if (!loaded) return usage_error(loaded.error());
    s = std::move(*loaded);
  }
  if (vm.count("mode")) {
    const auto m = vm["mode"].as<std::string>();
    if (m == "inproc")
      s.mode = Mode::inproc;
    else if (m == "process")
      s.mode = Mode::process;
    else
      return usage_error("--mode: expected inproc or process");
  }
  if (vm.count("nodes")) s.nodes = vm["nodes"].as<std::size_t>();
  if (vm.count("clients")) s.clients = vm["clients"].as<std::size_t>();
  if (vm.count("authorities")) s.authorities = vm["authorities"].as<std::size_t>();
  if (vm.count("duration")) s.duration_s = vm["duration"].as<double>();
  if (vm.count("drain")) s.drain_s = vm["drain"].as<double>();
  if (vm.count("ready-timeout")) s.ready_timeout_s = vm["ready-timeout"].as<double>();
  if (vm.count("seed")) s.seed = vm["seed"].as<std::uint64_t>();
  if (vm.count("rate")) s.rate_per_client = vm["rate"].as<double>();
  if (vm.count("size")) {
    s.sizes = SizeDistribution{};
    s.sizes.bytes = vm["size"].as<std::uint32_t>();
  }
  if (vm.count("epoch-seconds")) s.epoch_seconds = vm["epoch-seconds"].as<std::uint32_t>();
  if (vm.count("swarm-sizes")) {
    unsigned a = 0, b = 0, c = 0;
    char tail = 0;
    if (std::sscanf(vm["swarm-sizes"].as<std::string>().c_str(), "%u,%u,%u%c", &a, &b, &c, &tail) !=
        3)
      return usage_error("--swarm-sizes: expected MIN,IDEAL,MAX");
    s.swarm_min = a;
    s.swarm_ideal = b;
    s.swarm_max = c;
  }
  if (vm.count("groups")) s.groups.count = vm["groups"].as<std::size_t>();
  if (vm.count("group-size")) s.groups.size = vm["group-size"].as<std::size_t>();
  if (vm.count("group-rate")) s.groups.rate = vm["group-rate"].as<double>();
  if (vm.count("quorum")) s.quorum = vm["quorum"].as<std::uint32_t>();
  if (vm["adversary"].as<bool>()) s.adversary.enabled = true;
  if (vm.count("sybil-nodes")) s.adversary.sybil_nodes = vm["sybil-nodes"].as<std::size_t>();
  if (vm.count("sybil-join")) s.adversary.sybil_join_s = vm["sybil-join"].as<double>();
  if (vm.count("mix-delay")) s.defences.mix_delay_ms = vm["mix-delay"].as<double>();
  if (vm.count("loop-rate")) s.defences.loop_rate = vm["loop-rate"].as<double>();
  if (vm.count("drop-rate")) s.defences.drop_rate = vm["drop-rate"].as<double>();
  if (vm.count("poll-padding")) s.defences.poll_padding_ms = vm["poll-padding"].as<double>();
  if (vm.count("kill"))
    for (const auto& k : vm["kill"].as<std::vector<std::string>>()) {
      FaultSpec f;
      if (!parse_kill(k, f)) return usage_error("--kill " + k + ": expected N@T or N@T:R");
      s.faults.push_back(f);
    }
  if (auto problem = s.check(); !problem.empty()) return usage_error(problem);

  RunOptions o;
  o.scenario = s;
  if (vm.count("run-dir")) o.run_dir = vm["run-dir"].as<std::string>();
  o.keep_run_dir = vm["keep"].as<bool>();
  o.node_binary = vm.count("node-binary")
                      ? std::filesystem::path(vm["node-binary"].as<std::string>())
                      : default_node_binary(argv[0]);
  if (vm.count("json")) o.json_file = vm["json"].as<std::string>();
  if (vm.count("csv")) o.csv_dir = vm["csv"].as<std::string>();
  if (vm.count("plot")) o.plot_dir = vm["plot"].as<std::string>();
  o.log_level = vm["log-level"].as<std::string>();
  o.progress = !vm["no-progress"].as<bool>();

  auto result = run_simnet(o);
  if (!result) {
    std::cerr << "nightjar-simnet: " << result.error() << "\n";
    return exit_failed;
  }
  if (!vm["quiet"].as<bool>()) print_summary(std::cout, result->report);
  const auto& c = result->report.counts;
  if (vm["fail-on-loss"].as<bool>() && c.lost > 0) {
    std::cerr << "nightjar-simnet: " << c.lost << " messages lost\n";
    return exit_check;
  }
  if (vm["check-defences"].as<bool>()) {
    const auto& a = result->report.anonymity;
    if (!a) {
      std::cerr << "nightjar-simnet: --check-defences needs the adversary record (--adversary)\n";
      return exit_check;
    }
    for (const auto& unseen : a->defences_unseen) {
      std::cerr << "nightjar-simnet: " << unseen << " set, but the nodes saw none\n";
      return exit_check;
    }
  }
  if (vm["fail-on-acked-loss"].as<bool>() && c.acked_lost > 0) {
    std::cerr << "nightjar-simnet: " << c.acked_lost << " acknowledged messages lost\n";
    return exit_check;
  }
  const auto& r = result->report;
  if (r.groups && (vm["fail-on-loss"].as<bool>() || vm["fail-on-acked-loss"].as<bool>())) {
    const GroupReport& g = *r.groups;
    if (g.removed_opened > 0) {
      std::cerr << "nightjar-simnet: removed members opened " << g.removed_opened
                << " group messages sent after their removal\n";
      return exit_check;
    }
    if (g.ready_groups < g.groups) {
      std::cerr << "nightjar-simnet: " << g.groups - g.ready_groups << " groups never became ready\n";
      return exit_check;
    }
    // Every member but the sender owed each sent message; with
    // fail-on-acked-loss, each acknowledged one.
    const std::uint64_t missing = vm["fail-on-loss"].as<bool>()
                                      ? g.deliveries_expected - g.delivered
                                      : g.acked_deliveries_missing;
    if (missing > 0 || g.after_removal_delivered < g.after_removal_expected ||
        g.removals_converged < g.removals) {
      std::cerr << "nightjar-simnet: group messages lost: " << missing
                << " deliveries to members missing; " << g.removals - g.removals_converged
                << " removals not re-keyed; "
                << g.after_removal_expected - g.after_removal_delivered
                << " members missed the message after the removal\n";
      return exit_check;
    }
  }
  if (vm["fail-on-acked-loss"].as<bool>() && r.acked_checked &&
      r.acked_on_every_member < *r.acked_checked) {
    std::cerr << "nightjar-simnet: " << *r.acked_checked - r.acked_on_every_member
              << " acknowledged messages not on every member of their swarm at the end ("
              << r.acked_held_nowhere << " on no node)\n";
    return exit_check;
  }
  return 0;
}
