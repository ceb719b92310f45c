// PathSelector: chooses the onion paths of a client. The client library's send
// and receive code asks it for a path to a recipient's swarm (or to one node)
// before each OnionClient::send, and tells it how the request went, so that
// failing nodes are avoided for a while. It also keeps the client's guards: a
// few nodes, chosen once and kept across restarts (save_guards/load_guards), that
// are the only first hops the client uses, so that a hostile node is unlikely
// ever to see the client's address next to its traffic. The first guard_count
// guards are primary; the rest are backups, first hops only while every
// primary guard is in backoff (as Tor falls back along its guard sample).
//
// Pure and single-threaded: no clock, no I/O; times are passed in, and all
// randomness comes from the RandomSource, so a DeterministicRandom makes it
// reproducible (tests, the simnet). The policy (hop count for tiny networks,
// guards, network diversity, backoff, blame for timeouts) is in docs/PATHS.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/guard_state.hpp"
#include "client/node_backoff.hpp"
#include "routing/endpoint.hpp"
#include "routing/random_source.hpp"
#include "swarm/directory.hpp"

namespace nightjar {

struct RequestFailure;  // client/onion_client.hpp

enum class GuardUse {
  random,        // a random usable guard for every path (spreads load, keeps every link warm)
  first_usable,  // the first usable guard in guard order (Tor's primary guard: fewer guards see us)
};

struct PathConfig {
  std::size_t relays = 3;  // relays before the destination
  std::size_t min_relays =
      1;  // fewer (tiny network) is an error: never connect to a destination directly
  std::size_t guard_count = 3;  // primary guards; >= 1
  // Guards kept behind the primary ones, first hops only while every primary
  // guard is in backoff. guard_count + backup_guards <= max_guard_state_guards,
  // so that the guard state text can hold them all.
  std::size_t backup_guards = 3;
  GuardUse guard_use = GuardUse::random;
  BackoffConfig backoff;
  // A guard is dropped after guard_drop_failures counted failures with no
  // success for guard_drop_after_ms; or guard_drop_offline_ms when no node at
  // all has succeeded meanwhile (the client is probably offline, not the guard).
  std::uint32_t guard_drop_failures = 6;
  std::uint64_t guard_drop_after_ms = 30 * 60'000;
  std::uint64_t guard_drop_offline_ms = 24 * 3'600'000;
};

struct Path {
  std::vector<NodeId> relays;  // relays[0] is the first hop
  NodeId destination;
  bool diverse = true;      // every node of the path is in its own network prefix
  bool guard_first = true;  // relays[0] is a guard
  bool fallback = false;    // a node in backoff was used: every alternative was in backoff too
};

enum class PathError {
  no_directory,         // set_directory was never called
  unknown_swarm,        // the swarm has no usable member (besides the excluded one)
  unknown_destination,  // the destination is not in the directory or has no live onion key
  too_few_nodes,        // fewer than min_relays usable nodes besides the destination
};
const char* to_string(PathError e);

// How often each node was chosen at a position.
using UseCounts = std::map<NodeId, std::uint64_t, NodeIdLess>;

// Figures for the simnet's report.
struct PathStats {
  std::uint64_t paths = 0;
  std::uint64_t short_paths = 0;        // fewer than PathConfig::relays relays
  std::uint64_t non_diverse_paths = 0;  // Path::diverse false
  std::uint64_t fallback_paths = 0;     // Path::fallback true
  std::uint64_t non_guard_first_hops = 0;
  std::uint64_t backup_guard_first_hops = 0;  // relays[0] a backup guard
  std::uint64_t guards_added = 0;
  std::uint64_t guards_dropped_gone = 0;     // left the directory
  std::uint64_t guards_dropped_failing = 0;  // failed too long
  UseCounts first_hop_use;                   // relays[0]
  UseCounts middle_use;                      // relays[1..]
};

// The network prefix used for diversity: the /16 of an IPv4 address (also
// IPv4-mapped IPv6), the /32 of an IPv6 address; the family is part of the
// value, so IPv4 and IPv6 prefixes never collide. 0 when there is no address.
std::uint64_t network_prefix(const Endpoint& e);

// Shannon entropy, in bits, of the empirical distribution of choices:
// -sum(p_i * log2 p_i) with p_i = counts_i / total. log2(n) when n nodes were
// chosen equally often; 0 when one node took every choice or nothing was
// counted. A plug-in estimate: biased low unless total is much larger than
// the number of nodes.
double relay_choice_entropy_bits(const UseCounts& counts);

class PathSelector {
 public:
  // Throws std::invalid_argument for a config out of range (start-up error).
  PathSelector(PathConfig config, RandomSource& rng);

