// The run plan of a scenario, as pure functions of the Scenario and its seed:
// when each client is offline (plan_online), which messages are sent when,
// by whom, to whom and how long (plan_messages), and the timed fault events
// (plan_faults). The runner (runner.hpp) only carries the plan out, so the
// same seed gives the same workload and fault schedule; node and client keys
// are fresh every run, which is why faults that name "members of one swarm"
// are resolved when they happen (pick_swarm_members), from a seeded pick.
//
// Randomness: SimRandom (a std::mt19937_64 with its own uniform, exponential
// and normal draws, so the plan does not depend on the standard library's
// distribution code), one stream per purpose derived from the seed, so that
// adding a fault does not change the messages.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "routing/bytes.hpp"
#include "simnet/scenario.hpp"

namespace nightjar::simnet {

class SimRandom {
 public:
  // `stream` separates purposes: the same seed, another stream, other numbers.
  SimRandom(std::uint64_t seed, std::uint64_t stream);
  std::uint64_t next() { return engine_(); }
  double uniform();                  // [0, 1)
  std::size_t below(std::size_t n);  // [0, n), n > 0
  double exponential(double rate);   // mean 1/rate
  double normal();                   // mean 0, deviation 1
  // `k` distinct values of [0, n), in the order drawn (k <= n).
  std::vector<std::size_t> distinct(std::size_t n, std::size_t k);

 private:
  std::mt19937_64 engine_;
};

std::uint32_t sample_size(const SizeDistribution& d, SimRandom& rng);

// Offline windows per client, in seconds from the start of the workload,
// sorted and merged.
struct OnlinePlan {
  std::vector<std::vector<std::pair<double, double>>> offline;  // per client
  bool online(std::size_t client, double at_s) const;
  // The next time (>= at_s) the client is online.
  double next_online(std::size_t client, double at_s) const;
};
OnlinePlan plan_online(const Scenario& s);

struct PlannedMessage {
  std::uint64_t index = 0;  // in time order
  double at_s = 0;          // from the start of the workload
  std::size_t sender = 0;
  std::size_t recipient = 0;
  std::uint32_t bytes = 0;
};
// Each client sends a Poisson stream of bursts at rate_per_client while it is
// online: `burst` messages at the same instant to one recipient, uniform
// among the other clients. At most max_messages, the earliest ones.
std::vector<PlannedMessage> plan_messages(const Scenario& s, const OnlinePlan& online);

// Closed groups (Scenario::groups): each group's members as client indices,
// the admin first, and the member its removal takes out (never the admin).
struct PlannedGroup {
  std::vector<std::size_t> members;
  std::size_t removed = 0;
};
std::vector<PlannedGroup> plan_groups(const Scenario& s);

struct PlannedGroupMessage {
  std::uint64_t index = 0;  // in time order, its own numbering
  double at_s = 0;
  std::size_t group = 0;
  std::size_t sender = 0;  // client index
  std::uint32_t bytes = 0;
};
// Each group gets a Poisson stream at groups.rate; each message's sender is
// drawn among the members online at that instant (none online: no
// message). At most max_messages, the earliest ones.
std::vector<PlannedGroupMessage> plan_group_messages(const Scenario& s, const OnlinePlan& online,
                                                     const std::vector<PlannedGroup>& groups);

// A planned message's text: "nightjar-simnet <index>\n" padded to `bytes`
// (or longer, if the header needs more) with filler, so the recipient's side
// can tell which planned message arrived whatever the client does with IDs.
// The filler is not secret; nothing logs it.
std::vector<std::uint8_t> message_text(std::uint64_t index, std::uint32_t bytes);
// The index in such a text; nullopt for any other text.
std::optional<std::uint64_t> parse_message_index(Bytes text);

struct FaultEvent {
  enum class Kind { kill, restart, partition_start, partition_end, link_start, link_end };
  double at_s = 0;
  Kind kind = Kind::kill;
  std::size_t fault = 0;           // index in Scenario::faults
  std::vector<std::size_t> nodes;  // resolved now (lists and seeded counts)
  std::size_t swarm_members = 0;   // resolved at run time with pick_swarm_members
  bool each_swarm = false;         // swarm_members of every swarm (each_swarm_members)
  std::uint64_t pick = 0;          // the seeded choice for that
  bool all_nodes = false;          // link faults without a target
};
const char* to_string(FaultEvent::Kind k);
// Every start and end, sorted by time (ties keep the scenario's order; an end
// comes before a start at the same time).
std::vector<FaultEvent> plan_faults(const Scenario& s);

// `count` members of one swarm: the swarm is swarms[pick % swarms with at
// least `count` members] (or the largest, if none), the members the first
// `count` of it after a seeded shuffle. `swarms` lists node indices.
std::vector<std::size_t> pick_swarm_members(const std::vector<std::vector<std::size_t>>& swarms,
                                            std::size_t count, std::uint64_t pick);
// `count` members of every swarm (all of a smaller one), each swarm's after
// its own seeded shuffle; sorted, without repeats.
std::vector<std::size_t> each_swarm_members(const std::vector<std::vector<std::size_t>>& swarms,
                                            std::size_t count, std::uint64_t pick);

}  // namespace nightjar::simnet
