// relay_bench: how many cells per second ONE relay forwards over real TCP on
// loopback, against the cost of the cryptography a peel cannot avoid.
//
// The relay runs alone in a child process (this executable, started again
// with the hidden --relay-child flag): a LinkListener and an OnionRelay on
// their own libuv loop, with a one-entry PeerDirectory naming the sink, wired
// as in demos/onion_demo.cpp. The child makes its own keys and reports its
// port, link key and onion key on a pipe. The parent runs, on one loop:
//  - the sender: an anonymous link to the relay, on which it sends pre-built
//    2-hop cells (relay -> sink, built with build_cell for the relay's onion
//    key; a fresh cell each time, or the replay cache would drop it), keeping
//    --in-flight cells between the sender and the sink, and respecting the
//    link's backpressure (a queue_full send waits for on_writable);
//  - the sink: a LinkListener that COUNTS the onion-cell frames the relay
//    forwards, without peeling them. Peeling would cost the sink as much as the
//    relay, and on a shared machine the sink would then limit the rate; the
//    relay's work is the same either way.
// The sink never answers, so the relay's table entries expire instead of being
// answered: the child sets entry_ttl to 2 s (not 120 s), which keeps the table
// at (rate x 2 s) entries; removing an entry costs the same either way.
//
//   forwarded_per_s            cells arriving at the sink per second of wall time
//   relay_cpu_per_cell_us      CPU time of the relay process (user + system, so
//                              its TCP stack work too) per forwarded cell
//   forwarded_per_relay_cpu_s  cells forwarded per CPU-second of the relay process
//   bound_per_s                the peel bound (peel_bound.hpp): the raw libsodium
//                              calls one relay peel makes, per CPU-second of one core
//   ratio                      forwarded_per_relay_cpu_s / bound_per_s: the share of
//                              the relay's CPU that goes into the peel's unavoidable
//                              cryptography; the rest is link encryption (one AEAD
//                              open in, one seal out), system calls and bookkeeping
//   wall_ratio                 forwarded_per_s / bound_per_s
//
// The sender, the sink and the relay share the machine's cores (two, on the
// machines this runs on), and so do other people's processes: the wall-clock
// rate depends on who got a core when. The per-CPU-second figure does not,
// and it is the one to compare. The relay's CPU time is read from the kernel's
// CPU-time clock of the child process (clock_getcpuclockid: nanoseconds, all
// its threads, user + system), sampled at the boundaries of each slice.
//
// Rounds: after an untimed warm-up, `rounds` rounds each run one relay slice
// and one slice of the bound (in this process, while the relay is idle), and
// the medians over the rounds are reported (ratios are medians of the rounds'
// own ratios). A relay slice sends cells for its share of --seconds, then
// stops sending and lets the pipe drain: the slice is counted from its first
// send to the arrival of its last cell, and the relay's CPU from the end of the
// previous slice to the end of this one, so no cell's work falls between
// slices. Cells for a slice are built before it (untimed, on every core), as
// many as the previous slice's rate suggests plus a margin; a slice that runs
// out of cells ends early, which only shortens it.
//
// Every loop is bounded in count and in time. Loopback only.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "peel_bound.hpp"
#include "relay_process.hpp"
#include "routing/frame.hpp"
#include "routing/onion_relay.hpp"
#include "routing/wire.hpp"

namespace po = boost::program_options;
using namespace nightjar;

namespace {

constexpr const char* program = "relay_bench";
constexpr int rounds = 5;
constexpr double max_seconds = 60;  // the relay's replay cache holds 4 Mi cells per epoch
constexpr std::size_t warmup_cells = 2000;
constexpr double cells_margin = 1.3;                 // cells built per slice, over the expected use
constexpr std::size_t max_slice_bytes = 512u << 20;  // memory for one slice's cells
constexpr std::size_t max_in_flight = 100'000;
constexpr double drain_seconds = 10;  // bound on waiting for the last cells of a slice
const char* const note =
    "sender, sink and relay share the machine's cores: compare the per-CPU-second figures "
    "(ratio), not the wall-clock ones";

// --- Cells ------------------------------------------------------------------------

// Builds onion-cell frames for `path`, each with a fresh cell (a relay drops a
// cell it has seen) and its own request ID, on every core: building costs
// about four times what peeling does, and is not what is measured.
class CellBuilder {
 public:
  CellBuilder(std::size_t cell_bytes, std::vector<OnionHop> path)
      : cell_bytes_(cell_bytes),
        path_(std::move(path)),
        threads_(std::clamp(std::thread::hardware_concurrency(), 1u, 8u)) {}

