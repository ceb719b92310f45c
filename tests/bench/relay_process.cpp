#include "relay_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "routing/onion_relay.hpp"

extern char** environ;

namespace nightjar::bench {

namespace {

constexpr double report_timeout_s = 10;
constexpr double stop_timeout_s = 5;
constexpr std::size_t max_report_bytes = 512;

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Reads one line from `fd` within `timeout_s` (the child's report).
std::string read_line(int fd, double timeout_s) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (line.size() < max_report_bytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char c = 0;
    if (::read(fd, &c, 1) != 1) break;
    if (c == '\n') return line;
    line += c;
  }
  throw std::runtime_error("the relay process did not report (got \"" + line + "\")");
}

// The sink, the only peer the child's relay knows.
struct OnePeer final : PeerDirectory {
  NodeId node;
  PeerInfo info;
  std::optional<PeerInfo> lookup(const NodeId& n) const override {
    return n == node ? std::optional<PeerInfo>(info) : std::nullopt;
  }
};

}  // namespace

std::vector<std::uint8_t> relay_prologue() {
  return {'r', 'e', 'l', 'a', 'y', '-', 'b', 'e', 'n', 'c', 'h'};
}

EpochSchedule relay_schedule() {
  return EpochSchedule{3600, 600};
}

// --- Parent side ------------------------------------------------------------------

RelayProcess::RelayProcess(const char* program, std::uint16_t sink_port,
                           const X25519PublicKey& sink_link_key, const NodeId& sink_id,
                           std::size_t cell_bytes, double lifetime_s) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> args = {program,
                                   relay_child_flag,
                                   std::to_string(sink_port),
                                   sink_link_key.hex(),
                                   sink_id.hex(),
                                   std::to_string(cell_bytes),
                                   std::to_string(::getpid()),
                                   std::to_string(static_cast<long long>(std::ceil(lifetime_s)))};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);  // the report
  const int rc = ::posix_spawn(&pid_, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    pid_ = -1;
    throw std::runtime_error("cannot start the relay process: " + std::string(std::strerror(rc)));
  }
  try {
    std::istringstream report(read_line(fds[0], report_timeout_s));
    std::string word, link_hex, onion_hex;
    unsigned port = 0;
    report >> word >> port >> link_hex >> onion_hex >> epoch_;
    if (word != "ready" || report.fail() || port == 0 || port > 65535 ||
        !from_hex(link_hex, link_key_.mutable_view()) ||
        !from_hex(onion_hex, onion_key_.mutable_view()))
      throw std::runtime_error("the relay process sent a malformed report");
    port_ = static_cast<std::uint16_t>(port);
  } catch (...) {
    ::close(fds[0]);
    stop();
    throw;
  }
  ::close(fds[0]);
  have_clock_ = ::clock_getcpuclockid(pid_, &clock_) == 0;
}

RelayProcess::~RelayProcess() {
  stop();
}

double RelayProcess::cpu_seconds() const {
  if (pid_ <= 0) return 0;
  timespec ts{};
  if (have_clock_ && ::clock_gettime(clock_, &ts) == 0)
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  // /proc/<pid>/stat: fields 14 and 15 (utime, stime), counted after the
  // command name, which is in parentheses and may contain spaces.
  const std::string path = "/proc/" + std::to_string(pid_) + "/stat";
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return 0;
  std::array<char, 1024> buf{};
  const std::size_t n = std::fread(buf.data(), 1, buf.size() - 1, f);
  std::fclose(f);
  const std::string stat(buf.data(), n);
  const auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close_paren + 1));
  std::string skip;
  for (int i = 3; i <= 13; ++i)
    fields >> skip;
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void RelayProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(stop_timeout_s);
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = ::waitpid(pid_, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (reaped == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

// --- Child side -------------------------------------------------------------------

int relay_child_main(int argc, char** argv) {
  if (argc != 8) return 2;
  unsigned sink_port = 0;
  std::size_t cell_bytes = 0;
  long long parent = 0, lifetime_s = 0;
  X25519PublicKey sink_link;
  OnePeer sink;
  if (!parse_number(argv[2], sink_port) || sink_port == 0 || sink_port > 65535 ||
      !from_hex(argv[3], sink_link.mutable_view()) ||
      !from_hex(argv[4], sink.node.mutable_view()) || !parse_number(argv[5], cell_bytes) ||
      !onion::valid_cell_size(cell_bytes) || !parse_number(argv[6], parent) ||
      !parse_number(argv[7], lifetime_s) || lifetime_s <= 0) {
    std::fprintf(stderr, "%s: bad arguments for the relay process\n", argv[0]);
    return 2;
  }
  // Die with the parent, whatever happens to it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != static_cast<pid_t>(parent)) return 1;
  auto endpoint = Endpoint::parse("127.0.0.1:" + std::to_string(sink_port));
  if (!endpoint) return 2;
  sink.info = PeerInfo{*endpoint, sink_link};

  uv_loop_t loop;
  uv_loop_init(&loop);
  const auto link_key = std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  RelayConfig config;
  config.cell_bytes = cell_bytes;
  config.link.prologue = relay_prologue();
  // The sink never answers: entries expire rather than being answered, and a
  // short TTL keeps the table at rate x 2 s entries (see relay_bench.cpp).
  config.entry_ttl = std::chrono::seconds(2);
  config.max_entries = std::size_t{1} << 20;
  OnionRelay relay(&loop, link_key, OnionKeyring(relay_schedule()), sink, config, {});
  LinkListener listener(&loop, link_key, config.link, ListenerOptions{}, [&relay](Link&) {
    Link::Handlers h;
    h.on_frame = [&relay](Link& l, Bytes f) { relay.handle_frame(l, f); };
    return h;
  });
  if (auto r = listener.listen(*Endpoint::parse("127.0.0.1:0")); !r) {
    std::fprintf(stderr, "%s: relay process: %s\n", argv[0], r.error().c_str());
    return 1;
  }
  const std::uint64_t epoch =
      relay_schedule().epoch_at(static_cast<std::uint64_t>(std::time(nullptr)));
  const OnionKey* key = relay.keyring().find(epoch);
  if (!key) return 1;
  std::printf("ready %u %s %s %llu\n", static_cast<unsigned>(listener.port()),
              link_key->pub.hex().c_str(), key->keys.pub.hex().c_str(),
              static_cast<unsigned long long>(epoch));
  std::fflush(stdout);

  // Runs until the parent stops it; the lifetime bounds the run if it does not.
  uv_timer_t lifetime;
  uv_timer_init(&loop, &lifetime);
  lifetime.data = &loop;
  uv_timer_start(
      &lifetime, [](uv_timer_t* t) { uv_stop(static_cast<uv_loop_t*>(t->data)); },
      static_cast<std::uint64_t>(lifetime_s) * 1000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  relay.close();
  listener.close_links();
  listener.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&lifetime), nullptr);
  uv_run(&loop, UV_RUN_NOWAIT);
  return 0;
}

}  // namespace nightjar::bench
