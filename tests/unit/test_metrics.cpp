// Tests of node/metrics.hpp: the exact exposition text of a small registry,
// label value and help escaping, labelled series (bad and repeated series
// left out), number formatting, and the naming rules enforced at registration.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "node/metrics.hpp"

using namespace nightjar;

namespace {

struct RelayStats {
  std::uint64_t cells_forwarded = 0;
  std::uint64_t dropped_bad_mac = 0;
  std::uint64_t dropped_replay = 0;
};

std::string value_text(MetricValue v) {
  std::string out;
  v.append_to(out);
  return out;
}

}  // namespace

TEST_CASE("metrics: a small registry renders the exact exposition text", "[unit][metrics]") {
  RelayStats relay;
  std::int64_t peers = 5;
  MetricsRegistry registry;
  registry.add_counter("nightjar_cells_relayed_total", "Onion cells forwarded to the next hop.",
                       [&] { return relay.cells_forwarded; });
  registry.add_counter("nightjar_cells_dropped_total", "Onion cells dropped, by reason.",
                       {"reason"}, [&] {
                         return std::vector<LabelledValue>{{{"bad_mac"}, relay.dropped_bad_mac},
                                                           {{"replay"}, relay.dropped_replay}};
                       });
  registry.add_gauge("nightjar_connected_peers", "Links open to other nodes.",
                     [&] { return peers; });
  registry.add_gauge("nightjar_replication_lag_seconds", "Age of the oldest unreplicated store.",
                     [] { return 0.25; });
  registry.add_build_info("0.1.0");
  CHECK(registry.size() == 5);

  relay.cells_forwarded = 42;
  relay.dropped_bad_mac = 3;
  const std::string expected =
      "# HELP nightjar_cells_relayed_total Onion cells forwarded to the next hop.\n"
      "# TYPE nightjar_cells_relayed_total counter\n"
      "nightjar_cells_relayed_total 42\n"
      "# HELP nightjar_cells_dropped_total Onion cells dropped, by reason.\n"
      "# TYPE nightjar_cells_dropped_total counter\n"
      "nightjar_cells_dropped_total{reason=\"bad_mac\"} 3\n"
      "nightjar_cells_dropped_total{reason=\"replay\"} 0\n"
      "# HELP nightjar_connected_peers Links open to other nodes.\n"
      "# TYPE nightjar_connected_peers gauge\n"
      "nightjar_connected_peers 5\n"
      "# HELP nightjar_replication_lag_seconds Age of the oldest unreplicated store.\n"
      "# TYPE nightjar_replication_lag_seconds gauge\n"
      "nightjar_replication_lag_seconds 0.25\n"
      "# HELP nightjar_build_info Build of this node, in labels; the value is always 1.\n"
      "# TYPE nightjar_build_info gauge\n"
      "nightjar_build_info{version=\"0.1.0\"} 1\n";
  CHECK(registry.render() == expected);

  // Collectors run at every scrape, so the text follows the stats.
  relay.cells_forwarded = 43;
  peers = -1;
  const std::string again = registry.render();
  CHECK(again.find("\nnightjar_cells_relayed_total 43\n") != std::string::npos);
  CHECK(again.find("\nnightjar_connected_peers -1\n") != std::string::npos);
}

TEST_CASE("metrics: an empty registry renders nothing", "[unit][metrics]") {
  CHECK(MetricsRegistry{}.render().empty());
}

