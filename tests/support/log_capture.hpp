// Test-side logging: every logger a test creates writes into one in-memory
// buffer. The test main prints the buffer only when a test case fails, so a
// passing run stays quiet (the habit copied from Session's storage server).
// Tests that check "dropped with a logged reason" search the buffer.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

namespace nightjar::test {

// A logger that writes into the shared capture buffer at debug level.
std::shared_ptr<spdlog::logger> capture_logger(const std::string& name = "test");

// All lines captured since the last clear.
std::vector<std::string> captured_lines();
bool log_contains(const std::string& needle);
void clear_captured();

}  // namespace nightjar::test
