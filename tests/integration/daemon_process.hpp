// Helpers for tests (and the flood scenario) that run real binaries such as
// nightjar-node: a child process with its output in files (stopped by its PID
// only, every wait bounded). Reading such a node's /metrics (http_get,
// metric_value, wait_for_metric) is in tests/support/metrics_http.hpp,
// included here for them.
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
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

#include "tests/support/metrics_http.hpp"

namespace nightjar::test {

inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process running `binary` with `args`, its standard output and
// error in the files `out` and `err`. The destructor kills it (SIGKILL, by
// its PID) if it still runs, and the kernel kills it if this process dies
// first (PR_SET_PDEATHSIG), so a crashed test leaves no process behind.
class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               std::filesystem::path out, std::filesystem::path err)
      : out_(std::move(out)), err_(std::move(err)) {
    const int out_fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::vector<std::string> argv_text = {binary};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent is already gone
      ::dup2(out_fd, STDOUT_FILENO);
      ::dup2(err_fd, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out_fd);
    ::close(err_fd);
  }
  ~ChildProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      (void)wait_exit(std::chrono::seconds(5));
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  bool running() const { return pid_ > 0 && !status_; }
  void signal(int signum) const {
    if (running()) ::kill(pid_, signum);
  }
  // The wait status once the process has exited, polled until `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
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
    return status_;
  }
  // The exit status (0..255), or -1 if it did not exit by itself within
  // `timeout` (or was killed by a signal).
  int exit_code(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto st = wait_exit(timeout);
    if (!st || !WIFEXITED(*st)) return -1;
    return WEXITSTATUS(*st);
  }
  std::string out() const { return read_text_file(out_); }
  std::string err() const { return read_text_file(err_); }
  // Waits until standard output holds `text`; false after `timeout` or if
  // the process exited first.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (out().find(text) != std::string::npos) return true;
      if (wait_exit(std::chrono::milliseconds(0))) return out().find(text) != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// One nightjar-node process (NIGHTJAR_NODE_BINARY, defined by the build),
// its output in DIR/NAME.out and DIR/NAME.err.
class DaemonProcess : public ChildProcess {
 public:
  DaemonProcess(const std::filesystem::path& dir, const std::string& name,
                const std::vector<std::string>& args)
      : ChildProcess(NIGHTJAR_NODE_BINARY, args, dir / (name + ".out"), dir / (name + ".err")) {}
};

}  // namespace nightjar::test
