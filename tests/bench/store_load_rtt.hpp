// Relay round trips while a node absorbs a store flood, for store_bench: what
// "the loop never waits on the disk" buys the traffic that only crosses a
// node.
//
// A network of nightjar-node processes on loopback (the simnet's process
// network: one authority, 6 nodes, swarms of 3, fsync on as in production,
// no per-client rate limit) is started under a temporary directory. Node 0 is
// the target T. A prober in this process sends `info` requests, one at a
// time every 10 ms, through T and two other relays to a node outside T's
// swarm, so T is the only node of the path that stores anything; it records
// their round trips, first with the network idle, then while a flood client
// sends stores whose destination is T (through T's two swarm peers as
// relays: every store is written by T and replicated to its swarm, synced):
// `rate` a second (0: as fast as it can), at most `in_flight` outstanding.
// The flood client is this executable again, in a process of its own
// (store_flood_child_main), so the prober's loop does nothing else and the
// flood's cell building is not counted against the probes. The flood's
// acknowledged stores per second are reported too.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace nightjar::bench {

struct StoreLoadFigures {
  std::vector<double> idle_rtt_ms;   // probes answered ok, network idle
  std::vector<double> load_rtt_ms;   // probes answered ok, during the flood
  std::size_t idle_failed = 0, load_failed = 0;
  double flood_stores_per_s = 0;     // flood stores acknowledged (ok) per second
  std::size_t flood_acked = 0, flood_failed = 0;
  double seconds = 0;                // length of each phase
  double target_cpu_idle = 0, target_cpu_load = 0;  // T's CPU time / wall time per phase
  std::size_t nodes = 0, swarm_members = 0;
};

// Throws std::runtime_error when the network does not come up or its shape
// does not allow the paths above. `node_binary`: the nightjar-node to run.
struct StoreLoadOptions {
  double seconds = 4.0;       // each phase
  double rate = 1'000;        // flood stores per second; 0: closed loop
  std::size_t in_flight = 256;
  std::size_t body_bytes = 400;
  std::string node_binary;    // the nightjar-node to run
  std::string self_binary;    // this executable (for the flood child)
};
StoreLoadFigures measure_rtt_under_store_load(const std::filesystem::path& parent,
                                              const StoreLoadOptions& options);

// The flood client's process: argv = {program, store_flood_child_flag,
// network file, target ID (hex), relay IDs (hex, comma-separated), rate,
// in flight, seconds, body bytes}. Prints "flooding" once it floods, then
// "result <acked> <failed> <seconds>" and exits.
inline constexpr const char* store_flood_child_flag = "--store-flood-child";
int store_flood_child_main(int argc, char** argv);

}  // namespace nightjar::bench
