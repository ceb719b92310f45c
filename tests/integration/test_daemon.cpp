// The nightjar-node binary as operators run it, on loopback: an authority and
// three service nodes as separate processes form a network (each node's
// /metrics says it is listed), serve their metrics, stop cleanly on SIGTERM
// and start again from their data directories with the same identity. Each
// class of bad configuration exits with status 2 and one clear line before
// anything starts; failures at start-up exit with 1. Also SIGHUP reopening
// the log file and --print-authority-line. Processes are stopped by their
// PID only, and every wait is bounded.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "swarm/network_config.hpp"
#include "tests/integration/daemon_process.hpp"
#include "tests/support/metrics_http.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace std::chrono_literals;

namespace {

std::string loopback(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// The node ID on the line "<role> <hex> listening on ...".
std::string printed_id(const std::string& out, const std::string& role) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(role + " ", 0) == 0 && line.find(" listening on ") != std::string::npos)
      return line.substr(role.size() + 1, 64);
  return {};
}

bool private_file(const std::filesystem::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && (st.st_mode & 0777) == 0600;
}

struct Member {
  std::string name;
  std::filesystem::path data;
  std::uint16_t port = 0;
  std::uint16_t metrics = 0;
  std::string id;
  std::unique_ptr<DaemonProcess> process;
};

std::vector<std::string> member_args(const Member& m, const std::filesystem::path& network) {
  std::vector<std::string> args = {"--data-dir",     m.data.string(), "--listen",
                                   loopback(m.port), "--metrics",     loopback(m.metrics)};
  if (network.empty()) {
    for (const char* a : {"--authority", "--epoch-seconds", "1", "--swarm-sizes", "3,3,5"})
      args.emplace_back(a);
  } else {
    args.insert(args.end(), {"--network", network.string()});
  }
  return args;
}

}  // namespace

TEST_CASE("daemon: an authority and three nodes form a network, stop on SIGTERM and restart",
          "[integration][daemon]") {
  TempDir root("nightjar-daemon");
  std::vector<Member> members(4);
  for (std::size_t i = 0; i < members.size(); ++i) {
    members[i].name = i == 0 ? "authority" : "node" + std::to_string(i);
    members[i].data = root / members[i].name;
    members[i].port = free_loopback_port();
    members[i].metrics = free_loopback_port();
  }
  const std::filesystem::path network = members[0].data / "network.conf";
  auto start = [&](Member& m, const std::string& run) {
    m.process = std::make_unique<DaemonProcess>(root.path(), m.name + "-" + run,
                                                member_args(m, &m == &members[0] ? "" : network));
    REQUIRE(m.process->started());
  };

  // First run: keys are made, the authority writes the network file, and
  // every node registers and is listed after the next epoch.
  start(members[0], "first");
  REQUIRE(members[0].process->wait_for_output("listening on", 10s));
  REQUIRE(std::filesystem::exists(network));
  for (std::size_t i = 1; i < members.size(); ++i)
    start(members[i], "first");
  for (Member& m : members) {
    INFO(m.name << ": " << m.process->err());
    const std::string role = &m == &members[0] ? "authority" : "node";
    REQUIRE(m.process->wait_for_output(" listening on ", 10s));
    CHECK(m.process->out().find("created new keys in " + m.data.string()) != std::string::npos);
    m.id = printed_id(m.process->out(), role);
    REQUIRE(m.id.size() == 64);
  }
  for (std::size_t i = 1; i < members.size(); ++i) {
    INFO(members[i].name << ": " << members[i].process->err());
    CHECK(wait_for_metric(members[i].metrics, "nightjar_directory_listed", 1, 30s));
  }
  CHECK(wait_for_metric(members[0].metrics, "nightjar_directory_nodes", 3, 10s));

  // The metrics a dashboard needs are there.
  auto node_text = http_get(members[1].metrics, "/metrics");
  REQUIRE(node_text);
  for (const char* series :
       {"nightjar_build_info{version=\"0.1.0\"}", "nightjar_uptime_seconds",
        "nightjar_cells_relayed_total", "nightjar_cells_dropped_total{reason=\"bad_mac\"}",
        "nightjar_replay_hits_total", "nightjar_stores_total",
        "nightjar_storage_rejected_total{status=\"disk_full\"}", "nightjar_long_polls_waiting",
        "nightjar_replication_quorum_total{result=\"reached\"}", "nightjar_replication_lag",
        "nightjar_store_messages", "nightjar_store_disk_bytes", "nightjar_store_write_batches_total",
        "nightjar_store_writes_in_progress", "nightjar_links{kind=\"control\"}",
        "nightjar_rate_limited_total{action=\"refused\"}", "nightjar_directory_epoch"}) {
    INFO(series);
    CHECK(metric_value(*node_text, series));
  }
  CHECK(metric_value(*node_text, "nightjar_directory_nodes") == 3.0);
  auto authority_text = http_get(members[0].metrics, "/metrics");
  REQUIRE(authority_text);
  CHECK(metric_value(*authority_text, "nightjar_authority_registered") == 3.0);
  CHECK(metric_value(*authority_text, "nightjar_authority_reachable") == 3.0);
  CHECK_FALSE(metric_value(*authority_text, "nightjar_cells_relayed_total"));

  // SIGTERM: each exits 0 within 5 s, nodes first, then the authority.
  for (std::size_t i = members.size(); i-- > 0;) {
    Member& m = members[i];
    m.process->signal(SIGTERM);
    INFO(m.name << ": " << m.process->err());
    CHECK(m.process->exit_code(5s) == 0);
  }
  for (const Member& m : members) {
    INFO(m.name);
    CHECK(private_file(m.data / "identity.key"));
    CHECK(private_file(m.data / "link.key"));
    CHECK(std::filesystem::exists(m.data / "directory.bin"));
    if (&m != &members[0]) CHECK(std::filesystem::is_directory(m.data / "messages"));
  }

  // Second run: same identities, no new keys, the store opens; SIGTERM again.
  for (Member& m : members) {
    start(m, "second");
    const std::string role = &m == &members[0] ? "authority" : "node";
    INFO(m.name << ": " << m.process->err());
    REQUIRE(m.process->wait_for_output(" listening on ", 10s));
    CHECK(printed_id(m.process->out(), role) == m.id);
    CHECK(m.process->out().find("created new keys") == std::string::npos);
  }
  for (std::size_t i = 1; i < members.size(); ++i) {
    // The saved directory is loaded at start: the node is listed at once.
    CHECK(wait_for_metric(members[i].metrics, "nightjar_directory_listed", 1, 10s));
    CHECK(members[i].process->err().find("message store " +
                                         (members[i].data / "messages").string() + " open") !=
          std::string::npos);
  }
  for (std::size_t i = members.size(); i-- > 0;) {
    members[i].process->signal(SIGTERM);
    CHECK(members[i].process->exit_code(5s) == 0);
  }
}

