// An acknowledged put survives kill -9: a child process (store_crash_child)
// puts messages with sync on and reports each acknowledged ID through a pipe;
// the test kills it with SIGKILL mid-stream, reopens the store and checks
// every acknowledged message and the consistency of what was rebuilt. The
// same child shows that a store open in one process cannot be opened in another.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "swarm/message_store.hpp"
#include "tests/integration/store_test_util.hpp"
#include "tests/support/log_capture.hpp"

using namespace nightjar;
using namespace nightjar::test;

namespace {

constexpr std::uint64_t t0 = 1'700'000'000'000;  // store_crash_child's clock
constexpr std::size_t kill_after = 150;          // acknowledgements
constexpr auto deadline = std::chrono::seconds(20);

// Moves the complete lines of `buf` into `ids`; a torn last line stays.
void take_lines(std::string& buf, std::vector<MessageId>& ids) {
  std::size_t start = 0;
  for (std::size_t nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n', start)) {
    MessageId id;
    if (from_hex(std::string_view(buf).substr(start, nl - start), id.mutable_view()))
      ids.push_back(id);
    start = nl + 1;
  }
  buf.erase(0, start);
}

// Starts store_crash_child with stdout (and, if asked, stderr) on a pipe;
// returns its pid and the pipe's read end.
std::pair<pid_t, int> spawn_child(const std::string& dir, bool with_stderr) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(fds[1], STDOUT_FILENO);
    if (with_stderr) ::dup2(fds[1], STDERR_FILENO);
    ::execl(NIGHTJAR_STORE_CRASH_CHILD, "store_crash_child", dir.c_str(), "1000000", "42",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Reads what arrives on `fd` until EOF or `until`, passing each chunk to
// `on_data`; calls `on_tick` between reads (it may kill the writer).
template <class OnData, class OnTick>
void read_until_eof(int fd, std::chrono::steady_clock::time_point until, OnData&& on_data,
                    OnTick&& on_tick) {
  for (;;) {
    on_tick();
    if (std::chrono::steady_clock::now() > until + deadline) break;  // a child that never dies
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone
    on_data(std::string_view(chunk, static_cast<std::size_t>(n)));
  }
  ::close(fd);
}

}  // namespace

TEST_CASE("every put acknowledged before kill -9 is in the reopened store",
          "[store][integration]") {
  TempDir dir;
  const std::string dir_arg = (dir.path() / "store").string();
  const auto child = spawn_child(dir_arg, false);
  const pid_t pid = child.first;
  const int out = child.second;
  std::vector<MessageId> acked;
  std::string buf;
  bool killed = false;
  const auto until = std::chrono::steady_clock::now() + deadline;
  read_until_eof(
      out, until,
      [&](std::string_view data) {
        buf.append(data);
        take_lines(buf, acked);
      },
      [&] {
        if (!killed && (acked.size() >= kill_after || std::chrono::steady_clock::now() > until)) {
          ::kill(pid, SIGKILL);
          killed = true;
        }
      });
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO("child status " << status << ", " << acked.size() << " acknowledged");
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  REQUIRE_FALSE(acked.empty());

  StoreOptions options;
  options.log = capture_logger("store");
  auto reopened = MessageStore::open(dir_arg, options);
  if (!reopened) FAIL("reopen failed: " << reopened.error());
  const auto& store = *reopened;
  std::size_t present = 0;
  for (const auto& id : acked) {
    const auto m = store->get(id, t0);
    if (m && m->body.size() == 400 && message_id(m->recipient, m->body) == id) ++present;
  }
  CHECK(present == acked.size());
  // At most the one put in flight at the kill may be there unacknowledged.
  CHECK(store->message_count() >= acked.size());
  CHECK(store->message_count() <= acked.size() + 1);
  CHECK(store->summary() == recompute_summary(*store));
  std::uint64_t listed = 0;
  for (const auto& r : store->recipients(std::nullopt, 100))
    listed += store->all_of(r, 1'000'000, t0).size();
  CHECK(listed == store->message_count());
}

TEST_CASE("a store open in one process cannot be opened by another", "[store][integration]") {
  TempDir dir;
  StoreOptions options;
  options.log = capture_logger("store");
  auto store = MessageStore::open(dir.path(), options);
  if (!store) FAIL("open failed: " << store.error());
  const auto child = spawn_child(dir.path().string(), true);
  const pid_t pid = child.first;
  const int out = child.second;
  std::string output;
  const auto until = std::chrono::steady_clock::now() + deadline;
  bool killed = false;
  read_until_eof(
      out, until, [&](std::string_view data) { output.append(data); },
      [&] {
        if (!killed && std::chrono::steady_clock::now() > until) {
          ::kill(pid, SIGKILL);
          killed = true;
        }
      });
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(output, Catch::Contains("is already open"));
}
