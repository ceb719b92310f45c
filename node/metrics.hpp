// MetricsRegistry: the node's Prometheus metrics, rendered in the text
// exposition format, version 0.0.4. The node daemon's main registers one
// collector per metric for its relay, store, replication and link stats, and
// hands render() to the HTTP endpoint (http_server.hpp), which calls it on
// every scrape. Components keep plain integer counters in their stats structs;
// a collector reads them only when Prometheus asks, so the hot path pays
// nothing:
//
//   registry.add_counter("nightjar_cells_relayed_total", "Onion cells forwarded.",
//                        [&] { return relay.stats().cells_forwarded; });
//   registry.add_counter("nightjar_cells_dropped_total", "Onion cells dropped.", {"reason"},
//                        [&] { return std::vector<LabelledValue>{{{"bad_mac"}, s.bad_mac}}; });
//
// Registration checks names (metric names [a-zA-Z_][a-zA-Z0-9_]*, counters
// ending in _total, label names not starting with "__", no duplicates) and
// throws std::invalid_argument on a programming error; render() never throws
// on account of what a collector returns: a series with the wrong number of
// label values, or repeating an earlier series, is left out. Families are
// rendered in registration order, series in the order their collector gives.
// Not thread-safe: register and render on the node's loop thread.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nightjar {

// A sample value: any integer (signed values for gauges that can go below
// zero) or a floating-point number, rendered without locale; NaN and the
// infinities as Prometheus spells them (NaN, +Inf, -Inf).
class MetricValue {
 public:
  template <std::integral T>
  MetricValue(T v) {  // NOLINT: implicit, so collectors return plain numbers
    if constexpr (std::is_signed_v<T>)
      v_ = static_cast<std::int64_t>(v);
    else
      v_ = static_cast<std::uint64_t>(v);
  }
  template <std::floating_point T>
  MetricValue(T v) : v_(static_cast<double>(v)) {}  // NOLINT: implicit, as above

  // Appends the value as the exposition format writes it.
  void append_to(std::string& out) const;

 private:
  std::variant<std::uint64_t, std::int64_t, double> v_;
};

// One series of a labelled metric: label values in the order of the label
// names given at registration, and the value.
struct LabelledValue {
  std::vector<std::string> label_values;
  MetricValue value;
};

class MetricsRegistry {
 public:
  using ValueCollector = std::function<MetricValue()>;
  using SeriesCollector = std::function<std::vector<LabelledValue>()>;

  // A counter only goes up (from zero at process start); its name ends in _total.
  void add_counter(std::string name, std::string help, ValueCollector collect);
  void add_counter(std::string name, std::string help, std::vector<std::string> label_names,
                   SeriesCollector collect);
  // A gauge goes up and down; its name must not end in _total.
  void add_gauge(std::string name, std::string help, ValueCollector collect);
  void add_gauge(std::string name, std::string help, std::vector<std::string> label_names,
                 SeriesCollector collect);
  // nightjar_build_info{version="..."} 1: lets dashboards join on the version.
  void add_build_info(std::string version);

  // The exposition text of every registered metric; calls each collector once.
  std::string render() const;
  std::size_t size() const { return families_.size(); }

  // The naming rules that registration enforces, for callers that build
  // names at run time and prefer to check rather than catch.
  static bool valid_metric_name(std::string_view name);
  static bool valid_label_name(std::string_view name);

 private:
  enum class Type { counter, gauge };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::string> label_names;  // empty: a single unlabelled series
    ValueCollector collect_value;
    SeriesCollector collect_series;
  };

  void add(Family family);
  void render_family(const Family& f, std::string& out) const;

  std::vector<Family> families_;
};

// Escapes a label value for the exposition format: backslash, double quote
// and newline become \\, \" and \n. Exposed for tests.
std::string escape_label_value(std::string_view value);

}  // namespace nightjar