TEST_CASE("daemon: each configuration error exits with status 2 and names the problem",
          "[integration][daemon]") {
  TempDir root("nightjar-daemon");
  const std::string data = (root / "data").string();
  const std::string listen = loopback(free_loopback_port());
  const std::vector<std::string> authority = {"--authority", "--data-dir", data, "--listen",
                                              listen,        "--metrics",  "off"};
  auto with = [](std::vector<std::string> a, std::initializer_list<std::string> more) {
    a.insert(a.end(), more);
    return a;
  };

  {
    std::ofstream conf(root / "node.conf");
    conf << "[node]\ndata-dir = data\n[limits]\nmax-connectoins = 10\n";
  }
  std::filesystem::create_directories(root / "a-directory");

  struct Case {
    std::string what;
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"unknown option", with(authority, {"--bogus"}), "unrecognised option '--bogus'"},
      {"unknown key in the config file",
       {"--config", (root / "node.conf").string()},
       "node.conf: unknown key 'max-connectoins' in section [limits]"},
      {"missing config file",
       {"--config", (root / "none.conf").string()},
       "cannot read config file"},
      {"bad address", {"--authority", "--data-dir", data, "--listen", "nonsense"},
       "--listen: expected HOST:PORT, got 'nonsense'"},
      {"bad swarm sizes", with(authority, {"--swarm-sizes", "5,3,1"}),
       "--swarm-sizes: '5,3,1': need 1 <= MIN <= IDEAL <= MAX <= 64"},
      {"bad epoch", with(authority, {"--epoch-seconds", "0"}),
       "--epoch-seconds: '0' is out of range (1 to 86400)"},
      {"missing data directory", {"--authority"}, "--data-dir is required"},
      {"no network and not an authority",
       {"--data-dir", data},
       "no network file (--network FILE) and not an authority (--authority): nothing to join"},
      {"missing network file",
       {"--data-dir", data, "--network", (root / "none.conf").string()},
       "cannot read network config"},
      {"network file that is a directory",
       {"--data-dir", data, "--network", (root / "a-directory").string()},
       "a-directory"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    DaemonProcess p(root.path(), "bad", c.args);
    REQUIRE(p.started());
    CHECK(p.exit_code() == 2);
    const std::string err = p.err();
    INFO(err);
    CHECK(err.find(c.says) != std::string::npos);
    CHECK(err.rfind("nightjar-node: ", 0) == 0);
    CHECK(err.find('\n') == err.size() - 1);  // one line
    CHECK(p.out().empty());
  }
  // Nothing started: no data directory was made.
  CHECK_FALSE(std::filesystem::exists(data));

  {  // A key file that others can read.
    std::filesystem::create_directories(data);
    {
      std::ofstream key(root / "data" / "identity.key");
      key << "nightjar ed25519 seed v1\n0123456789abcdef0123456789abcdef";
    }
    ::chmod((root / "data" / "identity.key").c_str(), 0640);
    DaemonProcess p(root.path(), "key", authority);
    REQUIRE(p.started());
    CHECK(p.exit_code() == 2);
    INFO(p.err());
    CHECK(p.err().find("is readable or writable by group or others (mode 0640); refusing to use "
                       "it. Run: chmod 600") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(root / "data" / "network.conf"));
  }
}

