// DirectoryFetcher: how a client gets the signed directory. It asks sources
// in turn over anonymous links — a few nodes of the directory it already
// holds (any node serves the directory), then the network's authorities —
// and accepts the first answer that passes check_directory (this network,
// newer than what it holds, enough authority signatures). Used by Client at
// start and whenever its directory may be stale (a new epoch, a wrong-swarm
// answer, an unknown node).
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "routing/link.hpp"
#include "routing/runtime.hpp"
#include "swarm/dir_messages.hpp"
#include "swarm/directory.hpp"

namespace nightjar::client {

class DirectoryFetcher {
 public:
  // Ok: a newer checked directory, or the one held when no source had newer.
  using Handler = std::function<void(Result<std::shared_ptr<const Directory>, std::string>)>;

  DirectoryFetcher(uv_loop_t* loop, NetworkConfig network, LinkConfig link,
                   std::shared_ptr<spdlog::logger> log);
  ~DirectoryFetcher();

  // One fetch at a time; a second call while one runs joins it.
  void fetch(std::shared_ptr<const Directory> held, Handler done,
             std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool busy() const { return !waiting_.empty(); }
  void close();

 private:
  struct Source {
    Endpoint address;
    X25519PublicKey key;
    std::string name;
  };
  void next_source();
  void attempt_done(Result<std::shared_ptr<const Directory>, std::string> r);
  void finish(Result<std::shared_ptr<const Directory>, std::string> r);

  uv_loop_t* loop_;
  NetworkConfig network_;
  LinkConfig link_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const Directory> held_;
  std::vector<Handler> waiting_;
  std::vector<Source> sources_;
  std::size_t next_ = 0;
  std::uint64_t deadline_ms_ = 0;
  std::string last_error_;
  std::shared_ptr<Link> link_in_use_;
  std::uint64_t attempt_ = 0;  // handlers of older attempts' links do nothing
  std::unique_ptr<BlobAssembler> assembler_;
  bool closed_ = false;
  Timer timer_;     // the attempt's timeout, or the pause between rounds
  Scheduler jobs_;  // link handlers; last: cancelled first
};

}  // namespace nightjar::client
