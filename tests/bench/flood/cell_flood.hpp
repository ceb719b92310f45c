// CellFlood: the cell half of nightjar-flood. It opens anonymous links to the
// target exactly as a client does (real handshake, real frames) and sends
// onion cell frames of the network's cell size as fast as the links take
// them. Almost all are random bytes — the worst case for the target, whose
// alpha parity bit is set to the target's live onion key so that each costs
// it a full peel (one X25519) before the MAC fails, as long as the link's rate
// limit lets the frame through. A few per second are properly built cells
// through the target and two other nodes to a third (an `info` request):
// they cost the flood 4 X25519 each and make the target relay, remember a
// reply route and fill its replay cache, as real traffic does.
//
// A link the target closes is opened again; everything stops at stop() or
// after `max_cells`. One thread: the loop's.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "routing/onion_cell.hpp"
#include "routing/random_source.hpp"
#include "tests/bench/flood/flood_target.hpp"

namespace nightjar::flood {

struct CellFloodOptions {
  std::size_t connections = 8;
  std::uint64_t max_cells = 100'000'000;
  std::uint64_t built_per_second = 50;  // properly built cells; 0: none
  std::uint64_t cells_per_second = 0;   // all cells; 0: as fast as the links take them
};

struct CellFloodStats {
  std::uint64_t cells_sent = 0;    // random and built
  std::uint64_t built_sent = 0;
  std::uint64_t bytes_sent = 0;    // frame bytes handed to the links
  std::uint64_t links_opened = 0;
  std::uint64_t links_closed_by_target = 0;
  std::uint64_t link_failures = 0;   // dials that did not connect or handshake
  std::uint64_t answers = 0;         // built cells answered by their destination
  std::uint64_t refused = 0;         // built cells answered "overloaded"
  std::uint64_t other_errors = 0;    // other relay errors and unreadable replies
};

class CellFlood {
 public:
  CellFlood(uv_loop_t* loop, const FloodTarget& target, CellFloodOptions options);
  ~CellFlood();
  CellFlood(const CellFlood&) = delete;
  CellFlood& operator=(const CellFlood&) = delete;

  void start();
  // Closes the links and the handles; the loop then runs out.
  void stop();
  bool done() const { return stopped_ || stats_.cells_sent >= options_.max_cells; }
  const CellFloodStats& stats() const { return stats_; }

 private:
  struct Conn {
    std::shared_ptr<Link> link;
    std::uint64_t redial_at_ms = 0;
  };
  void open(std::size_t slot);
  void pump();
  bool send_one(Link& link, bool built);
  std::vector<std::uint8_t> random_cell();
  std::vector<std::uint8_t> built_cell(std::uint64_t request_id);
  void on_frame(Bytes frame);
  std::uint64_t elapsed_ms() const;

  uv_loop_t* loop_;
  const FloodTarget& target_;
  CellFloodOptions options_;
  CellFloodStats stats_;
  SystemRandom rng_;
  std::vector<Conn> conns_;
  std::unordered_map<std::uint64_t, std::vector<ReplyKey>> built_pending_;
  std::vector<std::uint8_t> frame_;
  std::uint64_t start_ms_ = 0;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
  uv_idle_t* idle_ = nullptr;    // sends while the links have room; freed in its close callback
  uv_timer_t* timer_ = nullptr;  // wakes the sender when the links were full or the rate is met
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nightjar::flood
