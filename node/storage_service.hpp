// StorageService: the storage API as a swarm node serves it. Requests arrive
// through onion cells (the relay hands over the request and a Responder);
// this class checks them (the recipient's swarm, limits, signatures and their
// time window), runs them against the MessageStore, has the Replicator copy
// stores and deletes to the swarm, and answers: a store or delete only once
// it is durable here (the store's writer, group commit) and, for a store,
// a quorum of the swarm holds it. A retrieve with a wait is
// parked until a message for that recipient arrives (from a client or from
// replication) or the wait ends: the long poll that makes delivery to an
// online recipient fast.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "node/directory_state.hpp"
#include "routing/onion_relay.hpp"
#include "routing/runtime.hpp"
#include "swarm/message_store.hpp"
#include "swarm/replication.hpp"
#include "swarm/storage_messages.hpp"

namespace nightjar {

struct StorageStats {
  std::uint64_t requests = 0;
  std::uint64_t stores = 0;          // accepted store requests (new or duplicate)
  std::uint64_t retrieves = 0;
  std::uint64_t deletes = 0;
  std::uint64_t rejected[storage::status_count] = {};  // by storage::Status
  std::uint64_t publishes = 0;       // public records accepted (new or duplicate)
  std::uint64_t lookups = 0;         // public records asked for
  std::uint64_t long_polls = 0;      // retrieves parked
  std::uint64_t waiting = 0;         // parked now
  std::uint64_t poll_segments = 0;   // answers sent on streamed long polls that stayed open
  std::uint64_t padding_segments = 0;  // of those, empty ones sent only to keep the pace (padding)
  std::uint64_t cover_loops = 0, cover_drops = 0;  // cover cells that reached this node
};

class StorageService {
 public:
  StorageService(MessageStore& store, Replicator& replicator, const DirectoryState& directory,
                 NodeId self, Clock clock,
                 std::shared_ptr<spdlog::logger> log, std::size_t max_waiting = 20'000);
  ~StorageService();

  void handle(Bytes request, Responder responder);
  // A message for `mailbox` is now durable here: wakes its long polls.
  void wake(const Mailbox& mailbox);
  // The directory changed: long polls of recipients that are no longer this
  // node's swarm's are answered wrong_swarm at once (their messages now go
  // to other nodes, so waiting here would only make the client wait out its
  // poll).
  void directory_changed();
  // Ends long polls whose wait is over. Call every ~100 ms.
  void tick();
  // Poll padding (NetworkParams::defences, docs/ANONYMITY.md): with a
  // period, streamed long polls are answered only by pad(), which the node
  // calls every period: each gets one answer then, with what arrived since
  // the last or empty, so its client's link carries the same pace whether
  // messages come or not. 0: answered as messages arrive.
  void set_poll_padding(std::uint32_t period_ms) { padding_ms_ = period_ms; }
  std::uint32_t poll_padding() const { return padding_ms_; }
  void pad();

  const StorageStats& stats() const { return stats_; }

 private:
  struct Waiter {
    storage::RetrieveRequest request;
    std::uint64_t deadline_ms = 0;
    std::shared_ptr<Responder> responder;
  };
  void respond(Responder& r, const storage::Response& resp);
  // Sends what arrived to a streamed long poll; false: answer it and end it.
  // `padding`: an empty answer too (pad()).
  bool answer_segment(Waiter& w, bool padding = false);
  // Answers (a retrieval now) and removes the waiters in [first, last) that
  // `keep` does not keep.
  template <class Keep>
  void answer_unless(std::multimap<MailboxKey, Waiter>::iterator first,
                     std::multimap<MailboxKey, Waiter>::iterator last, Keep keep);
  // Sends `resp` once every write staged so far is durable (internal if it failed).
  void answer_when_durable(Responder responder, storage::Response resp);
  void reject(Responder& r, storage::Status s);
  void handle_store(storage::StoreRequest& req, Responder responder);
  void handle_retrieve(storage::RetrieveRequest& req, Responder responder);
  void handle_delete(const storage::DeleteRequest& req, Responder responder);
  void handle_delete_all(const storage::DeleteAllRequest& req, Responder responder);
  void handle_lookup(const storage::LookupRequest& req, Responder responder);
  // Publishing a public record (a store in the records namespace): checks
  // the record against the request and the mailbox (status ok, or why not),
  // caps the stored message's expiry at the record's, and lists the older
  // versions it replaces.
  storage::Status check_record(StoredMessage& m, std::uint64_t now_ms,
                               std::vector<StoredMessage>& replaced) const;
  // Checks the recipient's swarm; answers wrong_swarm/not_ready itself.
  bool in_my_swarm(const Ed25519PublicKey& recipient, Responder& r);
  bool mine(const Ed25519PublicKey& recipient) const;
  // Checks the signed timestamp; answers clock_skew/bad_signature itself.
  template <class R>
  bool authenticated(const R& req, Responder& r);
  storage::Response retrieve_now(const storage::RetrieveRequest& req);

  MessageStore& store_;
  Replicator& replicator_;
  const DirectoryState& directory_;
  NodeId self_;
  Clock clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::size_t max_waiting_;
  StorageStats stats_;
  std::multimap<MailboxKey, Waiter> waiters_;  // by mailbox_key
  std::uint32_t padding_ms_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nightjar
