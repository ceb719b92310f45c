// Small helpers shared by the benchmarks in tests/bench: a steady-clock
// stopwatch, a bounded rate measurement, medians, a flat JSON object printer
// and the command-line handling every benchmark has (--json, --help, exit
// status 2 with one line on a bad option).
//
// Benchmarks measure; they do not judge. Targets are printed next to the
// figures, never turned into an exit status.
#pragma once

#include <algorithm>
#include <array>
#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace nightjar::bench {

// --- Time ------------------------------------------------------------------------

class Stopwatch {
 public:
  using Clock = std::chrono::steady_clock;
  Stopwatch() : start_(Clock::now()) {}
  void restart() { start_ = Clock::now(); }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  Clock::time_point start_;
};

// CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID): time the
// thread spent descheduled -- other processes on a shared machine -- is not in
// it. Reading it is a system call (about a microsecond), so read it seldom.
class CpuStopwatch {
 public:
  CpuStopwatch() : start_(now()) {}
  void restart() { start_ = now(); }
  double seconds() const { return now() - start_; }

 private:
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  double start_;
};

// Makes the compiler assume `value` is read (and memory written), so that work
// whose result is otherwise unused is not optimised away.
template <class T>
inline void keep(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// --- Rates -----------------------------------------------------------------------

struct Rate {
  std::uint64_t calls = 0;    // calls of f
  std::uint64_t counted = 0;  // calls that count: all of them, or those that returned true
  double seconds = 0;         // wall time (steady clock)
  double cpu_seconds = 0;     // CPU time of the calling thread
  // Counted calls per second of wall time: what a caller waiting for them sees.
  double per_second() const { return seconds > 0 ? static_cast<double>(counted) / seconds : 0.0; }
  // Counted calls per second of this thread's CPU time: the rate on one core,
  // unaffected by other processes taking the core away (noisy machines).
  double per_cpu_second() const {
    return cpu_seconds > 0 ? static_cast<double>(counted) / cpu_seconds : 0.0;
  }
};

// Calls f() until `max_calls` calls have been made or `max_seconds` have passed,
// whichever comes first (at least one call unless max_calls is 0); the limit is
// on wall time. If f returns bool, only calls that returned true are counted as
// done work (all calls are timed). The clocks are read between batches of
// calls; a batch doubles while it stays under 1/32 of max_seconds, so reading
// them costs nothing measurable and the time limit is overshot by at most about
// one batch.
template <class F>
Rate measure_rate(F&& f, std::uint64_t max_calls, double max_seconds) {
  Rate r;
  const double batch_seconds = max_seconds / 32;
  std::uint64_t batch = 1;
  Stopwatch sw;
  CpuStopwatch cpu;
  while (r.calls < max_calls) {
    const std::uint64_t n = std::min(batch, max_calls - r.calls);
    for (std::uint64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<std::invoke_result_t<F&>, bool>) {
        if (std::invoke(f)) ++r.counted;
      } else {
        std::invoke(f);
        ++r.counted;
      }
    }
    r.calls += n;
    r.seconds = sw.seconds();
    r.cpu_seconds = cpu.seconds();
    if (r.seconds >= max_seconds) break;
    const double per_call = r.seconds / static_cast<double>(r.calls);
    if (2.0 * static_cast<double>(batch) * per_call <= batch_seconds && batch < max_calls) batch *= 2;
  }
  return r;
}

// The median of a non-empty sample (mean of the middle two for even sizes); 0
// for an empty one.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// --- JSON --------------------------------------------------------------------------

// Appends `s` as a JSON string literal (quotes included). Bytes >= 0x80 are
// passed through, so `s` should be UTF-8.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 0xf];
        } else {
          out += c;
        }
      }
    }
  }
  out += '"';
}

// A flat JSON object: keys in insertion order, values strings, booleans,
// integers or numbers. Adding a key again replaces its value in place.
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value) {
    std::string v;
    append_json_string(v, value);
    return set(key, std::move(v));
  }
  JsonObject& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  template <class T>
    requires std::same_as<T, bool>
  JsonObject& add(std::string_view key, T value) {
    return set(key, value ? "true" : "false");
  }
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  JsonObject& add(std::string_view key, T value) {
    return set(key, std::to_string(value));
  }
  // Fixed notation with `decimals` digits after the point (so never an
  // exponent); NaN and infinities, which JSON cannot represent, become null.
  template <std::floating_point T>
  JsonObject& add(std::string_view key, T value, int decimals = 6) {
    const double d = static_cast<double>(value);
    if (!std::isfinite(d)) return set(key, "null");
    std::array<char, 400> buf{};  // DBL_MAX in fixed notation is 309 digits
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d,
                                         std::chars_format::fixed, std::clamp(decimals, 0, 17));
    if (ec != std::errc()) return set(key, "null");
    return set(key, std::string(buf.data(), end));
  }

  // One line: {"key": value, ...}
  std::string str() const {
    std::string out = "{";
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (i) out += ", ";
      append_json_string(out, fields_[i].first);
      out += ": ";
      out += fields_[i].second;
    }
    out += '}';
    return out;
  }
  void print(std::FILE* f = stdout) const {
    const std::string s = str();
    std::fprintf(f, "%s\n", s.c_str());
  }

 private:
  JsonObject& set(std::string_view key, std::string value) {
    for (auto& [k, v] : fields_) {
      if (k == key) {
        v = std::move(value);
        return *this;
      }
    }
    fields_.emplace_back(std::string(key), std::move(value));
    return *this;
  }
  std::vector<std::pair<std::string, std::string>> fields_;
};

// --- Command line ----------------------------------------------------------------

struct CommonOptions {
  bool json = false;
};

// Prints "<program>: <message> (see --help)" on stderr and returns 2, the exit
// status for a bad option; for checks made after parse_options.
inline int bad_option(std::string_view program, std::string_view message) {
  std::cerr << program << ": " << message << " (see --help)\n";
  return 2;
}

// Parses the command line against the benchmark's own options (`specific`,
// whose values are stored through po::value<T>(&variable)) plus --json and
// --help. Returns nullopt when the benchmark should run, or the status to exit
// with: 0 after printing the help on stdout, 2 after one line on stderr for an
// unknown option, a bad value or a stray argument.
inline std::optional<int> parse_options(int argc, const char* const argv[],
                                        std::string_view program, std::string_view summary,
                                        const boost::program_options::options_description& specific,
                                        CommonOptions& common) {
  namespace po = boost::program_options;
  po::options_description all("Options");
  all.add_options()("help,h", "print this help and exit")(
      "json", po::bool_switch(&common.json), "print one JSON object instead of a table");
  all.add(specific);
  try {
    po::variables_map vm;
    const po::positional_options_description none;  // so a stray argument is an error
    po::store(po::command_line_parser(argc, argv).options(all).positional(none).run(), vm);
    if (vm.count("help")) {
      std::cout << summary << "\nUsage: " << program << " [options]\n\n" << all << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    return bad_option(program, e.what());
  }
  return std::nullopt;
}

}  // namespace nightjar::bench
