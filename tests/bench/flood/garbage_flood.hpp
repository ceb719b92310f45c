// GarbageFlood: the garbage half of nightjar-flood. It keeps `connections`
// raw TCP connections open to the target, each misbehaving in one way, and
// opens a new one whenever one ends:
//
//   random_bytes       a burst of random bytes instead of a handshake
//   bad_handshake      a handshake header followed by random keys and tags
//   stalled_handshake  part of a handshake, then nothing (holds a slot until
//                      the target's handshake timeout)
//   oversized_frame    a real anonymous handshake, then a frame length far
//                      over the maximum (or under the minimum)
//   bad_frame          a real handshake, then a frame of random bytes
//
// It counts, per kind, the connections the target dropped and those it had
// not dropped after `hold_ms` (closed by the flood, and reported: the target
// should drop every one). One thread: the loop's.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <string>

#include "tests/bench/flood/flood_target.hpp"

namespace nightjar::flood {

enum class GarbageKind { random_bytes, bad_handshake, stalled_handshake, oversized_frame, bad_frame };
inline constexpr std::size_t garbage_kinds = 5;
const char* to_string(GarbageKind k);

struct GarbageFloodOptions {
  std::size_t connections = 64;          // open at once
  std::uint64_t max_connections = 1'000'000;
  std::uint64_t hold_ms = 15'000;        // longer than the target's handshake timeout (10 s)
};

struct GarbageKindStats {
  std::uint64_t opened = 0;
  std::uint64_t dropped = 0;      // the target closed the connection
  std::uint64_t not_dropped = 0;  // still open after hold_ms: closed by the flood
};

struct GarbageFloodStats {
  std::uint64_t connections = 0;     // connections attempted
  std::uint64_t connect_failed = 0;
  std::uint64_t handshakes = 0;      // real handshakes completed (frame kinds)
  std::uint64_t bytes_sent = 0;
  std::uint64_t open_at_stop = 0;
  std::uint64_t stalled_drop_ms_max = 0;  // longest a stalled handshake was held
  std::array<GarbageKindStats, garbage_kinds> kinds{};
};

class GarbageFlood {
 public:
  GarbageFlood(uv_loop_t* loop, const FloodTarget& target, GarbageFloodOptions options);
  ~GarbageFlood();
  GarbageFlood(const GarbageFlood&) = delete;
  GarbageFlood& operator=(const GarbageFlood&) = delete;

  void start();
  // Closes every connection and handle; the loop then runs out.
  void stop();
  bool done() const { return stopped_ || stats_.connections >= options_.max_connections; }
  const GarbageFloodStats& stats() const { return stats_; }

 private:
  struct Conn;
  void top_up();
  void open_one();
  void connected(Conn& c, int status);
  void readable(Conn& c, ssize_t n, const uv_buf_t* buf);
  void misbehave(Conn& c);
  void write(Conn& c, std::vector<std::uint8_t> bytes);
  void finish(Conn& c, bool dropped_by_target);

  uv_loop_t* loop_;
  const FloodTarget& target_;
  GarbageFloodOptions options_;
  GarbageFloodStats stats_;
  std::size_t open_ = 0;
  Conn* first_ = nullptr;  // every open connection, in a list (freed in their close callbacks)
  bool stopped_ = false;
  uv_timer_t* timer_ = nullptr;  // tops up the connections; freed in its close callback
};

}  // namespace nightjar::flood
