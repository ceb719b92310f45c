#include "tests/bench/flood/process_network.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <thread>

#include "client/directory_fetcher.hpp"
#include "tests/integration/daemon_process.hpp"
#include "tests/support/test_network.hpp"

namespace nightjar::flood {

using namespace std::chrono_literals;
using test::DaemonProcess;
using test::free_loopback_port;
using test::wait_for_metric;

ProcessNetwork::ProcessNetwork() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "nightjar-flood-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
}

ProcessNetwork::~ProcessNetwork() {
  stop();
  if (!keep_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<void, std::string> ProcessNetwork::start(const ProcessNetworkOptions& options,
                                                std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  auto make = [&](const std::string& name) {
    NodeProcess p;
    p.name = name;
    p.data = dir_ / name;
    p.port = free_loopback_port();
    p.metrics = free_loopback_port();
    return p;
  };
  auto common = [](const NodeProcess& p) {
    return std::vector<std::string>{"--data-dir", p.data.string(), "--listen", p.address(),
                                    "--metrics",  "127.0.0.1:" + std::to_string(p.metrics)};
  };
  authority_ = make("authority");
  auto args = common(authority_);
  args.insert(args.end(), {"--authority", "--epoch-seconds", "1", "--swarm-sizes",
                           options.swarm_sizes, "--log-level", "warn"});
  authority_.process = std::make_unique<DaemonProcess>(dir_, authority_.name, args);
  if (!authority_.process->wait_for_output(" listening on ", 10s))
    return fail("the authority did not start: " + authority_.process->err());
  const auto network_file = authority_.data / "network.conf";
  auto network = NetworkConfig::load(network_file);
  if (!network) return fail("network file: " + network.error());
  network_ = *network;

  for (std::size_t i = 0; i < options.nodes; ++i) {
    NodeProcess p = make("node" + std::to_string(i + 1));
    auto a = common(p);
    a.insert(a.end(), {"--network", network_file.string()});
    const auto& extra = i == options.special ? options.special_args : options.node_args;
    a.insert(a.end(), extra.begin(), extra.end());
    p.process = std::make_unique<DaemonProcess>(dir_, p.name, a);
    nodes_.push_back(std::move(p));
  }
  const double n = static_cast<double>(options.nodes);
  if (!wait_for_metric(authority_.metrics, "nightjar_directory_nodes", n, until)) {
    // Say which nodes stopped, and what they said: a node that could not
    // bind its port (chosen free a moment before) exits at once.
    std::string why;
    for (auto& p : nodes_)
      if (p.process->wait_exit(std::chrono::milliseconds(0)))
        why += "; " + p.name + " exited: " + p.process->err();
    return fail("the authority did not list " + std::to_string(options.nodes) + " nodes in time" +
                (why.empty() ? std::string("; every node is still running") : why));
  }
  for (const auto& p : nodes_)
    if (!wait_for_metric(p.metrics, "nightjar_directory_nodes", n, until))
      return fail(p.name + " did not get the full directory in time: " + p.process->err());
  return {};
}

Result<std::shared_ptr<const Directory>, std::string> ProcessNetwork::fetch_directory(
    uv_loop_t* loop, std::chrono::seconds timeout) {
  LinkConfig link;
  link.prologue.assign(network_.network_id.bytes.begin(), network_.network_id.bytes.end());
  auto quiet = std::make_shared<spdlog::logger>("fetch", std::make_shared<spdlog::sinks::null_sink_mt>());
  link.log = quiet;
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::string last_error = "no answer";
  while (std::chrono::steady_clock::now() < until) {
    std::optional<Result<std::shared_ptr<const Directory>, std::string>> got;
    {
      client::DirectoryFetcher fetcher(loop, network_, link, quiet);
      fetcher.fetch(nullptr, [&](auto r) { got = std::move(r); }, 10s);
      while (!got && std::chrono::steady_clock::now() < until) uv_run(loop, UV_RUN_ONCE);
      fetcher.close();
    }
    uv_run(loop, UV_RUN_NOWAIT);
    if (got && *got && got->value()->entries.size() == nodes_.size()) return got->value();
    if (got && !*got) last_error = got->error();
    std::this_thread::sleep_for(200ms);
  }
  return fail("no directory with every node: " + last_error);
}

std::vector<int> ProcessNetwork::stop() {
  std::vector<int> codes;
  for (auto& p : nodes_)
    if (p.process) p.process->signal(SIGTERM);
  for (auto& p : nodes_) codes.push_back(p.process ? p.process->exit_code(5s) : -1);
  if (authority_.process) {
    authority_.process->signal(SIGTERM);
    (void)authority_.process->exit_code(5s);
  }
  return codes;
}

}  // namespace nightjar::flood
