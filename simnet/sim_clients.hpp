// SimClients: the simnet's M message clients, client::Client objects on the
// simnet's loop (in both modes), each with a fresh identity and its state in
// memory. The runner sends the planned messages through them, takes them
// offline (they stop polling) and online again, and reads their path
// choices for the report.
//
// Message texts are workload.hpp's message_text.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "simnet/report.hpp"

namespace nightjar::simnet {

class RunTrace;

using client::AccountKey;

struct SendOutcome {
  bool ok = false;
  std::string error;  // when not ok
  std::string message_id;
  std::vector<::nightjar::MessageId> stored_ids;  // the storage IDs of its fragments
  std::uint32_t replicas = 0;
  int attempts = 0;
};

class SimClients {
 public:
  // Called for every message a client's application is handed: the client's
  // index, the planned message's index (nullopt: not a simnet message), and
  // whether its sender is the planned sender.
  using Received = std::function<void(std::size_t client, std::optional<std::uint64_t> index,
                                      const AccountKey& sender)>;
  // The same for a group message: the group, and the index in the group
  // message plan.
  using ReceivedGroup =
      std::function<void(std::size_t client, const client::GroupKey& group,
                         std::optional<std::uint64_t> index, const AccountKey& sender)>;

  // `lookback`: how often each client sweeps back for messages that reached
  // its swarm member late (ClientOptions::lookback). `forward_secret`: the
  // clients publish prekey bundles and send version 2 envelopes (group
  // controls need them); otherwise version 1 only. `trace`: records each
  // client's link frames and requests (simnet/trace.hpp).
  SimClients(uv_loop_t* loop, const NetworkConfig& network, std::size_t count,
             std::shared_ptr<spdlog::logger> log, Received on_received,
             std::chrono::milliseconds lookback = client::ClientOptions{}.lookback,
             bool forward_secret = false, std::shared_ptr<RunTrace> trace = nullptr);
  void on_group_received(ReceivedGroup f) { on_group_received_ = std::move(f); }
  ~SimClients();

  // Starts every client; `done` once all have a directory, or with the first
  // error.
  void start(std::function<void(Result<void, std::string>)> done,
             std::chrono::milliseconds timeout);
  void set_online(std::size_t client, bool online);
  bool online(std::size_t client) const;
  void send(const PlannedMessage& m, std::function<void(SendOutcome)> done);
  void stop();

  const AccountKey& account(std::size_t client) const;
  client::Client& client(std::size_t i) { return *clients_.at(i); }
  const client::Client& client(std::size_t i) const { return *clients_.at(i); }
  std::size_t size() const { return clients_.size(); }
  // Path figures of all clients together; `name_of` names a node.
  PathReport path_report(const std::function<std::string(const NodeId&)>& name_of,
                         std::size_t nodes) const;

 private:
  uv_loop_t* loop_;
  std::vector<std::unique_ptr<client::Client>> clients_;
  std::vector<AccountKey> accounts_;
  std::vector<bool> online_;
  Received on_received_;
  ReceivedGroup on_group_received_;
  std::size_t started_ = 0;
  bool start_failed_ = false;
};

}  // namespace nightjar::simnet
