// onion_bench: how close peeling an onion cell comes to the cost of the
// cryptography a peel cannot avoid, on one core.
//
//   peel_per_s      real nightjar::peel_cell calls (relay peels: the cells are
//                   built for a 4-hop path whose first hop is the benchmarked
//                   node), with a real OnionKeyring and ReplayCache
//   bound_per_s     the raw libsodium calls one relay peel makes, in a bare loop
//   x25519_per_s    bare crypto_scalarmult
//   ratio           peel_per_s / bound_per_s        target >= 0.85
//   x25519_ratio    peel_per_s / x25519_per_s       target >= 0.84 (cells <= 4 KiB)
//   build_us        build_cell for the default path (3 relays + destination)
//   reply_wrap_*    wrap_reply on one cell, and its rate over the raw calls' rate
//
// The machine this runs on is noisy, so the rates are measured interleaved: in
// each of `rounds` rounds every rate gets one short slice (the order rotates
// from round to round), and the median over the rounds is reported. CPU
// frequency drift then moves all of them alike.
//
// Rates and build_us are per second of the benchmark thread's CPU time (see
// bench::Rate::per_cpu_second): on a shared machine, time during which other
// processes hold the core would otherwise count as slowness of whatever was
// being measured at that moment. The time limits are on wall time.
//
// Every loop is bounded both in count and in time; --seconds is the budget for
// the whole run (set-up aside).
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "peel_bound.hpp"
#include "routing/onion_cell.hpp"

namespace po = boost::program_options;
using namespace nightjar;

namespace {

constexpr const char* program = "onion_bench";

constexpr std::size_t path_hops = 4;  // the default path: 3 relays + the destination
constexpr int rounds = 5;
constexpr std::size_t max_pool_cells = 4096;  // cells built before timing
constexpr std::size_t min_pool_cells = 16;
constexpr std::uint64_t max_calls_per_slice = 10'000'000;
constexpr double max_seconds = 600;

// How --seconds is spent: building the pool of cells (this also gives
// build_us), one warm-up slice of every measurement, then the rounds.
constexpr double build_share = 0.15;
constexpr double warmup_share = 0.05;
constexpr double rounds_share = 0.80;

constexpr double ratio_target = 0.85;
constexpr double x25519_ratio_target = 0.84;
constexpr std::size_t x25519_target_max_cell = 4096;

// --- The raw calls ------------------------------------------------------------------
// PeelBound (peel_bound.hpp) is one relay peel's raw calls; relay_bench uses it too.
namespace raw = bench::raw;
using bench::PeelBound;

// One wrap_reply's libsodium calls: expand the reply key to a LIONESS key,
// then LIONESS-encrypt the whole cell.
struct WrapBound {
  std::array<std::uint8_t, 32> reply_key{}, h{};
  std::array<std::uint8_t, 128> lioness_key{};
  std::vector<std::uint8_t> cell;

  void operator()() {
    crypto_stream_chacha20_ietf(lioness_key.data(), lioness_key.size(), raw::reply_nonce,
                                reply_key.data());
    const std::uint8_t* k = lioness_key.data();
    std::uint8_t* r = cell.data() + raw::lioness_half;
    const std::size_t n = cell.size() - raw::lioness_half;
    raw::stream_round(k, r, n);
    raw::hash_round(k + 32, h.data(), r, n);
    raw::stream_round(k + 64, r, n);
    raw::hash_round(k + 96, h.data(), r, n);
    bench::keep(h);
  }
};

// --- The real thing ----------------------------------------------------------------

// Peels the pre-built cells in turn. Each cell is copied into a working buffer
// first (peel_cell works in place) and THE COPY IS TIMED as part of the peel: a
// relay has to get every cell into a buffer of its own anyway. A cell is never
// peeled twice under one ReplayCache: after each pass over the pool the cache
// is replaced by a fresh one (inside the timed loop: freeing the old cache and
// starting anew costs microseconds per pass of hundreds of peels, and the new
// cache's growth is the cost a real cache has too). Only successful relay
// peels count.
struct Peeler {
  const OnionKeyring* keyring = nullptr;
  const std::vector<std::vector<std::uint8_t>>* pool = nullptr;
  std::size_t cell_bytes = 0;
  std::uint64_t now = 0;
  std::vector<std::uint8_t> work;
  std::unique_ptr<ReplayCache> replay;
  std::size_t next = 0;
  std::uint64_t failures = 0;
  PeelDrop last_drop = PeelDrop::wrong_size;

