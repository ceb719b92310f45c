// nightjar-node's settings: the command line and the optional INI config file
// (--config FILE), turned into NodeOptions for the Node plus the daemon's own
// settings (logging, metrics, what to do). node/main.cpp calls
// load_node_config; tests call parse_node_config, a pure function of the
// arguments and the file's text.
//
// Every setting has a dotted name, "section.key", as in i2pd: `[limits]
// max-connections = 100` in the file is limits.max-connections, and so is
// --max-connections on the command line. The command line overrides the
// file. Values are read through one typed accessor (Settings::get<T> in
// node_config.cpp) that knows each setting's default and range, so every
// error names the setting and where its value came from. Unknown options
// and keys, a key given twice, and values out of range are errors; the
// first one found is returned as one line for the operator, and main exits
// with status 2 before anything starts. docs/OPERATING.md lists every
// setting, and so does node_config_help().
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "node/node.hpp"
#include "node/rate_limit.hpp"
#include "routing/endpoint.hpp"
#include "routing/result.hpp"

namespace nightjar {

enum class LogTimestamps { automatic, on, off };

struct LogSettings {
  spdlog::level::level_enum level = spdlog::level::info;
  std::optional<std::filesystem::path> file;  // none: standard error
  std::uint64_t max_file_bytes = 100ull << 20;
  std::size_t max_files = 5;  // rotated files kept besides the current one
  // automatic: off when standard error goes to the systemd journal (which
  // stamps every line itself), on otherwise.
  LogTimestamps timestamps = LogTimestamps::automatic;
};

struct MetricsSettings {
  std::optional<Endpoint> listen;  // none: no metrics endpoint
  // False when `listen` is the default: a busy default port then only warns,
  // so that several nodes can run on one machine without setting it.
  bool chosen = false;
};

enum class DaemonAction { run, help, version, print_authority_line };

struct DaemonConfig {
  DaemonAction action = DaemonAction::run;
  NodeOptions node;  // `network` stays empty: see network_file
  std::optional<std::filesystem::path> network_file;
  RateLimitOptions rate_limits;
  LogSettings log;
  MetricsSettings metrics;
  std::string authority_name;  // print_authority_line
};

// A config file's name (for messages and for resolving relative paths in it)
// and its text.
struct ConfigText {
  std::string name;
  std::string text;
};

// The value of --config in `args` (the arguments after the program name), if
// given and neither --help nor --version is; errors are the command line's.
Result<std::optional<std::string>, std::string> config_file_argument(
    std::span<const std::string> args);

// Pure: the settings from `args` (after the program name) and, if given, the
// config file's text. Paths in the file that are relative are taken relative
// to the file's directory; paths on the command line relative to the
// working directory.
Result<DaemonConfig, std::string> parse_node_config(std::span<const std::string> args,
                                                    const ConfigText* file = nullptr);

// For main: config_file_argument, reading the file, parse_node_config.
Result<DaemonConfig, std::string> load_node_config(int argc, const char* const* argv);

// The --help text: usage, then every setting with its config file key,
// argument, default and meaning.
std::string node_config_help();

// "MIN,IDEAL,MAX" with 1 <= MIN <= IDEAL <= MAX <= 64 (exposed for tests).
Result<SwarmSizes, std::string> parse_swarm_sizes(std::string_view text);

// A rate per second written with at most three decimals ("0.25" -> 250
// millihertz; at most 100 per second), as authority.loop-rate and
// authority.drop-rate take it; format_millihertz writes what it reads back
// (250 -> "0.250").
Result<std::uint32_t, std::string> parse_millihertz(const std::string& text);
std::string format_millihertz(std::uint32_t millihertz);

}  // namespace nightjar
