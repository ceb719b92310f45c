// The relay that relay_bench measures, in a process of its own, so that its
// CPU time can be read apart from the sender's and the sink's.
//
// RelayProcess (the parent's side) starts this same executable again with
// relay_child_flag, reads the child's one-line report (listening port, link
// key, onion key and its epoch) from a pipe, reads the child's CPU time, and
// stops it by its PID: SIGTERM, a bounded wait, then SIGKILL.
// relay_child_main (the child's side) runs one LinkListener + OnionRelay on
// its own libuv loop, forwarding to the one peer it is told about (the sink),
// until it is stopped, its parent dies, or its lifetime ends.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

#include "routing/onion_cell.hpp"
#include "routing/onion_keys.hpp"

namespace nightjar::bench {

inline constexpr const char* relay_child_flag = "--relay-child";

// Both processes use these: the links' prologue and the onion key schedule.
std::vector<std::uint8_t> relay_prologue();
EpochSchedule relay_schedule();

class RelayProcess {
 public:
  // Starts the child and waits (bounded) for its report; throws
  // std::runtime_error if it cannot be started or does not report. The child
  // forwards every cell to `sink_id` at 127.0.0.1:`sink_port` (link key
  // `sink_link_key`) and exits by itself after `lifetime_s` seconds.
  RelayProcess(const char* program, std::uint16_t sink_port, const X25519PublicKey& sink_link_key,
               const NodeId& sink_id, std::size_t cell_bytes, double lifetime_s);
  ~RelayProcess();
  RelayProcess(const RelayProcess&) = delete;
  RelayProcess& operator=(const RelayProcess&) = delete;

  std::uint16_t port() const { return port_; }
  const X25519PublicKey& link_key() const { return link_key_; }
  const X25519PublicKey& onion_key() const { return onion_key_; }
  std::uint64_t epoch() const { return epoch_; }

  // User + system CPU time of the child so far (all its threads), in seconds:
  // its CPU-time clock (nanoseconds) or, if the kernel refuses that,
  // utime + stime from /proc/<pid>/stat (clock ticks).
  double cpu_seconds() const;
  // Stops the child (SIGTERM; SIGKILL if it has not exited within 5 s) and
  // reaps it. Only ever the process this object started.
  void stop();

 private:
  pid_t pid_ = -1;
  bool have_clock_ = false;
  clockid_t clock_{};
  std::uint16_t port_ = 0;
  X25519PublicKey link_key_, onion_key_;
  std::uint64_t epoch_ = 0;
};

// The child's main, for argv = {program, relay_child_flag, sink port, sink link
// key (hex), sink node ID (hex), cell bytes, parent PID, lifetime seconds}.
// Prints "ready <port> <link key> <onion key> <epoch>" on stdout once listening.
int relay_child_main(int argc, char** argv);

}  // namespace nightjar::bench