TEST_CASE("metrics: label values are escaped, help text too", "[unit][metrics]") {
  CHECK(escape_label_value("plain") == "plain");
  CHECK(escape_label_value("a\\b") == "a\\\\b");
  CHECK(escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(escape_label_value("two\nlines") == "two\\nlines");
  CHECK(escape_label_value("\\\"\n") == "\\\\\\\"\\n");
  CHECK(escape_label_value("").empty());

  MetricsRegistry registry;
  registry.add_gauge("odd_labels", "Help with a \\ and a\nnewline and \"quotes\".", {"k"}, [] {
    return std::vector<LabelledValue>{{{"x\"y\\z\nw"}, 1}};
  });
  CHECK(registry.render() ==
        "# HELP odd_labels Help with a \\\\ and a\\nnewline and \"quotes\".\n"
        "# TYPE odd_labels gauge\n"
        "odd_labels{k=\"x\\\"y\\\\z\\nw\"} 1\n");
}

TEST_CASE("metrics: labelled series keep their order and drop malformed ones", "[unit][metrics]") {
  std::vector<LabelledValue> series;
  MetricsRegistry registry;
  registry.add_gauge("nightjar_links", "Open links, by kind and direction.", {"kind", "direction"},
                     [&] { return series; });

  // No series: the family is still announced.
  CHECK(registry.render() ==
        "# HELP nightjar_links Open links, by kind and direction.\n"
        "# TYPE nightjar_links gauge\n");

  series = {
      {{"node", "in"}, 4},
      {{"client", "in"}, 7},
      {{"node"}, 1},                  // too few label values: left out
      {{"node", "out", "extra"}, 1},  // too many: left out
      {{"node", "in"}, 9},            // repeats the first series: left out
      {{"node", "out"}, 2},
  };
  CHECK(registry.render() ==
        "# HELP nightjar_links Open links, by kind and direction.\n"
        "# TYPE nightjar_links gauge\n"
        "nightjar_links{kind=\"node\",direction=\"in\"} 4\n"
        "nightjar_links{kind=\"client\",direction=\"in\"} 7\n"
        "nightjar_links{kind=\"node\",direction=\"out\"} 2\n");
}

TEST_CASE("metrics: values render without locale and with Prometheus spellings",
          "[unit][metrics]") {
  CHECK(value_text(std::uint64_t{0}) == "0");
  CHECK(value_text(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
  CHECK(value_text(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
  CHECK(value_text(7) == "7");
  CHECK(value_text(std::uint16_t{65535}) == "65535");
  CHECK(value_text(true) == "1");
  CHECK(value_text(1.5) == "1.5");
  CHECK(value_text(-0.125f) == "-0.125");
  CHECK(value_text(1e21) == "1e+21");
  CHECK(value_text(0.1) == "0.1");
  CHECK(value_text(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(value_text(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(value_text(-std::numeric_limits<double>::infinity()) == "-Inf");
}

TEST_CASE("metrics: registration enforces the naming rules", "[unit][metrics]") {
  auto zero = [] { return 0; };
  auto none = [] { return std::vector<LabelledValue>{}; };
  MetricsRegistry r;

  SECTION("metric names") {
    CHECK(MetricsRegistry::valid_metric_name("nightjar_uptime_seconds"));
    CHECK(MetricsRegistry::valid_metric_name("_x9"));
    CHECK_FALSE(MetricsRegistry::valid_metric_name(""));
    CHECK_FALSE(MetricsRegistry::valid_metric_name("9lives"));
    CHECK_FALSE(MetricsRegistry::valid_metric_name("has-dash"));
    CHECK_FALSE(MetricsRegistry::valid_metric_name("has space"));
    CHECK_FALSE(MetricsRegistry::valid_metric_name("rule:colon"));
    CHECK_FALSE(MetricsRegistry::valid_metric_name("caf\xc3\xa9"));
    CHECK_THROWS_AS(r.add_gauge("bad-name", "h", zero), std::invalid_argument);
    CHECK_THROWS_AS(r.add_counter("", "h", zero), std::invalid_argument);
  }
  SECTION("counters end in _total, gauges do not") {
    CHECK_THROWS_AS(r.add_counter("nightjar_cells", "h", zero), std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("nightjar_peers_total", "h", zero), std::invalid_argument);
    CHECK_NOTHROW(r.add_counter("nightjar_cells_total", "h", zero));
    CHECK_NOTHROW(r.add_gauge("nightjar_peers", "h", zero));
  }
  SECTION("label names") {
    CHECK(MetricsRegistry::valid_label_name("reason"));
    CHECK(MetricsRegistry::valid_label_name("_private"));
    CHECK_FALSE(MetricsRegistry::valid_label_name("__name__"));
    CHECK_FALSE(MetricsRegistry::valid_label_name("bad.label"));
    CHECK_FALSE(MetricsRegistry::valid_label_name(""));
    CHECK_THROWS_AS(r.add_gauge("g", "h", {"__reserved"}, none), std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("g", "h", {"a-b"}, none), std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("g", "h", {"a", "a"}, none), std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("g", "h", {}, none), std::invalid_argument);
  }
  SECTION("duplicates, empty help and missing collectors") {
    r.add_gauge("g", "h", zero);
    CHECK_THROWS_AS(r.add_gauge("g", "h", zero), std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("g", "h", {"l"}, none), std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("h", "", zero), std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("i", "h", MetricsRegistry::ValueCollector{}),
                    std::invalid_argument);
    CHECK_THROWS_AS(r.add_gauge("j", "h", {"l"}, MetricsRegistry::SeriesCollector{}),
                    std::invalid_argument);
    r.add_build_info("0.1.0");
    CHECK_THROWS_AS(r.add_build_info("0.2.0"), std::invalid_argument);
  }
  SECTION("a rejected registration leaves the registry as it was") {
    r.add_gauge("kept", "h", zero);
    CHECK_THROWS(r.add_gauge("kept", "h", zero));
    CHECK(r.size() == 1);
    CHECK(r.render() == "# HELP kept h\n# TYPE kept gauge\nkept 0\n");
  }
}