  bool operator()() {
    if (next == pool->size() || !replay) {
      next = 0;
      // Room for twice the pool: the cache never fills.
      replay = std::make_unique<ReplayCache>(2 * pool->size());
    }
    std::memcpy(work.data(), (*pool)[next++].data(), cell_bytes);
    auto p = peel_cell(*keyring, *replay, work, cell_bytes, now);
    if (p && p->action == onion::SlotType::relay) return true;
    ++failures;
    if (!p) last_drop = p.error();
    return false;
  }
};

struct Measurement {
  const char* name;
  double weight;                              // share of a round's time, relative to the others
  std::function<double(double seconds)> run;  // returns the rate over `seconds`
  std::vector<double> samples;
};

struct Figures {
  std::size_t cell_bytes = 0;
  std::size_t pool_cells = 0;
  double build_us = 0;
  double peel = 0, bound = 0, x25519 = 0, wrap = 0, wrap_bound = 0;
  std::array<std::pair<double, double>, 5> spread{};  // min, max over the rounds
};

int run(std::size_t cell_bytes, double seconds, bool json) {
  if (!crypto::init()) {
    std::fprintf(stderr, "%s: libsodium failed to initialise\n", program);
    return 1;
  }
  const EpochSchedule schedule{3600, 600};
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  const std::uint64_t epoch = schedule.epoch_at(now);

  // The benchmarked node, first on the path; the other hops only need keys.
  OnionKeyring keyring(schedule);
  keyring.rotate(now);
  std::vector<OnionHop> path;
  path.push_back(OnionHop{crypto::ed25519_generate().pub, keyring.find(epoch)->keys.pub, epoch});
  for (std::size_t i = 1; i < path_hops; ++i)
    path.push_back(OnionHop{crypto::ed25519_generate().pub, crypto::x25519_generate().pub, epoch});

  // Pre-build the cells: bounded by count and by the build share of the budget.
  SystemRandom rng;
  std::vector<std::uint8_t> request(std::min<std::size_t>(64, onion::max_request_data(cell_bytes)),
                                    'x');
  std::vector<std::vector<std::uint8_t>> pool;
  pool.reserve(max_pool_cells);
  const double build_seconds = seconds * build_share;
  bench::Stopwatch build_clock;
  bench::CpuStopwatch build_cpu;
  while (pool.size() < max_pool_cells &&
         (pool.size() < min_pool_cells || build_clock.seconds() < build_seconds)) {
    auto built = build_cell(cell_bytes, path, request, rng);
    if (!built) {
      std::fprintf(stderr, "%s: build_cell failed: %s\n", program, to_string(built.error()));
      return 1;
    }
    pool.push_back(std::move(built->cell));
  }
  const double built_cpu_seconds = build_cpu.seconds();
  Figures fig;
  fig.cell_bytes = cell_bytes;
  fig.pool_cells = pool.size();
  fig.build_us = built_cpu_seconds / static_cast<double>(pool.size()) * 1e6;

  // One untimed peel to check the set-up, and to get a real reply key.
  std::vector<std::uint8_t> probe = pool.front();
  ReplyKey reply_key;
  {
    ReplayCache probe_cache;
    auto p = peel_cell(keyring, probe_cache, probe, cell_bytes, now);
    if (!p || p->action != onion::SlotType::relay || !(p->next_hop == path[1].node)) {
      std::fprintf(stderr, "%s: the benchmark's own cell did not peel as a relay cell (%s)\n",
                   program, p ? "wrong action or next hop" : to_string(p.error()));
      return 1;
    }
    reply_key = std::move(p->reply_key);
  }

  Peeler peeler;
  peeler.keyring = &keyring;
  peeler.pool = &pool;
  peeler.cell_bytes = cell_bytes;
  peeler.now = now;
  peeler.work.resize(cell_bytes);

  // The bound works on the node's real secret key and a real alpha, so the
  // scalar multiplication is the very one peel_cell does.
  PeelBound bound;
  bound.load(keyring.find(epoch)->keys.sec.view(), pool.front());

  std::array<std::uint8_t, 32> x25519_sec = bound.sec, x25519_point = bound.point, x25519_out{};
  std::uint64_t x25519_odd = 0;
  auto bare_x25519 = [&] {
    if (crypto_scalarmult(x25519_out.data(), x25519_sec.data(), x25519_point.data()) != 0)
      ++x25519_odd;
  };

  auto reply = make_reply(cell_bytes, reply_key, ReplyKind::response, 0, request);
  if (!reply) {
    std::fprintf(stderr, "%s: make_reply failed: %s\n", program, to_string(reply.error()));
    return 1;
  }
  std::vector<std::uint8_t> wrap_cell = *reply;
  auto wrap = [&] { wrap_reply(reply_key, wrap_cell); };
  WrapBound wrap_bound;
  std::memcpy(wrap_bound.reply_key.data(), reply_key.data(), 32);
  wrap_bound.cell = *reply;

  auto rate_of = [](auto& f) {
    return
        [&f](double s) { return bench::measure_rate(f, max_calls_per_slice, s).per_cpu_second(); };
  };
  // Order fixed here; it is the order of Figures::spread too.
  std::array<Measurement, 5> ms{{
      {"peel_cell", 1.0, rate_of(peeler), {}},
      {"bound", 1.0, rate_of(bound), {}},
      {"x25519", 1.0, rate_of(bare_x25519), {}},
      {"wrap_reply", 0.5, rate_of(wrap), {}},
      {"wrap_bound", 0.5, rate_of(wrap_bound), {}},
  }};
  double weights = 0;
  for (const auto& m : ms)
    weights += m.weight;
  const double warmup_unit = seconds * warmup_share / weights;
  const double round_unit = seconds * rounds_share / (rounds * weights);

  for (auto& m : ms)
    (void)m.run(warmup_unit * m.weight);
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t j = 0; j < ms.size(); ++j) {
      auto& m = ms[(static_cast<std::size_t>(r) + j) % ms.size()];
      m.samples.push_back(m.run(round_unit * m.weight));
    }
  }
  if (peeler.failures) {
    std::fprintf(stderr, "%s: %llu peels failed (last: %s)\n", program,
                 static_cast<unsigned long long>(peeler.failures), to_string(peeler.last_drop));
    return 1;
  }
  if (x25519_odd || bound.odd) {
    std::fprintf(stderr, "%s: the raw calls did not reproduce the peel's keys\n", program);
    return 1;
  }

  std::array<double*, 5> out{&fig.peel, &fig.bound, &fig.x25519, &fig.wrap, &fig.wrap_bound};
  for (std::size_t i = 0; i < ms.size(); ++i) {
    *out[i] = bench::median(ms[i].samples);
    const auto [lo, hi] = std::minmax_element(ms[i].samples.begin(), ms[i].samples.end());
    fig.spread[i] = {*lo, *hi};
  }
  auto div = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  const double ratio = div(fig.peel, fig.bound);
  const double x25519_ratio = div(fig.peel, fig.x25519);
  const double wrap_ratio = div(fig.wrap, fig.wrap_bound);

  if (json) {
    bench::JsonObject o;
    o.add("peel_per_s", fig.peel, 1)
        .add("bound_per_s", fig.bound, 1)
        .add("ratio", ratio, 4)
        .add("x25519_per_s", fig.x25519, 1)
        .add("x25519_ratio", x25519_ratio, 4)
        .add("cell_bytes", fig.cell_bytes)
        .add("payload_bytes", onion::payload_bytes(fig.cell_bytes))
        .add("hops_built", path_hops)
        .add("build_us", fig.build_us, 2)
        .add("reply_wrap_per_s", fig.wrap, 1)
        .add("reply_wrap_ratio", wrap_ratio, 4);
    o.print();
    return 0;
  }

  auto verdict = [](double v, double target) { return v >= target ? "met" : "NOT met"; };
  std::printf(
      "onion_bench: cells of %zu bytes (payload %zu); rates per CPU-second of one core,\n"
      "median of %d interleaved rounds of %.3f s slices\n",
      fig.cell_bytes, onion::payload_bytes(fig.cell_bytes), rounds, round_unit);
  std::printf("  %-34s %14s   %s\n", "figure", "value", "min .. max over the rounds");
  auto rate_row = [&](const char* label, std::size_t i) {
    std::printf("  %-34s %12.1f/s   %.1f .. %.1f\n", label, *out[i], fig.spread[i].first,
                fig.spread[i].second);
  };
  rate_row("peel_cell (relay peel)", 0);
  rate_row("raw primitives of one peel (bound)", 1);
  rate_row("bare crypto_scalarmult", 2);
  rate_row("wrap_reply", 3);
  rate_row("raw primitives of one wrap", 4);
  std::printf("  %-34s %11.2f us   (%zu cells, %zu hops)\n", "build_cell", fig.build_us,
              fig.pool_cells, path_hops);
  std::printf("\n  %-34s %14.4f   target >= %.2f: %s\n", "ratio (peel / bound)", ratio,
              ratio_target, verdict(ratio, ratio_target));
  if (fig.cell_bytes <= x25519_target_max_cell)
    std::printf("  %-34s %14.4f   target >= %.2f: %s\n", "x25519_ratio (peel / x25519)",
                x25519_ratio, x25519_ratio_target, verdict(x25519_ratio, x25519_ratio_target));
  else
    std::printf("  %-34s %14.4f   target >= %.2f applies to cells <= %zu bytes only\n",
                "x25519_ratio (peel / x25519)", x25519_ratio, x25519_ratio_target,
                x25519_target_max_cell);
  std::printf("  %-34s %14.4f\n", "reply_wrap_ratio (wrap / bound)", wrap_ratio);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t cell_bytes = onion::default_cell_bytes;
  double seconds = 3.0;
  po::options_description specific("Benchmark");
  specific.add_options()("cell-bytes",
                         po::value<std::size_t>(&cell_bytes)->default_value(cell_bytes),
                         "cell size in bytes (552..16384)")(
      "seconds", po::value<double>(&seconds)->default_value(seconds),
      "time budget for the whole run, in seconds (> 0, at most 600)");
  bench::CommonOptions common;
  if (auto exit_status = bench::parse_options(
          argc, argv, program,
          "onion_bench: rate of peel_cell on one core, against the raw libsodium calls a peel "
          "must make.",
          specific, common))
    return *exit_status;
  if (!onion::valid_cell_size(cell_bytes))
    return bench::bad_option(program, "--cell-bytes must be " +
                                          std::to_string(onion::min_cell_bytes) + ".." +
                                          std::to_string(onion::max_cell_bytes));
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > max_seconds)
    return bench::bad_option(program, "--seconds must be > 0 and at most 600");
  return run(cell_bytes, seconds, common.json);
}
