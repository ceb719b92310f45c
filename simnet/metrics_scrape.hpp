// Reading a nightjar-node's Prometheus endpoint from the simnet (process
// mode): scrape_metrics fetches http://HOST:PORT/metrics over libuv TCP on
// the simnet's loop, and parse_metrics turns the exposition text into
// numbers. Only loopback addresses are scraped; the answer is bounded in
// size and time.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "routing/endpoint.hpp"
#include "routing/result.hpp"

namespace nightjar::simnet {

// Series by their full name with labels as written ("x_total{reason=\"a\"}").
using MetricSamples = std::map<std::string, double>;

// Lines that are not samples (comments, blanks) are skipped, and so are
// samples that do not parse.
MetricSamples parse_metrics(std::string_view text);
// The sum over every series of the metric `name` (any labels); 0 if none.
double metric_sum(const MetricSamples& samples, std::string_view name);

// GET /metrics; `done` once, with the body or an error. At most 4 MiB.
void scrape_metrics(uv_loop_t* loop, const Endpoint& at, std::chrono::milliseconds timeout,
                    std::function<void(Result<std::string, std::string>)> done);

}  // namespace nightjar::simnet