TEST_CASE("daemon: failures while starting exit with status 1", "[integration][daemon]") {
  TempDir root("nightjar-daemon");
  const std::uint16_t busy = free_loopback_port();
  // Hold `busy` so that neither the node nor its metrics can bind it.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(busy);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);

  SECTION("the listen address is in use") {
    DaemonProcess p(root.path(), "listen",
                    {"--authority", "--data-dir", (root / "a").string(), "--listen", loopback(busy),
                     "--metrics", "off"});
    CHECK(p.exit_code() == 1);
    CHECK(p.err().find("cannot listen on " + loopback(busy)) != std::string::npos);
  }
  SECTION("the chosen metrics address is in use") {
    DaemonProcess p(root.path(), "metrics",
                    {"--authority", "--data-dir", (root / "b").string(), "--listen",
                     loopback(free_loopback_port()), "--metrics", loopback(busy)});
    CHECK(p.exit_code() == 1);
    CHECK(p.err().find("cannot serve metrics at " + loopback(busy)) != std::string::npos);
  }
  ::close(fd);
}

TEST_CASE("daemon: SIGHUP reopens the log file", "[integration][daemon]") {
  TempDir root("nightjar-daemon");
  const auto log = root / "node.log";
  DaemonProcess p(root.path(), "hup",
                  {"--authority", "--data-dir", (root / "data").string(), "--listen",
                   loopback(free_loopback_port()), "--metrics", "off", "--log-file", log.string()});
  REQUIRE(p.wait_for_output("listening on", 10s));
  REQUIRE(std::filesystem::exists(log));
  CHECK(read_text_file(log).find("nightjar-node 0.1.0 starting") != std::string::npos);
  CHECK(p.err().empty());  // with a log file, nothing goes to standard error
  // What logrotate does: move the file away, then signal.
  std::filesystem::rename(log, root / "node.log.1");
  p.signal(SIGHUP);
  bool reopened = false;
  for (int i = 0; i < 500 && !reopened; ++i) {  // bounded: 10 s
    reopened = read_text_file(log).find("log file reopened") != std::string::npos;
    if (!reopened) std::this_thread::sleep_for(20ms);
  }
  CHECK(reopened);
  p.signal(SIGTERM);
  CHECK(p.exit_code(5s) == 0);
  CHECK(read_text_file(log).find("signal 15: stopping") != std::string::npos);
  CHECK(read_text_file(root / "node.log.1").find("signal") == std::string::npos);
}

TEST_CASE("daemon: --print-authority-line prints a line a network file accepts",
          "[integration][daemon]") {
  TempDir root("nightjar-daemon");
  const std::vector<std::string> args = {
      "--data-dir", (root / "auth").string(), "--print-authority-line",
      "east-1",     "--public-address",       "127.0.0.1:7420"};
  DaemonProcess first(root.path(), "line1", args);
  REQUIRE(first.exit_code() == 0);
  const std::string line = first.out();
  CHECK(line.rfind("authority = east-1 ", 0) == 0);
  auto parsed = NetworkConfig::parse("network_id = " + std::string(64, 'a') + "\n" + line);
  INFO(line);
  REQUIRE(parsed.ok());
  CHECK(parsed->authorities.at(0).address.to_string() == "127.0.0.1:7420");
  CHECK(private_file(root / "auth" / "identity.key"));
  // The keys are kept: the same line again.
  DaemonProcess second(root.path(), "line2", args);
  REQUIRE(second.exit_code() == 0);
  CHECK(second.out() == line);
  // A name a network file would refuse.
  DaemonProcess bad(root.path(), "line3",
                    {"--data-dir", (root / "auth").string(), "--print-authority-line", "bad name",
                     "--public-address", "127.0.0.1:7420"});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err().find("--print-authority-line: ") != std::string::npos);
}
