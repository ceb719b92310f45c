// DirectoryClient: how a service node stays in the directory. It registers
// its signed descriptor with every authority once per epoch (the
// registration is also its heartbeat), and fetches each new directory as
// soon as the authorities publish it. Before the first directory it polls
// every second, since it does not know the epoch length yet.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "node/directory_state.hpp"
#include "node/peer_links.hpp"
#include "routing/runtime.hpp"
#include "swarm/dir_messages.hpp"

namespace nightjar {

struct DirectoryClientConfig {
  // A freshly signed descriptor of this node, encoded.
  std::function<std::vector<std::uint8_t>()> descriptor;
  Clock clock;
  std::shared_ptr<spdlog::logger> log;
  bool register_node = true;  // false: only fetch (clients, authorities' own copy)
};

class DirectoryClient {
 public:
  DirectoryClient(uv_loop_t* loop, DirectoryClientConfig config, DirectoryState& state,
                  PeerLinks& peers);
  ~DirectoryClient();
  DirectoryClient(const DirectoryClient&) = delete;
  DirectoryClient& operator=(const DirectoryClient&) = delete;

  void start();
  void stop();
  // dir_register_reply, dir_chunk and dir_none frames. False for others.
  bool handle_frame(Link& from, Bytes frame);
  void link_closed(Link& link);
  // Registers again now (e.g. after the onion keys changed).
  void register_now();

  // Authorities that accepted the last registration.
  std::size_t accepted_by() const;

 private:
  void tick();
  // Arms the timer for the next registration or fetch (see the .cpp).
  void schedule(std::uint64_t now);
  void fetch();
  std::uint64_t epoch_ms() const;

  DirectoryClientConfig config_;
  DirectoryState& state_;
  PeerLinks& peers_;
  std::shared_ptr<spdlog::logger> log_;
  Timer timer_;  // tick(), one shot, armed again by schedule()
  bool running_ = false;
  std::vector<RegisterStatus> status_;  // per authority, last answer
  std::uint64_t next_register_ms_ = 0;
  std::uint64_t next_fetch_ms_ = 0;
  std::size_t fetch_turn_ = 0;
  std::uint64_t last_answer_ms_ = 0;  // an authority answered (registration or directory)
  std::uint64_t next_warning_ms_ = 0;
  std::unordered_map<const Link*, BlobAssembler> assemblers_;
};

}  // namespace nightjar
