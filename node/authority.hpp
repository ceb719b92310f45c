// Authority: the directory-authority role of nightjar-node. It accepts node
// registrations, checks that each node is reachable by connecting back to its
// address and completing a link handshake, and publishes a signed directory
// every epoch.
//
// With several authorities, each one sends the others its vote (the
// descriptors it found reachable) at the start of an epoch; after the votes
// are in (or a deadline passes) every authority computes the same directory
// from them, deterministically: a node is listed when a majority of the
// configured authorities vote for it, and swarms are assigned from the
// previous directory. Each authority signs the result and sends its signature
// to the others; a directory with enough signatures is published. One
// authority alone does the same with one vote. docs/PROTOCOL.md, "Directory
// protocol", has the timeline.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "node/directory_state.hpp"
#include "node/peer_links.hpp"
#include "routing/runtime.hpp"
#include "swarm/dir_messages.hpp"

namespace nightjar {

struct AuthorityConfig {
  std::shared_ptr<const Ed25519KeyPair> identity;  // signs directories
  std::shared_ptr<const X25519KeyPair> link_identity;
  NetworkParams params;  // what this network runs with
  LinkConfig link;       // for connect-back checks
  Clock clock;
  std::shared_ptr<spdlog::logger> log;
  std::size_t max_registrations = Directory::max_entries;
};

// Deterministic directory construction from the votes of one epoch (also
// used by tests): `votes` are the authorities' decoded votes (at most one per
// authority), `authorities` the number configured.
Directory build_directory(const NetworkConfig& network, const NetworkParams& params,
                          std::uint64_t epoch, std::span<const Vote> votes,
                          std::size_t authorities, const Directory* previous);

class Authority {
 public:
  Authority(uv_loop_t* loop, AuthorityConfig config, DirectoryState& state, PeerLinks& peers);
  ~Authority();
  Authority(const Authority&) = delete;
  Authority& operator=(const Authority&) = delete;

  void start();
  void stop();
  // Register, vote and signature frames, and directory chunks from peer
  // authorities. Returns false if the frame is not for the authority role.
  bool handle_frame(Link& from, Bytes frame);
  // Call when a link closes, to drop its partial documents.
  void link_closed(Link& link);

  std::size_t registered() const { return registrations_.size(); }
  std::size_t reachable() const;

 private:
  struct Registration {
    NodeDescriptor descriptor;
    std::vector<std::uint8_t> encoded;
    std::uint64_t registered_ms = 0;
    std::uint64_t reachable_ms = 0;  // last successful connect-back
    bool checking = false;
    std::vector<std::weak_ptr<Link>> waiting;  // registrations to answer after the check
  };
  struct Round {  // one epoch's consensus
    std::map<std::size_t, Vote> votes;  // by authority index in the network config
    std::uint64_t vote_deadline_ms = 0;
    std::optional<Directory> built;
    Hash256 digest;
    std::map<std::size_t, Ed25519Signature> signatures;  // valid, over `digest`
    std::vector<SignatureMessage> early;                 // arrived before we built
    bool published = false;
  };

  void tick();
  void handle_register(Link& from, Bytes frame);
  void check_reachable(const NodeId& id);
  void finish_check(const NodeId& id, bool ok);
  void start_round(std::uint64_t epoch);
  void build_round(std::uint64_t epoch);
  void add_signature(Round& round, const SignatureMessage& m);
  void try_publish(std::uint64_t epoch);
  void handle_vote_chunk(Link& from, Bytes frame);
  void handle_signature(Link& from, Bytes frame);
  void handle_directory_chunk(Link& from, Bytes frame);
  void broadcast(Bytes frame);
  std::optional<std::size_t> authority_index(const Link& from) const;
  std::uint64_t now_ms() const { return config_.clock.unix_ms(); }
  std::uint64_t epoch_ms() const;

  uv_loop_t* loop_;
  AuthorityConfig config_;
  DirectoryState& state_;
  PeerLinks& peers_;
  std::shared_ptr<spdlog::logger> log_;
  std::size_t self_index_ = 0;
  std::map<NodeId, Registration, NodeIdLess> registrations_;
  std::map<std::uint64_t, Round> rounds_;
  std::uint64_t last_round_ = 0;
  std::unordered_map<const Link*, BlobAssembler> assemblers_;
  bool started_ = false;
  Scheduler jobs_;  // tick() and reachability checks; last: cancelled first
};

}  // namespace nightjar
