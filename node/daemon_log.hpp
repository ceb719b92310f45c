// DaemonLog: nightjar-node's logger, made from its log settings
// (node_config.hpp) at start-up. Lines go to standard error, or with a log
// file to that file only, rotated by size (spdlog's rotating file sink).
//
// Output is plain text suited to journald: colours only when standard error
// is a terminal, and when standard error is the systemd journal
// (JOURNAL_STREAM names it) no timestamp (the journal adds its own) and a
// "<N>" syslog priority prefix, so `journalctl -p warning` works.
//
// reopen() is for SIGHUP after logrotate moved the file away: it replaces
// the file sink inside the same logger, so every component that holds the
// logger writes to the new file. main installs the logger as spdlog's default
// and hands it to the Node. One thread (the node's loop) logs and reopens.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "node/node_config.hpp"
#include "routing/result.hpp"

namespace nightjar {

class DaemonLog {
 public:
  // Opens the log file if there is one. Errors are for the operator.
  static Result<std::unique_ptr<DaemonLog>, std::string> open(const LogSettings& settings);

  const std::shared_ptr<spdlog::logger>& logger() const { return logger_; }
  // Closes and reopens the log file (nothing to do without one). On an error
  // the old file stays in use, and the error is logged and returned.
  Result<void, std::string> reopen();
  // Where lines go, for the start-up message.
  std::string destination() const;

  // Whether standard error is the systemd journal: JOURNAL_STREAM is
  // "DEVICE:INODE" of the journal's stream socket (systemd.exec(5)).
  static bool stderr_is_journal();

 private:
  explicit DaemonLog(LogSettings settings) : settings_(std::move(settings)) {}
  Result<std::shared_ptr<spdlog::sinks::sink>, std::string> make_file_sink() const;
  void set_pattern(spdlog::sinks::sink& sink, bool journal) const;

  LogSettings settings_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace nightjar
