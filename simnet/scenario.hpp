// Scenario: everything one simnet run does, from a JSON scenario file
// (parse_scenario) with command-line overrides applied on top (main.cpp).
// docs/SIMNET.md is the reference for every field, its unit and default;
// keep the two in step. The workload and the fault schedule (plan_online,
// plan_messages, plan_faults in workload.hpp) are pure functions of a
// Scenario, so the same seed gives the same run plan.
//
// Parsing is a start-up step: errors are one line for the researcher, naming
// the file and the field ("s.json: faults[1].at_s: expected a number").
// Unknown fields are errors, so a typo does not silently fall back to a
// default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/result.hpp"

namespace nightjar::simnet {

enum class Mode { inproc, process };
const char* to_string(Mode m);

// How long each message is, in bytes of text handed to Client::send.
struct SizeDistribution {
  enum class Kind { fixed, uniform, lognormal, choice };
  Kind kind = Kind::fixed;
  std::uint32_t bytes = 100;  // fixed
  std::uint32_t min = 32;     // uniform; lognormal (clamp)
  std::uint32_t max = 1000;   // uniform; lognormal (clamp)
  double median = 200;        // lognormal
  double sigma = 1.0;         // lognormal: of the underlying normal
  struct Choice {
    std::uint32_t bytes = 0;
    double weight = 1;
  };
  std::vector<Choice> choices;  // choice
};

// A window during which some clients do not poll their swarm (their messages
// wait in the swarm) and send nothing.
struct OfflineWindow {
  std::vector<std::size_t> clients;  // client indices
  double from_s = 0;
  double to_s = 0;
};

// `count` clients, picked by the seed, each offline for `duration_s` at a
// start picked by the seed within the workload.
struct RandomOffline {
  std::size_t count = 0;
  double duration_s = 10;
};

// Which service nodes a fault acts on: a list, a number picked by the seed,
// or a number of members of one swarm (picked by the seed at fault time,
// from the directory then in force) — or, with each_swarm, that many members
// of every swarm at once (the reliability runs: up to swarm size - quorum
// members of each swarm down together).
struct NodeSelector {
  std::vector<std::size_t> nodes;
  std::size_t count = 0;
  std::size_t swarm_members = 0;
  bool each_swarm = false;  // with swarm_members
};

struct FaultSpec {
  enum class Kind { kill, partition, link };
  Kind kind = Kind::kill;
  double at_s = 0;
  // kill: restart this long after; none: the nodes stay down.
  std::optional<double> restart_after_s;
  // partition: the selected nodes are cut off from the rest. link: only
  // frames of the selected nodes (none selected: every service node).
  NodeSelector target;
  // partition, link: how long; none: until the end of the run.
  std::optional<double> duration_s;
  // link: added one-way latency, uniform jitter on top, loss probability.
  double latency_ms = 0;
  double jitter_ms = 0;
  double loss = 0;
};

// Closed groups (docs/GROUPS.md): `count` groups of `size` members each,
// the members picked by the seed among the clients (a client may be in
// several groups), the first of them the admin that creates the group and
// adds the others. Once every member holds every other member's sender key,
// each group gets a Poisson stream of messages at `rate`, each from a member
// picked by the seed among those online. After the drain, with `removal`,
// each group's admin removes one member picked by the seed, and the run
// measures what that costs until every remaining member holds every other
// remaining member's new sender key.
struct GroupWorkload {
  std::size_t count = 0;
  std::size_t size = 10;
  double rate = 0.2;                // messages per second per group
  std::uint32_t bytes = 100;        // of text per message
  bool removal = true;
  double setup_timeout_s = 120;     // creating and filling every group
  double removal_timeout_s = 120;   // every removal's keys delivered
};

// The network's anonymity defences (NetworkParams::defences, set by the
// authorities; docs/ANONYMITY.md). All off by default.
struct DefenceSettings {
  double mix_delay_ms = 0;      // mean per-hop delay; 0: none
  double mix_delay_max_ms = 0;  // bound; 0 with a delay: 5 x the mean
  double loop_rate = 0;         // loop cells per second per client
  double drop_rate = 0;         // drop cells per second per client
  double poll_padding_ms = 0;   // 0: none
};

// The adversary models computed after the run (simnet/adversary.hpp).
struct AdversarySettings {
  bool enabled = false;
  std::vector<double> fractions{0.05, 0.10, 0.20};  // of the nodes, compromised
  std::size_t trials = 20;                          // random adversaries per fraction
  double window_ms = 1000;                          // the timing attack's parameters
  double reply_guard_ms = 300;
  double carry_ms = 2000;
  // A Sybil adversary: this many nodes of its own join the network
  // `sybil_join_s` into the workload (nodes node<N>.. after the `nodes`
  // honest ones), and the run reports what they learn together.
  std::size_t sybil_nodes = 0;
  double sybil_join_s = 10;
};

struct Scenario {
  Mode mode = Mode::inproc;
  std::uint64_t seed = 1;
  std::size_t authorities = 1;
  std::size_t nodes = 15;
  std::size_t clients = 10;
  std::uint32_t swarm_min = 5, swarm_ideal = 7, swarm_max = 10;
  std::uint32_t quorum = 0;  // 0: a majority of the swarm
  std::uint32_t epoch_seconds = 2;
  double duration_s = 60;              // the workload
  double drain_s = 20;                 // at most, after the workload
  double settle_s = 0;                 // after the drain, before the stores are read
  double ready_timeout_s = 60;         // for the network to list every node
  double client_lookback_s = 0;        // ClientOptions::lookback; 0: no sweeps
  double rate_per_client = 0.5;        // sends (bursts) per second per online client
  std::uint32_t burst = 1;             // messages per send, all to one recipient
  std::size_t max_messages = 100'000;  // a bound on the plan, whatever the rate
  SizeDistribution sizes;
  std::vector<OfflineWindow> offline;
  RandomOffline random_offline;
  std::vector<FaultSpec> faults;
  GroupWorkload groups;
  DefenceSettings defences;
  AdversarySettings adversary;

  // Empty when consistent, else the first problem ("nodes: must be at least
  // swarm.min (5)").
  std::string check() const;
};

// Service nodes of a run: the honest ones and a Sybil adversary's.
inline std::size_t total_nodes(const Scenario& s) {
  return s.nodes + (s.adversary.enabled ? s.adversary.sybil_nodes : 0);
}

// Parses a scenario file's text over the defaults. `source` names the text
// in errors.
Result<Scenario, std::string> parse_scenario(std::string_view json_text,
                                             std::string_view source = "scenario");
// Reads and parses a file (at most 1 MiB).
Result<Scenario, std::string> load_scenario(const std::string& path);

}  // namespace nightjar::simnet
