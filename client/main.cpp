// nightjar: the messaging command line. A thin main around the CLI modules:
// client/cli_options.hpp parses, client/cli_commands.hpp runs; see
// docs/CLI.md.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli_commands.hpp"
#include "client/cli_options.hpp"

using namespace nightjar::client::cli;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

int main(int argc, char** argv) {
  // A reader that went away (`nightjar recv | head -1`) shows up as a failed
  // write, so the client still stops cleanly and saves what it has handled.
  ::signal(SIGPIPE, SIG_IGN);

  Environment environment;
  environment.nightjar_profile = env("NIGHTJAR_PROFILE");
  environment.nightjar_network = env("NIGHTJAR_NETWORK");
  environment.has_nightjar_passphrase = !env("NIGHTJAR_PASSPHRASE").empty();
  environment.xdg_data_home = env("XDG_DATA_HOME");
  environment.home = env("HOME");

  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  auto options = parse_command_line(args, environment);
  if (!options) {
    std::cerr << "nightjar: " << options.error().message << "\n";
    return options.error().exit_code();
  }
  try {
    return run_command(*options, std::cout, std::cerr);
  } catch (const std::exception& e) {
    // Start-up errors of the libraries (e.g. an unusable profile directory).
    std::cerr << "nightjar: " << e.what() << "\n";
    return exit_failure;
  }
}