  void add(std::vector<std::vector<std::uint8_t>>& frames, std::size_t n) {
    const std::size_t first = frames.size();
    frames.resize(first + n);
    std::atomic<bool> failed{false};
    auto work = [&](std::size_t lane) {
      SystemRandom rng;
      for (std::size_t i = first + lane; i < first + n && !failed; i += threads_) {
        auto built = build_cell(cell_bytes_, path_, as_bytes("relay_bench"), rng);
        if (!built) {
          failed = true;
          return;
        }
        auto& f = frames[i];
        f.resize(onion_frame_header + cell_bytes_);
        f[0] = static_cast<std::uint8_t>(FrameType::onion_cell);
        store_u64(f.data() + 1, next_id_ + (i - first));
        std::memcpy(f.data() + onion_frame_header, built->cell.data(), cell_bytes_);
      }
    };
    std::vector<std::thread> helpers;
    for (std::size_t lane = 1; lane < threads_; ++lane)
      helpers.emplace_back(work, lane);
    work(0);
    for (auto& h : helpers)
      h.join();
    if (failed) throw std::runtime_error("build_cell failed");
    next_id_ += n;
  }

 private:
  std::size_t cell_bytes_;
  std::vector<OnionHop> path_;
  std::size_t threads_;
  std::uint64_t next_id_ = 1;
};

// --- The parent's traffic: sender and sink on one loop ------------------------------

struct Traffic {
  std::size_t cell_bytes = 0;
  std::size_t in_flight = 0;
  std::vector<std::vector<std::uint8_t>> frames;  // ready to send, in order
  std::size_t next = 0;                           // frames[next] goes out next
  std::uint64_t sent = 0, delivered = 0, errors = 0, odd_frames = 0;
  bool sending = false;
  bool broken = false;  // a link closed or refused a frame for good
  std::shared_ptr<Link> sender;
  std::unique_ptr<LinkListener> sink;

  std::uint64_t outstanding() const { return sent - delivered - errors; }

