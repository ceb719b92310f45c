// What nightjar-flood-scenario reads about the processes it watches: a
// process's resident memory and CPU time from /proc. (It starts them with
// test::ChildProcess, tests/integration/daemon_process.hpp.)
#pragma once

#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace nightjar::flood {

// VmRSS of `pid` in kB (from /proc/PID/status), or nullopt when it is gone.
inline std::optional<std::uint64_t> resident_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return std::nullopt;
}

// User plus system CPU seconds of `pid` (from /proc/PID/stat), or nullopt.
inline std::optional<double> cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;  // one line
  if (!std::getline(in, text)) return std::nullopt;
  const auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  std::vector<std::string> v;
  while (fields >> f && v.size() < 13) v.push_back(f);
  if (v.size() < 13) return std::nullopt;
  // Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the name.
  return static_cast<double>(std::stoull(v[11]) + std::stoull(v[12])) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace nightjar::flood
