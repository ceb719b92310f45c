// ProcessNetwork: a loopback network of real nightjar-node processes for
// nightjar-flood-scenario — one authority (1-second epochs) and N service
// nodes, each with its own data directory, listen port and metrics port
// under one temporary directory, started the way tests/integration/
// test_daemon.cpp starts them. Processes are stopped by their PID only, and
// every wait is bounded. The directory is fetched in-process, as a client
// gets it.
#pragma once

#include <uv.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "routing/result.hpp"
#include "swarm/directory.hpp"
#include "swarm/network_config.hpp"

namespace nightjar::test {
class DaemonProcess;
}

namespace nightjar::flood {

struct NodeProcess {
  std::string name;
  std::filesystem::path data;
  std::uint16_t port = 0;
  std::uint16_t metrics = 0;
  std::unique_ptr<test::DaemonProcess> process;
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

struct ProcessNetworkOptions {
  std::size_t nodes = 8;
  std::string swarm_sizes = "3,4,6";  // 8 nodes: two swarms of 4
  // Extra arguments for one node (the target: its log level).
  std::size_t special = 0;  // index in nodes(), from 0
  std::vector<std::string> special_args;
  std::vector<std::string> node_args = {"--log-level", "warn"};
};

class ProcessNetwork {
 public:
  // Makes a temporary directory (removed by the destructor unless keep()).
  ProcessNetwork();
  ~ProcessNetwork();
  ProcessNetwork(const ProcessNetwork&) = delete;
  ProcessNetwork& operator=(const ProcessNetwork&) = delete;

  // Starts the authority and the nodes and waits until every node is listed.
  Result<void, std::string> start(const ProcessNetworkOptions& options,
                                  std::chrono::seconds timeout);
  // Fetches the directory, running `loop`, until it lists every node.
  Result<std::shared_ptr<const Directory>, std::string> fetch_directory(
      uv_loop_t* loop, std::chrono::seconds timeout);
  // SIGTERM to every process (nodes first), each waited for at most 5 s;
  // the exit code of each node in nodes() order (-1: did not exit cleanly).
  std::vector<int> stop();

  const NetworkConfig& network() const { return network_; }
  std::vector<NodeProcess>& nodes() { return nodes_; }
  const std::filesystem::path& dir() const { return dir_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path dir_;
  bool keep_ = false;
  NodeProcess authority_;
  std::vector<NodeProcess> nodes_;
  NetworkConfig network_;
};

}  // namespace nightjar::flood
