#include "client/cli_passphrase.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace nightjar::client::cli {
namespace {

Failure<std::string> error(std::string message) {
  return fail(std::move(message));
}

// A buffer big enough that a passphrase never makes it reallocate (which
// would leave a copy behind in freed memory).
std::string passphrase_buffer() {
  std::string s;
  s.reserve(max_passphrase_bytes + 1);
  return s;
}

void wipe(std::string& s) {
  sodium_memzero(s.data(), s.capacity());
  s.clear();
}

// What a signal handler needs to give the terminal its echo back. A signal
// handler can reach nothing but globals; only read_passphrase_terminal sets
// them, and only while it has echo turned off.
volatile sig_atomic_t g_tty_fd = -1;
struct termios g_saved_termios {};
constexpr std::array<int, 4> restored_on = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

extern "C" void restore_terminal_and_reraise(int signum) {
  if (g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSANOW, &g_saved_termios);
  ::signal(signum, SIG_DFL);
  ::raise(signum);
}

// Reads one line from `fd` into `out`, byte by byte so that nothing after
// the newline is consumed. False on EOF before any byte or an error.
enum class LineRead { ok, eof, too_long, failed };
LineRead read_line(int fd, std::string& out) {
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return LineRead::failed;
    if (n == 0) return out.empty() ? LineRead::eof : LineRead::ok;
    if (c == '\n') break;
    if (out.size() == max_passphrase_bytes) return LineRead::too_long;
    out.push_back(c);
  }
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return LineRead::ok;
}

}  // namespace

Result<std::unique_ptr<Passphrase>, std::string> read_passphrase_file(
    const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return error("cannot read the passphrase file " + path.string() + ": " + std::strerror(errno));
  std::string line = passphrase_buffer();
  const LineRead r = read_line(fd, line);
  const int read_errno = errno;
  ::close(fd);
  if (r == LineRead::failed) {
    wipe(line);
    return error("cannot read the passphrase file " + path.string() + ": " +
                 std::strerror(read_errno));
  }
  if (r == LineRead::too_long) {
    wipe(line);
    return error("the first line of the passphrase file " + path.string() + " is longer than " +
                 std::to_string(max_passphrase_bytes) + " bytes");
  }
  if (line.empty())
    return error("the first line of the passphrase file " + path.string() + " is empty");
  return std::make_unique<Passphrase>(std::move(line));
}

Result<std::unique_ptr<Passphrase>, std::string> read_passphrase_terminal(std::string_view prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return error(
        "no terminal to ask for the passphrase on: set NIGHTJAR_PASSPHRASE or use "
        "--passphrase-file FILE");
  struct termios saved {};
  const bool is_tty = ::tcgetattr(fd, &saved) == 0;
  std::array<struct sigaction, restored_on.size()> previous{};
  if (is_tty) {
    g_saved_termios = saved;
    g_tty_fd = fd;
    struct sigaction sa {};
    sa.sa_handler = restore_terminal_and_reraise;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < restored_on.size(); ++i)
      ::sigaction(restored_on[i], &sa, &previous[i]);
    struct termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter key still moves to the next line
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  std::string line = passphrase_buffer();
  const LineRead r = read_line(fd, line);
  if (is_tty) {
    ::tcsetattr(fd, TCSAFLUSH, &saved);
    g_tty_fd = -1;
    for (std::size_t i = 0; i < restored_on.size(); ++i)
      ::sigaction(restored_on[i], &previous[i], nullptr);
  }
  ::close(fd);
  if (r != LineRead::ok || line.empty()) {
    wipe(line);
    if (r == LineRead::too_long)
      return error("the passphrase is longer than " + std::to_string(max_passphrase_bytes) +
                   " bytes");
    return error("no passphrase entered");
  }
  return std::make_unique<Passphrase>(std::move(line));
}

Result<std::unique_ptr<Passphrase>, std::string> obtain_passphrase(const CliOptions& options,
                                                                   PassphrasePurpose purpose) {
  switch (options.passphrase_source) {
    case PassphraseSource::file:
      return read_passphrase_file(options.passphrase_file);
    case PassphraseSource::environment: {
      const char* value = std::getenv("NIGHTJAR_PASSPHRASE");
      if (value == nullptr || *value == '\0') return error("NIGHTJAR_PASSPHRASE is empty");
      std::string text = passphrase_buffer();
      const std::size_t len = std::strlen(value);
      if (len > max_passphrase_bytes)
        return error("NIGHTJAR_PASSPHRASE is longer than " + std::to_string(max_passphrase_bytes) +
                     " bytes");
      text.assign(value, len);
      return std::make_unique<Passphrase>(std::move(text));
    }
    case PassphraseSource::terminal:
      break;
  }
  const std::string file = options.identity_file().string();
  if (purpose == PassphrasePurpose::unlock)
    return read_passphrase_terminal("Passphrase for " + file + ": ");
  auto first = read_passphrase_terminal("New passphrase for " + file + ": ");
  if (!first) return first;
  auto again = read_passphrase_terminal("Repeat the passphrase: ");
  if (!again) return again;
  if ((*first)->bytes().size() != (*again)->bytes().size() ||
      sodium_memcmp((*first)->bytes().data(), (*again)->bytes().data(), (*first)->bytes().size()) !=
          0)
    return error("the two passphrases differ: nothing was created");
  return first;
}

}  // namespace nightjar::client::cli