  // Takes a new directory: forgets the failures of nodes that left it, drops
  // guards that left it, and picks guards up to guard_count + backup_guards
  // (or the number of nodes, if smaller). Null means no directory: paths
  // fail, guards stay.
  void set_directory(std::shared_ptr<const Directory> d);
  const std::shared_ptr<const Directory>& directory() const { return directory_; }

  // now_ms: the client's estimate of network time, in unix ms (the clock the
  // OnionClient uses, with its offset), for onion key validity and backoff.
  // A destination chosen uniformly among the swarm's usable members not in
  // backoff, never `exclude_destination` (a member that just failed).
  Result<Path, PathError> path_to_swarm(SwarmId swarm, std::uint64_t now_ms,
                                        std::optional<NodeId> exclude_destination = {});
  Result<Path, PathError> path_to_node(const NodeId& destination, std::uint64_t now_ms);

  void report_failure(const NodeId& node, std::uint64_t now_ms);
  void report_success(const NodeId& node, std::uint64_t now_ms);
  // Every node of the path worked.
  void report_path_success(const Path& path, std::uint64_t now_ms);
  // Blames the node the failure names, credits the relays that forwarded
  // before it, and spreads a timeout over the whole path (docs/PATHS.md).
  void report_path_failure(const Path& path, const RequestFailure& f, std::uint64_t now_ms);

  // The guard state blob (client/guard_state.hpp) the caller keeps in its
  // profile directory.
  std::string save_guards() const;
  // Replaces the guards (and their failure streaks) with the saved ones; the
  // first guard_count + backup_guards are kept. On error nothing changes.
  Result<void, std::string> load_guards(std::string_view text);
  // Every guard, primary then backup, in the order they were chosen: the
  // nodes that may see the client's address.
  const std::vector<NodeId>& guards() const { return guards_; }
  // The first guard_count guards (fewer in a tiny network): the first hops
  // while any of them is out of backoff.
  std::span<const NodeId> primary_guards() const;
  // The guards after the primary ones, in order.
  std::span<const NodeId> backup_guards() const;

  const NodeBackoff& backoff() const { return backoff_; }
  const PathStats& stats() const { return stats_; }
  void reset_stats() { stats_ = PathStats{}; }

 private:
  struct Candidate {
    const DirectoryEntry* entry;
    std::uint64_t prefix;
  };
  struct Pick {
    const Candidate* node = nullptr;
    bool diverse = true;
    bool fallback = false;
  };
  using HealthyFn = bool (PathSelector::*)(const Candidate&, std::uint64_t) const;

  // The relays for a destination already chosen (fallback: it was in backoff).
  Result<Path, PathError> build(const Candidate& destination, bool fallback, std::uint64_t now_ms);
  // The first hop of a path to `dest` (docs/PATHS.md, "Guards": primary,
  // else backup, else any node); sets path.guard_first.
  Pick pick_first_hop(const NodeId& dest, const std::vector<std::uint64_t>& prefixes,
                      const std::vector<const Candidate*>& others, std::uint64_t now_ms,
                      Path& path);
  Pick pick(const std::vector<const Candidate*>& candidates,
            const std::vector<std::uint64_t>& used_prefixes, HealthyFn healthy,
            std::uint64_t now_ms, bool take_first);
  bool not_avoided(const Candidate& c, std::uint64_t now_ms) const;
  bool never_failed(const Candidate& c, std::uint64_t now_ms) const;
  bool usable(const Candidate& c, std::uint64_t now_ms) const;
  const Candidate* candidate(const NodeId& id) const;
  // The guard drop rule of PathConfig (docs/PATHS.md, "Guards").
  bool guard_failed_too_long(const NodeId& guard, std::uint64_t now_ms) const;
  void drop_failing_guards(std::uint64_t now_ms);
  void reconcile_guards();  // drops guards gone from the directory, then fills up
  void fill_guards();
  std::size_t uniform(std::size_t n);

  PathConfig config_;
  RandomSource& rng_;
  std::shared_ptr<const Directory> directory_;
  std::vector<Candidate> nodes_;  // the directory's entries, sorted by node ID
  std::vector<NodeId> guards_;    // in the order they were chosen
  NodeBackoff backoff_;
  PathStats stats_;
};

}  // namespace nightjar
