// nightjar-flood: floods one node of a loopback network, for the reliability
// runs (scripts/reliability.sh, nightjar-flood-scenario) and for operators who
// want to see what their node does under abuse on a test network.
//
//   nightjar-flood --network NET.conf --target 127.0.0.1:7420 --mode cells --seconds 30 --json
//
// --mode cells: anonymous links with a real handshake, then onion cell frames
// as fast as the links take them, almost all of random content (cell_flood.hpp).
// --mode garbage: raw connections that misbehave, reopened as they are
// dropped (garbage_flood.hpp). The directory comes from the network's
// authorities; the target is the node listed at --target. Only 127.0.0.0/8.
// Bounded by --seconds and --count; SIGINT/SIGTERM stop it early, with the
// figures so far. Prints one JSON object (--json) or one figure a line.
#include <uv.h>

// GCC 12 reports a false "potential null pointer dereference" in libstdc++ when
// Boost.Program_options' typed_value<std::string>::notify is inlined (as in node/settings.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>

#include "tests/bench/bench_util.hpp"
#include "tests/bench/flood/cell_flood.hpp"
#include "tests/bench/flood/garbage_flood.hpp"

using namespace nightjar;
using namespace nightjar::flood;

namespace {

constexpr char program[] = "nightjar-flood";

struct Options {
  std::string network;
  std::string target;
  std::string mode;
  double seconds = 30;
  std::uint64_t count = 10'000'000;
  std::size_t connections = 0;  // 0: the mode's default
  std::uint64_t built_per_second = 50;
  std::uint64_t rate = 0;
  double hold_seconds = 15;
};

void print(const bench::JsonObject& j, bool json) {
  if (json) return j.print();
  // One "key: value" a line, from the same object.
  std::string s = j.str();
  for (char& c : s)
    if (c == ',') c = '\n';
  std::printf("%s\n", s.c_str());
}

bench::JsonObject cell_report(const CellFloodStats& s, double seconds) {
  bench::JsonObject j;
  j.add("mode", "cells")
      .add("seconds", seconds, 1)
      .add("cells_sent", s.cells_sent)
      .add("cells_per_second", seconds > 0 ? static_cast<double>(s.cells_sent) / seconds : 0.0, 0)
      .add("built_sent", s.built_sent)
      .add("bytes_sent", s.bytes_sent)
      .add("links_opened", s.links_opened)
      .add("links_closed_by_target", s.links_closed_by_target)
      .add("link_failures", s.link_failures)
      .add("built_answered", s.answers)
      .add("built_refused_overloaded", s.refused)
      .add("built_other_errors", s.other_errors);
  return j;
}

bench::JsonObject garbage_report(const GarbageFloodStats& s, double seconds) {
  bench::JsonObject j;
  std::uint64_t dropped = 0, not_dropped = 0;
  for (const auto& k : s.kinds) {
    dropped += k.dropped;
    not_dropped += k.not_dropped;
  }
  j.add("mode", "garbage")
      .add("seconds", seconds, 1)
      .add("connections", s.connections)
      .add("connections_per_second",
           seconds > 0 ? static_cast<double>(s.connections) / seconds : 0.0, 0)
      .add("dropped_by_target", dropped)
      .add("not_dropped", not_dropped)
      .add("connect_failed", s.connect_failed)
      .add("open_at_stop", s.open_at_stop)
      .add("handshakes", s.handshakes)
      .add("bytes_sent", s.bytes_sent)
      .add("stalled_drop_ms_max", s.stalled_drop_ms_max);
  for (std::size_t i = 0; i < garbage_kinds; ++i) {
    const std::string name = to_string(static_cast<GarbageKind>(i));
    j.add(name + "_opened", s.kinds[i].opened)
        .add(name + "_dropped", s.kinds[i].dropped)
        .add(name + "_not_dropped", s.kinds[i].not_dropped);
  }
  return j;
}

// Runs the loop until `stop_when` holds, the deadline passes or a signal
// arrives, checking every 50 ms. The handles live in Run, which outlives the
// loop's final drain (their close callbacks run there).
struct Run {
  uv_loop_t* loop;
  std::function<bool()> stop_when;
  std::uint64_t deadline_ms;
  bool interrupted = false;
  uv_timer_t check{};
  uv_signal_t sigint{}, sigterm{};
};

void run_until(Run& run) {
  uv_timer_init(run.loop, &run.check);
  run.check.data = &run;
  uv_timer_start(
      &run.check,
      [](uv_timer_t* t) {
        auto* r = static_cast<Run*>(t->data);
        if (r->interrupted || r->stop_when() || uv_now(r->loop) >= r->deadline_ms) uv_stop(r->loop);
      },
      50, 50);
  for (auto [sig, handle] : {std::pair{SIGINT, &run.sigint}, std::pair{SIGTERM, &run.sigterm}}) {
    uv_signal_init(run.loop, handle);
    handle->data = &run;
    uv_signal_start(
        handle, [](uv_signal_t* h, int) { static_cast<Run*>(h->data)->interrupted = true; }, sig);
  }
  uv_run(run.loop, UV_RUN_DEFAULT);
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&run.check), reinterpret_cast<uv_handle_t*>(&run.sigint),
        reinterpret_cast<uv_handle_t*>(&run.sigterm)})
    uv_close(h, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  // libuv writes to sockets with write(2): a peer that reset its connection
  // (a killed node, a dropped client) would raise SIGPIPE and end the process.
  // Ignored, it is a failed write, and the link closes.
  ::signal(SIGPIPE, SIG_IGN);
  namespace po = boost::program_options;
  Options o;
  po::options_description specific("Flood");
  specific.add_options()("network", po::value(&o.network)->required(),
                         "the network file (network.conf)")(
      "target", po::value(&o.target)->required(), "HOST:PORT of the node to flood (127.0.0.0/8)")(
      "mode", po::value(&o.mode)->required(), "cells or garbage")(
      "seconds", po::value(&o.seconds)->default_value(o.seconds), "how long to flood")(
      "count", po::value(&o.count)->default_value(o.count),
      "stop after this many cells (cells) or connections (garbage)")(
      "connections", po::value(&o.connections)->default_value(o.connections),
      "connections open at once (0: 8 for cells, 64 for garbage)")(
      "built-per-second", po::value(&o.built_per_second)->default_value(o.built_per_second),
      "cells: properly built cells per second through the target (4 X25519 each)")(
      "rate", po::value(&o.rate)->default_value(o.rate),
      "cells: at most this many cells per second (0: no limit)")(
      "hold-seconds", po::value(&o.hold_seconds)->default_value(o.hold_seconds),
      "garbage: close a connection the target has not dropped after this long");
  bench::CommonOptions common;
  if (auto exit_status = bench::parse_options(
          argc, argv, program,
          "Floods one node of a loopback Nightjar network with cells or garbage.", specific,
          common))
    return *exit_status;
  if (o.mode != "cells" && o.mode != "garbage")
    return bench::bad_option(program, "--mode must be cells or garbage, not '" + o.mode + "'");
  if (!(o.seconds > 0) || o.seconds > 3600)
    return bench::bad_option(program, "--seconds must be more than 0 and at most 3600");
  if (!(o.hold_seconds > 0) || o.hold_seconds > 3600)
    return bench::bad_option(program, "--hold-seconds must be more than 0 and at most 3600");
  auto target = Endpoint::parse(o.target);
  if (!target) return bench::bad_option(program, "--target: " + target.error());
  auto network = NetworkConfig::load(o.network);
  if (!network) return bench::bad_option(program, "--network: " + network.error());
  const std::size_t connections = o.connections ? o.connections : (o.mode == "cells" ? 8 : 64);
  if (connections > 4096) return bench::bad_option(program, "--connections: at most 4096");

  uv_loop_t loop;
  uv_loop_init(&loop);
  auto found = find_target(&loop, *network, *target, std::chrono::seconds(20));
  if (!found) {
    std::cerr << program << ": " << found.error() << "\n";
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  uv_update_time(&loop);
  const std::uint64_t start = uv_now(&loop);
  Run run{&loop, {}, start + static_cast<std::uint64_t>(o.seconds * 1000)};
  bench::JsonObject report;
  if (o.mode == "cells") {
    CellFlood flood(&loop, *found,
                    CellFloodOptions{connections, o.count, o.built_per_second, o.rate});
    flood.start();
    run.stop_when = [&] { return flood.done(); };
    run_until(run);
    flood.stop();
    uv_update_time(&loop);
    report = cell_report(flood.stats(), static_cast<double>(uv_now(&loop) - start) / 1000);
  } else {
    GarbageFlood flood(&loop, *found,
                       GarbageFloodOptions{connections, o.count,
                                           static_cast<std::uint64_t>(o.hold_seconds * 1000)});
    flood.start();
    run.stop_when = [&] { return flood.done(); };
    run_until(run);
    flood.stop();
    uv_update_time(&loop);
    report = garbage_report(flood.stats(), static_cast<double>(uv_now(&loop) - start) / 1000);
  }
  report.add("target", o.target).add("interrupted", run.interrupted);
  // Let every handle close (links close at once; bounded by their close callbacks).
  for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT) != 0; ++i) {
  }
  uv_loop_close(&loop);
  print(report, common.json);
  return 0;
}