  void pump() {
    if (!sender || !sender->established()) return;
    while (sending && next < frames.size() && outstanding() < in_flight) {
      const SendStatus s = sender->send(frames[next]);
      if (s == SendStatus::queue_full) return;  // on_writable calls pump again
      if (s != SendStatus::ok) {
        broken = true;
        return;
      }
      ++next;
      ++sent;
    }
  }
};

// Runs the loop until pred() holds or `max_s` seconds pass; false on timeout.
// A 1 ms timer bounds each turn, so the deadline is checked even when nothing
// happens.
bool run_until(uv_loop_t* loop, uv_timer_t* tick, const std::function<bool()>& pred, double max_s) {
  bench::Stopwatch clock;
  uv_timer_start(
      tick, [](uv_timer_t*) {}, 1, 1);
  bool ok = true;
  while (!pred()) {
    if (clock.seconds() >= max_s) {
      ok = false;
      break;
    }
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_timer_stop(tick);
  return ok;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Slice {
  double wall = 0, relay_cpu = 0, parent_cpu = 0;
  std::uint64_t cells = 0;
};

struct Figures {
  std::vector<double> wall_rates, cpu_rates, bounds, ratios, wall_ratios, cpu_per_cell,
      parent_per_cell, relay_share;
  double seconds = 0;
  std::uint64_t cells = 0;
};

int run(std::size_t cell_bytes, double seconds, std::size_t in_flight, bool json) {
  const EpochSchedule schedule = bench::relay_schedule();
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t tick;
  uv_timer_init(&loop, &tick);

  Traffic t;
  t.cell_bytes = cell_bytes;
  t.in_flight = in_flight;
  LinkConfig link;
  link.prologue = bench::relay_prologue();

  // The sink: counts the relay's onion-cell frames.
  const NodeId sink_id = crypto::ed25519_generate().pub;
  const auto sink_key = std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  t.sink = std::make_unique<LinkListener>(&loop, sink_key, link, ListenerOptions{}, [&t](Link&) {
    Link::Handlers h;
    h.on_frame = [&t](Link&, Bytes f) {
      if (f.size() == onion_frame_header + t.cell_bytes &&
          f[0] == static_cast<std::uint8_t>(FrameType::onion_cell))
        ++t.delivered;
      else
        ++t.odd_frames;
      t.pump();
    };
    return h;
  });
  if (auto r = t.sink->listen(*Endpoint::parse("127.0.0.1:0")); !r)
    throw std::runtime_error("sink: " + r.error());

  // The relay, in its own process; it lives at most this long whatever happens.
  const double child_lifetime = 4 * seconds + 300;
  bench::RelayProcess relay(program, t.sink->port(), sink_key->pub, sink_id, cell_bytes,
                            child_lifetime);

  // The path of every cell, and a cell for this process's own key to measure
  // the bound with (the relay's secret key stays in the relay).
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  const std::vector<OnionHop> path = {
      OnionHop{crypto::ed25519_generate().pub, relay.onion_key(), relay.epoch()},
      OnionHop{sink_id, crypto::x25519_generate().pub, relay.epoch()}};
  OnionKeyring own_keys(schedule);
  own_keys.rotate(now);
  const std::uint64_t own_epoch = schedule.epoch_at(now);
  bench::PeelBound bound;
  {
    SystemRandom rng;
    const std::vector<OnionHop> own_path = {
        OnionHop{sink_id, own_keys.find(own_epoch)->keys.pub, own_epoch}, path[1]};
    auto cell = build_cell(cell_bytes, own_path, as_bytes("bound"), rng);
    if (!cell) throw std::runtime_error(std::string("build_cell: ") + to_string(cell.error()));
    bound.load(own_keys.find(own_epoch)->keys.sec.view(), cell->cell);
  }

  // The sender.
  Link::Handlers sender_handlers;
  sender_handlers.on_established = [&t](Link&) { t.pump(); };
  sender_handlers.on_writable = [&t](Link&) { t.pump(); };
  sender_handlers.on_frame = [&t](Link&, Bytes) {  // the relay's error replies
    ++t.errors;
    t.pump();
  };
  sender_handlers.on_closed = [&t](Link&, CloseReason) { t.broken = true; };
  t.sender = Link::dial(&loop, *Endpoint::parse("127.0.0.1:" + std::to_string(relay.port())),
                        relay.link_key(), nullptr, link, sender_handlers);

  CellBuilder builder(cell_bytes, path);
  const std::size_t frame_bytes = onion_frame_header + cell_bytes;
  const std::size_t max_slice_cells =
      std::max<std::size_t>(warmup_cells, max_slice_bytes / frame_bytes);

  // One relay slice: top the cells up to `cells`, send for `slice_s` seconds
  // (or until they run out), then drain.
  double relay_cpu_mark = relay.cpu_seconds();
  auto run_slice = [&](double slice_s, std::size_t cells) {
    t.frames.erase(t.frames.begin(), t.frames.begin() + static_cast<std::ptrdiff_t>(t.next));
    t.next = 0;
    if (t.frames.size() < cells) builder.add(t.frames, cells - t.frames.size());
    Slice s;
    const std::uint64_t delivered0 = t.delivered;
    const double parent_cpu0 = process_cpu_seconds();
    bench::Stopwatch wall;
    t.sending = true;
    t.pump();
    run_until(
        &loop, &tick,
        [&] { return t.broken || t.next == t.frames.size() || wall.seconds() >= slice_s; },
        slice_s + 1);
    t.sending = false;
    run_until(
        &loop, &tick, [&] { return t.broken || t.outstanding() == 0; }, drain_seconds);
    s.wall = wall.seconds();
    const double relay_cpu = relay.cpu_seconds();
    s.relay_cpu = relay_cpu - relay_cpu_mark;
    relay_cpu_mark = relay_cpu;
    s.parent_cpu = process_cpu_seconds() - parent_cpu0;
    s.cells = t.delivered - delivered0;
    return s;
  };
  const double relay_slice_s = seconds / rounds;
  const double bound_slice_s = std::min(0.5, relay_slice_s / 2);
  auto bound_rate = [&](double s) {
    return bench::measure_rate(bound, 10'000'000, s).per_cpu_second();
  };

  // Warm-up: links up (the relay dials the sink on its first cell), caches warm.
  const Slice warm = run_slice(relay_slice_s, warmup_cells);
  (void)bound_rate(bound_slice_s / 2);
  if (t.broken || warm.cells == 0)
    throw std::runtime_error("the relay forwarded no cells in the warm-up (" +
                             std::to_string(t.errors) + " error replies)");
  double expected_rate = static_cast<double>(warm.cells) / warm.wall;

  Figures fig;
  for (int r = 0; r < rounds && !t.broken; ++r) {
    const auto want = static_cast<std::size_t>(expected_rate * relay_slice_s * cells_margin) + 1;
    const Slice s = run_slice(relay_slice_s, std::min(want, max_slice_cells));
    const double b = bound_rate(bound_slice_s);
    if (s.cells == 0 || s.relay_cpu <= 0 || s.wall <= 0) continue;
    const double cells = static_cast<double>(s.cells);
    expected_rate = cells / s.wall;
    fig.wall_rates.push_back(cells / s.wall);
    fig.cpu_rates.push_back(cells / s.relay_cpu);
    fig.cpu_per_cell.push_back(s.relay_cpu / cells * 1e6);
    fig.parent_per_cell.push_back(s.parent_cpu / cells * 1e6);
    fig.relay_share.push_back(s.relay_cpu / s.wall);
    fig.bounds.push_back(b);
    fig.ratios.push_back(b > 0 ? cells / s.relay_cpu / b : 0.0);
    fig.wall_ratios.push_back(b > 0 ? cells / s.wall / b : 0.0);
    fig.seconds += s.wall;
    fig.cells += s.cells;
  }

  // Shut down: the links, the relay process (by its PID), the loop.
  const std::uint64_t lost = t.outstanding();
  t.sender->set_handlers({});
  t.sender->close();
  t.sink->close_links();
  t.sink->close();
  relay.stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  t.sink.reset();
  t.sender.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  if (bound.odd) throw std::runtime_error("the raw calls did not reproduce the peel's keys");
  if (fig.cells == 0) throw std::runtime_error("the relay forwarded no cells in the rounds");

  const double forwarded = bench::median(fig.wall_rates);
  const double per_cpu = bench::median(fig.cpu_rates);
  const double bound_s = bench::median(fig.bounds);
  const double ratio = bench::median(fig.ratios);
  const double wall_ratio = bench::median(fig.wall_ratios);
  const double cpu_per_cell = bench::median(fig.cpu_per_cell);
  const double parent_per_cell = bench::median(fig.parent_per_cell);
  const double relay_share = bench::median(fig.relay_share);

  if (json) {
    bench::JsonObject o;
    o.add("forwarded_per_s", forwarded, 1)
        .add("relay_cpu_per_cell_us", cpu_per_cell, 3)
        .add("forwarded_per_relay_cpu_s", per_cpu, 1)
        .add("bound_per_s", bound_s, 1)
        .add("ratio", ratio, 4)
        .add("wall_ratio", wall_ratio, 4)
        .add("cell_bytes", cell_bytes)
        .add("seconds", fig.seconds, 3)
        .add("cells", fig.cells)
        .add("rounds", fig.ratios.size())
        .add("in_flight", in_flight)
        .add("relay_cpu_share", relay_share, 3)
        .add("parent_cpu_per_cell_us", parent_per_cell, 3)
        .add("relay_errors", t.errors)
        .add("lost", lost)
        .add("odd_frames", t.odd_frames)
        .add("cpus", std::thread::hardware_concurrency())
        .add("note", note);
    o.print();
    return 0;
  }
  std::printf(
      "relay_bench: one relay process forwarding %zu-byte cells over TCP on loopback;\n"
      "median of %zu rounds (%.2f s of forwarding, %llu cells, %zu in flight)\n",
      cell_bytes, fig.ratios.size(), fig.seconds, static_cast<unsigned long long>(fig.cells),
      in_flight);
  std::printf("  %-44s %12.1f/s\n", "forwarded, per wall-clock second", forwarded);
  std::printf("  %-44s %12.1f/s\n", "forwarded, per CPU-second of the relay", per_cpu);
  std::printf("  %-44s %12.3f us\n", "relay CPU per cell", cpu_per_cell);
  std::printf("  %-44s %12.1f/s\n", "peel bound (raw calls of one peel, one core)", bound_s);
  std::printf("  %-44s %14.4f\n", "ratio (per relay CPU-second / bound)", ratio);
  std::printf("  %-44s %14.4f\n", "wall_ratio (per wall-clock second / bound)", wall_ratio);
  std::printf("  %-44s %14.3f\n", "cores the relay used (CPU / wall)", relay_share);
  std::printf("  %-44s %12.3f us\n", "sender + sink CPU per cell", parent_per_cell);
  std::printf("  %-44s %llu error replies, %llu lost, %llu odd frames\n", "relay failures",
              static_cast<unsigned long long>(t.errors), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(t.odd_frames));
  std::printf("  note: %s (%u cores here)\n", note, std::thread::hardware_concurrency());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  if (!crypto::init()) {
    std::fprintf(stderr, "%s: libsodium failed to initialise\n", program);
    return 1;
  }
  // Logs go to stderr: stdout carries --json (and, in the child, its report).
  spdlog::set_default_logger(spdlog::stderr_color_st("relay_bench"));
  spdlog::set_level(spdlog::level::warn);
  if (argc > 1 && std::string_view(argv[1]) == bench::relay_child_flag)
    return bench::relay_child_main(argc, argv);

  std::size_t cell_bytes = onion::default_cell_bytes;
  double seconds = 3.0;
  std::size_t in_flight = 512;
  po::options_description specific("Benchmark");
  specific.add_options()("cell-bytes",
                         po::value<std::size_t>(&cell_bytes)->default_value(cell_bytes),
                         "cell size in bytes (552..16384)")(
      "seconds", po::value<double>(&seconds)->default_value(seconds),
      "time spent forwarding, over all rounds, in seconds (> 0, at most 60); building the "
      "cells and measuring the bound are extra")(
      "in-flight", po::value<std::size_t>(&in_flight)->default_value(in_flight),
      "cells sent and not yet arrived at the sink, at most (1..100000)");
  bench::CommonOptions common;
  if (auto exit_status = bench::parse_options(
          argc, argv, program,
          "relay_bench: cells per second one relay process forwards over TCP on loopback, per "
          "CPU-second of the relay, against the raw libsodium calls a peel must make.",
          specific, common))
    return *exit_status;
  if (!onion::valid_cell_size(cell_bytes))
    return bench::bad_option(program, "--cell-bytes must be " +
                                          std::to_string(onion::min_cell_bytes) + ".." +
                                          std::to_string(onion::max_cell_bytes));
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > max_seconds)
    return bench::bad_option(program, "--seconds must be > 0 and at most 60");
  if (in_flight < 1 || in_flight > max_in_flight)
    return bench::bad_option(program, "--in-flight must be 1..100000");
  try {
    return run(cell_bytes, seconds, in_flight, common.json);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}
