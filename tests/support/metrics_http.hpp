// A running node's /metrics as a test reads it from outside, blocking and on
// loopback: a one-shot HTTP GET, one sample out of the exposition text, and a
// bounded wait for a sample to reach a value. For tests (and the flood
// scenario) that run nightjar-node processes; tests/integration/daemon_process.hpp
// includes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace nightjar::test {

// GET `path` from 127.0.0.1:port; the body of a 200 answer, or nullopt
// (refused, another status, or no complete answer within `timeout`).
std::optional<std::string> http_get(std::uint16_t port, const std::string& path,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The value of the sample whose line starts with `series` (a metric name,
// with its labels if it has any) followed by a space.
std::optional<double> metric_value(const std::string& text, const std::string& series);

// Polls /metrics on 127.0.0.1:port until `series` has `value`: true as soon as
// it does, false once `deadline` (or `timeout` from now) has passed.
bool wait_for_metric(std::uint16_t port, const std::string& series, double value,
                     std::chrono::steady_clock::time_point deadline);
bool wait_for_metric(std::uint16_t port, const std::string& series, double value,
                     std::chrono::milliseconds timeout);

}  // namespace nightjar::test
