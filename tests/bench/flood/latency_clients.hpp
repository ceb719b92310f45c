// LatencyClients: the honest traffic of nightjar-flood-scenario. A few
// clients, each with its own account and its own anonymous link to the
// target, keep storing messages for each other through onion paths whose
// first hop is the flooded node (then two other relays, then a member of the
// recipient's swarm), one request at a time at a fixed pace, and record each
// store's round trip. OnionClient is used directly, with explicit relays:
// the client library's path selector picks its own guards, and the point is
// to measure paths through the target.
//
// take() hands over what was measured since the previous take(), so the
// scenario cuts the run into phases (unloaded, flooded, after). One thread:
// the loop's.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/onion_client.hpp"
#include "routing/random_source.hpp"

namespace nightjar::flood {

struct LatencyOptions {
  std::size_t clients = 3;
  double stores_per_second = 50;  // per client; below the target's per-link rate limit
};

struct LatencySample {
  std::vector<double> round_trips_ms;        // stores acknowledged (status ok)
  std::map<std::string, std::uint64_t> failures;  // by what went wrong
  std::uint64_t failed() const {
    std::uint64_t n = 0;
    for (const auto& [why, count] : failures) n += count;
    return n;
  }
};

class LatencyClients {
 public:
  LatencyClients(uv_loop_t* loop, const NetworkConfig& network,
                 std::shared_ptr<const Directory> directory, const NodeId& target,
                 LatencyOptions options);
  ~LatencyClients();
  LatencyClients(const LatencyClients&) = delete;
  LatencyClients& operator=(const LatencyClients&) = delete;

  void start();
  // Stops the timers and the OnionClients (pending requests fail, uncounted).
  void stop();
  LatencySample take();

 private:
  struct Sender {
    LatencyClients* owner = nullptr;
    std::size_t index = 0;
    std::unique_ptr<OnionClient> onion;
    Ed25519KeyPair account;
    bool busy = false;
    uv_timer_t* timer = nullptr;  // freed in its close callback
  };
  void send(Sender& from);

  uv_loop_t* loop_;
  std::shared_ptr<const Directory> directory_;
  NodeId target_;
  LatencyOptions options_;
  SystemRandom rng_;
  std::vector<std::unique_ptr<Sender>> senders_;
  LatencySample sample_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool stopped_ = false;
};

// The p-th percentile (0..100) by nearest rank; 0 for an empty sample.
double percentile(std::vector<double> v, double p);

}  // namespace nightjar::flood
