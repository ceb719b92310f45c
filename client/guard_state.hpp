// Guard state: the small text blob in which a client keeps its guard nodes
// across restarts, with each guard's current failure streak (so that a guard
// that has been down for hours is not forgiven by a restart). PathSelector
// produces it (save_guards) and reads it back (load_guards); the client
// library stores it in its profile directory. The format is in docs/PATHS.md:
//
//   nightjar guards v1\n
//   guard <node ID, 64 lowercase hex> <failures> <first_failure_ms> <last_failure_ms>\n
//   ... (at most max_guards guard lines)
//
// The encoding is canonical: parse_guard_state accepts exactly the texts that
// encode_guard_state produces, so a file that was edited or damaged is
// rejected with an error naming the line, never half-read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "routing/result.hpp"
#include "swarm/swarm_ring.hpp"

namespace nightjar {

struct GuardRecord {
  NodeId id;
  std::uint32_t failures = 0;          // counted failures since the last success
  std::uint64_t first_failure_ms = 0;  // unix ms; 0 when failures == 0
  std::uint64_t last_failure_ms = 0;   // unix ms; 0 when failures == 0
  friend bool operator==(const GuardRecord&, const GuardRecord&) = default;
};

inline constexpr std::string_view guard_state_header = "nightjar guards v1";
inline constexpr std::size_t max_guard_state_guards = 16;
inline constexpr std::size_t max_guard_state_bytes = 4096;

// A record is valid when failures == 0 with both times 0, or failures > 0 with
// first_failure_ms <= last_failure_ms.
bool valid(const GuardRecord& r);

// Throws std::invalid_argument for more than max_guard_state_guards records,
// an invalid record or a repeated ID: the caller built them, so that is a bug.
std::string encode_guard_state(std::span<const GuardRecord> guards);

// The records of a guard state text, in order; the error says which line is
// wrong and why.
Result<std::vector<GuardRecord>, std::string> parse_guard_state(std::string_view text);

}  // namespace nightjar
