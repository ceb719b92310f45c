// Replicator: keeps the members of a swarm holding the same messages.
//
//  - Push: a message a client stored here is pushed to every other member of
//    the swarm; replicate() reports once a quorum (this node included) holds it
//    durably, or when the acknowledgement timeout passes.
//  - Anti-entropy: every interval, the node sends one swarm peer (in turn) the
//    summary of its store (256 bucket digests); the peer answers with the
//    entries of the buckets that differ, and each side then fetches what it
//    lacks and pushes what the other lacks. Deletes travel as tombstones.
//    Replicas converge after a missed push, a crash or a partition.
//  - Migration: after a directory change, messages whose recipient now maps to
//    another swarm are pushed to that swarm's members and dropped here once a
//    quorum of them acknowledged every one of them.
//
// The Replicator does no I/O of its own: it sends frames through a
// ReplicationTransport (the node's peer links) and is driven by the node's
// frames and timer, so tests can run it without sockets. One thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "routing/runtime.hpp"
#include "swarm/directory.hpp"
#include "swarm/message_store.hpp"
#include "swarm/replication_messages.hpp"

namespace spdlog {
class logger;
}

namespace nightjar {

class ReplicationTransport {
 public:
  virtual ~ReplicationTransport() = default;
  // Sends a frame to a node of the current directory; false if it cannot be
  // queued now (the replicator retries later).
  virtual bool send(const NodeId& peer, Bytes frame) = 0;
};

struct ReplicationConfig {
  std::uint64_t ack_timeout_ms = 3000;
  std::uint64_t anti_entropy_interval_ms = 5000;
  // After a round that found differences, the next one comes this soon.
  std::uint64_t catch_up_interval_ms = 200;
  std::size_t max_buckets_per_round = 32;
  std::size_t max_outstanding_fetches = 2048;  // message IDs asked for and not yet received
  std::size_t migration_batch = 64;            // recipients examined per tick
  std::size_t max_migration_pushes = 1024;     // pushes awaiting acknowledgement
  std::uint64_t expiry_margin_ms = 2000;  // entries this close to expiry are not repaired
  Clock clock;
  std::shared_ptr<spdlog::logger> log;
};

struct ReplicationStats {
  std::uint64_t pushes_sent = 0;
  std::uint64_t pushes_received = 0;
  std::uint64_t acks_received = 0;
  std::uint64_t quorum_reached = 0;
  std::uint64_t quorum_failed = 0;
  std::uint64_t summaries_sent = 0;
  std::uint64_t buckets_compared = 0;
  std::uint64_t repaired = 0;  // messages or tombstones fetched by anti-entropy
  std::uint64_t migrated_recipients = 0;
  std::uint64_t migrated_messages = 0;
  std::uint64_t wrong_swarm = 0;  // pushes refused: not this swarm's
};

class Replicator {
 public:
  using Reply = std::function<void(Bytes)>;
  using QuorumHandler = std::function<void(std::uint32_t confirmed, std::uint32_t needed)>;

  Replicator(MessageStore& store, ReplicationTransport& net, NodeId self, ReplicationConfig config);
  ~Replicator();

  // The directory changed (or the first one arrived).
  void set_directory(std::shared_ptr<const Directory> directory);
  // This node's swarm under the current directory, if it is in it.
  std::optional<SwarmId> swarm() const { return swarm_; }
  std::vector<NodeId> peers() const;  // the other members of this node's swarm

  // A message stored here for a client: push it to the swarm. `done` is
  // called once: when a quorum holds it, or at the timeout.
  void replicate(const StoredMessage& m, QuorumHandler done);
  void replicate_tombstone(const Mailbox& mailbox, const MessageId& id, std::uint64_t expiry_ms);

  // A replication frame from `peer` (its sender, identified by its link).
  // `reply` sends on the same link. False if the frame is not a replication
  // frame; frames that do not decode are counted and ignored.
  bool handle_frame(const NodeId& peer, Bytes frame, const Reply& reply);

  // Timeouts, anti-entropy rounds, migration batches. Call every ~100 ms.
  void tick();

  // Called with the mailbox of every message newly stored through
  // replication, once it is durable (long polls wait on it).
  void set_stored_handler(std::function<void(const Mailbox&)> h) {
    on_stored_ = std::move(h);
  }

  const ReplicationStats& stats() const { return stats_; }
  // Messages or tombstones asked for and not yet received, and migrations in
  // progress: zero when this node is idle.
  std::size_t backlog() const;

 private:
  struct QuorumOp {
    std::uint32_t confirmed = 1;  // this node
    std::uint32_t needed = 1;
    std::uint64_t deadline_ms = 0;
    QuorumHandler done;
  };
  struct PendingPush {
    std::uint64_t op = 0;        // QuorumOp, or 0
    std::uint64_t migration = 0;  // a migrating recipient's slot, or 0
    std::uint64_t deadline_ms = 0;
    MessageId message;  // migration: which message
  };
  struct Migration {
    Mailbox mailbox;
    SwarmId to = 0;
    std::map<MessageId, std::uint32_t> held;  // by message: members that acknowledged it
    std::uint32_t needed = 1;
    std::size_t outstanding = 0;
  };

  void handle_push(const NodeId& peer, Bytes frame, const Reply& reply);
  void handle_ack(Bytes frame);
  void handle_tombstone(Bytes frame);
  void handle_summary(const NodeId& peer, Bytes frame, const Reply& reply);
  void handle_bucket(const NodeId& peer, Bytes frame, const Reply& reply);
  void handle_fetch(Bytes frame, const Reply& reply);
  void anti_entropy_round();
  void migrate_some();
  void start_migration(const Mailbox& mailbox, SwarmId to);
  void finish_migration(std::uint64_t slot);
  // Whether the mailbox's owner maps to this node's swarm.
  bool mine(const Mailbox& mailbox) const;
  bool is_peer(const NodeId& node) const;
  std::uint64_t now() const { return config_.clock.unix_ms(); }
  std::uint64_t next_request_id() { return ++last_request_id_; }

  MessageStore& store_;
  ReplicationTransport& net_;
  NodeId self_;
  ReplicationConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const Directory> directory_;
  std::optional<SwarmId> swarm_;
  std::vector<NodeId> peers_;
  std::function<void(const Mailbox&)> on_stored_;
  ReplicationStats stats_;

  std::uint64_t last_request_id_ = 0;
  std::uint64_t last_op_ = 0;
  std::unordered_map<std::uint64_t, QuorumOp> ops_;
  std::unordered_map<std::uint64_t, PendingPush> pushes_;  // by request ID
  std::uint64_t next_round_ms_ = 0;
  std::size_t round_turn_ = 0;
  // Bucket listings being received, by peer: entries so far.
  std::map<NodeId, std::vector<EntryState>, NodeIdLess> incoming_buckets_;
  std::set<MessageId, std::less<>> fetching_;
  std::uint64_t fetch_reset_ms_ = 0;
  bool found_differences_ = false;
  // Migration: a scan over the store's recipients after each ring change.
  bool scanning_ = false;
  bool rescan_ = false;            // a migration failed: scan again later
  std::uint64_t next_scan_ms_ = 0;
  std::optional<Mailbox> scan_after_;
  std::map<std::uint64_t, Migration> migrations_;
  std::uint64_t last_migration_ = 0;
  std::set<MailboxKey, std::less<>> migrating_;  // by mailbox_key
  // Expires with this Replicator: the store's durability callbacks check it.
  std::shared_ptr<const char> lifetime_ = std::make_shared<const char>(0);
};

}  // namespace nightjar
