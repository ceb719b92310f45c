// Replicated stores for store_bench: durable stores per second acknowledged by
// a quorum of a real 5-member swarm on loopback.
//
// One authority and five nightjar::Node service nodes (the daemon's code) run
// on one libuv loop in this process, each with its own RocksDB store on disk,
// fsync on (as in production). A StorageClient sends store requests through
// real onion paths (`relays` relays, then a member of the recipient's swarm, members
// taken in turn; or straight to the member, a one-hop cell, when `relays` is
// 0), keeping `in_flight` requests outstanding; a store counts
// when its answer says ok with at least a quorum (3 of 5) of durable copies.
//
// What the figure means on one machine: every member's synced write happens
// on the same loop thread and the same disk, one after another, so the five
// replicas of a store cost five fsyncs in series. `replicated_disk_ratio` in
// store_bench divides replicas written per second (5 per store) by the raw
// fdatasync rate measured in the same run: the share of the disk's sync rate
// that became replicas. Across machines the members' writes run in parallel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nightjar::bench {

struct ReplicatedFigures {
  double stores_per_s = 0;     // ok answers with >= quorum replicas, per wall second
  std::size_t acked = 0;       // such answers in the timed window
  std::size_t failed = 0;      // any other outcome (error, timeout, too few replicas)
  std::size_t members = 0;     // swarm size
  std::size_t quorum = 0;      // copies needed for an acknowledgement
  double mean_replicas = 0;    // copies reported durable per acknowledged store
  double seconds = 0;          // length of the timed window
  // CPU time of the whole process (every node, the client, RocksDB's and
  // libuv's threads) over the timed window and its drain.
  double cpu_seconds = 0;
  std::vector<double> ack_ms;  // send to acknowledgement, per acknowledged store
};

// Starts the network in a temporary directory under $TMPDIR (removed at the
// end), waits (bounded) for the directory, warms up, then stores for `seconds`
// with `in_flight` outstanding requests of `body_bytes` each. Throws
// std::runtime_error when the network does not come up.
ReplicatedFigures measure_replicated_stores(double seconds, std::size_t in_flight,
                                            std::size_t body_bytes, std::size_t relays);

}  // namespace nightjar::bench
