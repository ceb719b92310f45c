// Fuzzes parse_metrics, the simnet's reader of a nightjar-node's /metrics
// answer (process mode scrapes it over TCP).
//
// Invariants, __builtin_trap() when violated:
//   - no series name is empty, starts with '#' or holds a newline;
//   - writing every series back as "name value" lines and parsing that again
//     gives the same series and values (NaN compared as NaN);
//   - metric_sum of each series' bare name is a number (or NaN/inf when a
//     value is).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "simnet/metrics_scrape.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar::simnet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const MetricSamples samples = parse_metrics(text);
  std::string again;
  for (const auto& [name, value] : samples) {
    CHECK(!name.empty() && name.front() != '#' && name.find('\n') == std::string::npos);
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.17g\n", value);
    again += name + buf;
    const std::string bare = name.substr(0, name.find('{'));
    (void)metric_sum(samples, bare);
  }
  const MetricSamples reparsed = parse_metrics(again);
  CHECK(reparsed.size() == samples.size());
  for (const auto& [name, value] : samples) {
    auto it = reparsed.find(name);
    CHECK(it != reparsed.end());
    CHECK(std::isnan(value) ? std::isnan(it->second) : it->second == value);
  }
  return 0;
}
