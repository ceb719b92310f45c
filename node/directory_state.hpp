// DirectoryState: the directory a node (or authority, or client) currently
// trusts. It checks every directory offered to it against the network config
// (check_directory), keeps the newest, saves it to disk so a restart begins
// from it, tells listeners what changed, and answers dir_fetch requests with
// it. It is also the relay's PeerDirectory: the next hop of a cell must be a
// node in the current directory.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "routing/link.hpp"
#include "routing/onion_relay.hpp"
#include "swarm/directory.hpp"

namespace spdlog {
class logger;
}

namespace nightjar {

class DirectoryState final : public PeerDirectory {
 public:
  using ChangeHandler = std::function<void(const Directory* previous, const Directory& current)>;

  // `file`: where the current directory is saved (empty path: not saved).
  DirectoryState(NetworkConfig network, std::filesystem::path file,
                 std::shared_ptr<spdlog::logger> log);

  // Loads the saved directory, if any. A saved file that fails the checks is
  // ignored with a warning (a fresh one will be fetched).
  void load();
  // Checks and adopts `d` if it is newer. Ok(true): adopted.
  Result<bool, DirectoryError> offer(Directory d);
  Result<bool, DirectoryError> offer_encoded(Bytes encoded);

  std::shared_ptr<const Directory> current() const { return current_; }
  std::uint64_t epoch() const { return current_ ? current_->epoch : 0; }
  const NetworkConfig& network() const { return network_; }
  void add_change_handler(ChangeHandler h) { handlers_.push_back(std::move(h)); }

  // Answers a dir_fetch frame on `from`: the current directory in chunks if it
  // is newer than the asker's, else dir_none. Returns false if `frame` does
  // not decode (the caller drops the link).
  bool serve_fetch(Link& from, Bytes frame);

  // PeerDirectory: address and link key of a node in the current directory.
  std::optional<PeerInfo> lookup(const NodeId& node) const override;
  // The node of the current directory whose link key this is (who is on the
  // other end of a mutual link).
  std::optional<NodeId> node_with_link_key(const X25519PublicKey& key) const;

 private:
  NetworkConfig network_;
  std::filesystem::path file_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const Directory> current_;
  std::vector<std::uint8_t> encoded_;
  std::map<X25519PublicKey, NodeId> by_link_key_;
  std::vector<ChangeHandler> handlers_;
};

}  // namespace nightjar
