#define CATCH_CONFIG_RUNNER
#include <signal.h>
#include <sodium.h>

#include <catch2/catch.hpp>
#include <iostream>

#include "tests/support/log_capture.hpp"

namespace {

// Prints the captured log lines of a failing test case, and clears the buffer
// between test cases.
class LogOnFailure : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(Catch::TestCaseInfo const&) override { nightjar::test::clear_captured(); }
  void testCaseEnded(Catch::TestCaseStats const& stats) override {
    if (stats.totals.assertions.failed == 0) return;
    auto lines = nightjar::test::captured_lines();
    if (lines.empty()) return;
    std::cerr << "---- log of failed test case '" << stats.testInfo.name << "' ----\n";
    for (const auto& l : lines)
      std::cerr << l << '\n';
    std::cerr << "---- end of log ----\n";
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(LogOnFailure)

int main(int argc, char* argv[]) {
  // As in the daemons: a write to a peer that just went away must be an
  // error on that link, not the end of the test process.
  ::signal(SIGPIPE, SIG_IGN);
  if (sodium_init() < 0) {
    std::cerr << "libsodium failed to initialise\n";
    return 1;
  }
  // The default logger also goes to the capture buffer, so code that logs
  // through it stays quiet in passing tests.
  spdlog::set_default_logger(nightjar::test::capture_logger("default"));
  return Catch::Session().run(argc, argv);
}
