// What nightjar-flood-scenario needs to run and watch other processes: a
// child process with its output in files (nightjar-flood; the nodes use
// DaemonProcess from tests/integration/daemon_process.hpp, the same idea),
// stopped by its PID only and waited for with a bound; and a process's
// resident memory and CPU time from /proc.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
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
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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

class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::filesystem::path& out, const std::filesystem::path& err)
      : out_(out) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::vector<std::string> text = {binary};
    text.insert(text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : text) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(o, STDOUT_FILENO);
      ::dup2(e, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(o);
    ::close(e);
  }
  ~ChildProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      (void)exited(std::chrono::seconds(5));
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  void signal(int signum) const {
    if (running()) ::kill(pid_, signum);
  }
  // True once the process has exited, polled until `timeout`.
  bool exited(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!status_ && pid_ > 0) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = st;
        break;
      }
      if (r < 0 || std::chrono::steady_clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_.has_value() || pid_ <= 0;
  }
  int exit_code() const {
    return status_ && WIFEXITED(*status_) ? WEXITSTATUS(*status_) : -1;
  }
  std::string out() const {
    std::ifstream in(out_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  std::filesystem::path out_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace nightjar::flood
