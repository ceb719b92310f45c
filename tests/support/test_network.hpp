// TestNetwork: authorities and service nodes (real nightjar::Node objects) on
// one test loop, on loopback, each with its own data directory under one
// TempDir. Integration tests build on it for the directory, storage and
// client tests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/node.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/uv_loop.hpp"

namespace nightjar::test {

class TestNetwork {
 public:
  explicit TestNetwork(TestLoop& loop, NetworkParams params = small_params());
  ~TestNetwork();

  // Parameters for fast tests: 1-second epochs, swarms of 5/7/10.
  static NetworkParams small_params();

  // Creates `n` authorities (keys, a network config listing them all, free
  // loopback ports) and starts them. Call once, before add_nodes.
  void start_authorities(std::size_t n);
  // Creates and starts `n` service nodes that join the network.
  void add_nodes(std::size_t n);
  // Stops (and forgets) one authority or node; its data directory stays.
  void stop_authority(std::size_t i);
  void stop_node(std::size_t i);
  // Starts again a node stopped with stop_node, from its data directory.
  void restart_node(std::size_t i);

  // True when every running node and authority holds the same directory
  // (same digest) listing exactly `nodes` nodes.
  bool agree_on(std::size_t nodes) const;
  // The newest directory epoch held by any running member.
  std::uint64_t newest_epoch() const;

  // Applied to the options of every node created from now on.
  std::function<void(const std::string& name, NodeOptions&)> customize;

  const NetworkConfig& config() const { return config_; }
  std::vector<std::unique_ptr<Node>>& authorities() { return authorities_; }
  std::vector<std::unique_ptr<Node>>& nodes() { return nodes_; }
  const TempDir& dir() const { return dir_; }

 private:
  std::unique_ptr<Node> make_node(const std::string& name, bool authority);

  TestLoop& loop_;
  NetworkParams params_;
  TempDir dir_{"nightjar-net"};
  NetworkConfig config_;
  std::vector<std::unique_ptr<Node>> authorities_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::string> node_names_;
};

// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back,
// close). For configs that must name an address before the listener exists.
std::uint16_t free_loopback_port();

}  // namespace nightjar::test
