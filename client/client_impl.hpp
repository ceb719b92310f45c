// The inside of Client (client/client.hpp): shared by client.cpp (start,
// directory, send) and client_receive.cpp (receive, subscribe). Private to
// the client library.
#pragma once

#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <memory>
#include <set>

#include "client/client.hpp"
#include "client/directory_fetcher.hpp"
#include "client/onion_client.hpp"
#include "client/contacts.hpp"
#include "client/conversation_store.hpp"
#include "client/group_store.hpp"
#include "client/prekeys.hpp"
#include "client/receive_state.hpp"
#include "swarm/public_record.hpp"
#include "swarm/storage_messages.hpp"

namespace nightjar::client {

// Answers that mean "try another member"; everything else but ok is final.
inline bool retryable(storage::Status s) {
  using storage::Status;
  return s == Status::quorum_failed || s == Status::overloaded || s == Status::internal ||
         s == Status::not_ready || s == Status::wrong_swarm;
}

struct Client::Impl {
  Impl(uv_loop_t* loop, ClientOptions options, Identity identity);

  uv_loop_t* loop;
  ClientOptions options;
  Identity identity;
  std::shared_ptr<spdlog::logger> log;
  SystemRandom rng;
  std::unique_ptr<OnionClient> onion;
  std::unique_ptr<DirectoryFetcher> fetcher;
  PathSelector paths;
  std::shared_ptr<const Directory> directory;
  ClientStats stats;
  bool stopped = false;
  std::uint64_t next_refresh_ms = 0;

  // --- Clock: local time plus what nodes' answers taught us.
  std::uint64_t now_ms() const;
  void learn_server_time(std::uint64_t server_ms);

  // --- Directory.
  void adopt(std::shared_ptr<const Directory> d);
  void refresh_directory(std::function<void(bool ok)> then = {});
  std::filesystem::path profile_file(const char* name) const;
  void save_profile();

  // --- Sending (client.cpp).
  struct FragmentSend {
    std::vector<std::uint8_t> body;
    bool acked = false;
    int attempts = 0;
    std::uint32_t replicas = 0;
    std::optional<NodeId> avoid;          // a member that just failed
    std::vector<NodeId> redirect;         // members named by a wrong-swarm answer
  };
  struct SendJob {
    AccountKey to;
    Namespace ns = Namespace::messages;  // groups: `to` is a group epoch's mailbox key
    MessageId message_id;
    bool forward_secret = false;
    std::vector<FragmentSend> fragments;
    std::size_t outstanding = 0;
    bool finished = false;
    SendHandler done;
  };
  std::map<std::uint64_t, SendJob> sends;
  // Recipients' keys in their X25519 form, converted once (client/envelope.hpp,
  // SealKey): the conversion costs more than the envelope's key exchange.
  static constexpr std::size_t max_seal_keys = 4096;
  std::map<AccountKey, SealKey> seal_keys;
  const SealKey* seal_key(const AccountKey& to);
  std::uint64_t last_send = 0;
  void send_fragment(std::uint64_t job, std::size_t index);
  void fragment_answered(std::uint64_t job, std::size_t index, const Path& path,
                         Result<std::vector<std::uint8_t>, RequestFailure> r);
  void finish_send(std::uint64_t job, Result<SendReceipt, SendFailure> r);
  void fail_send_soon(SendHandler done, SendFailure f);
  static SendFailure seal_failure(SealError e);
  // Stores each envelope in `to`'s swarm (send_fragment) and reports once.
  void start_send_job(const AccountKey& to, MessageId message_id,
                      std::vector<std::vector<std::uint8_t>> envelopes, bool forward_secret,
                      SendHandler done, Namespace ns = Namespace::messages);
  void send_v1(const AccountKey& to, Bytes text, SendHandler done);

  // --- Version 2 conversations (client_conversations.cpp).
  std::unique_ptr<ConversationStore> conversation_store;  // null: kept in memory only
  std::map<AccountKey, Conversation> conversations;        // loaded ones
  std::map<AccountKey, std::uint64_t> restarted_ms;        // when a lost conversation was last started again
  std::map<AccountKey, std::uint64_t> no_bundle_until_ms;  // peers found without a bundle, asked again after
  // Sends waiting for the recipient's bundle (stop() fails them).
  std::map<std::uint64_t, SendHandler> waiting_sends;
  // The conversation with `peer` (loaded from the profile, or a new empty
  // one); an error if its file does not open.
  Result<Conversation*, std::string> conversation(const AccountKey& peer);
  // Saves `updated` and, only if that worked, makes it the conversation.
  Result<void, std::string> commit(Conversation updated);
  // Seals with the conversation (starting one from the peer's bundle if
  // needed); without a bundle, falls back to version 1.
  // `flags` other than 0 (group controls): version 2 only, never version 1.
  void send_v2(const AccountKey& to, std::vector<std::uint8_t> text, SendHandler done,
               std::uint8_t flags = 0);
  void seal_and_send_v2(const AccountKey& to, const std::vector<std::uint8_t>& text,
                        SendHandler done, std::uint8_t flags = 0);
  // A version 2 envelope: the message (a fragment), nothing to show (a
  // control message), or why not.
  Result<std::optional<OpenedEnvelope>, std::string> open_v2(Bytes body);
  // Our state with `peer` was lost: start a new session with a control message.
  void restart_conversation(const AccountKey& peer);
  void notice(const std::string& text);

  // --- Public records and prekeys (client_records.cpp).
  Prekeys prekeys{identity};
  std::uint64_t next_prekey_check_ms = 0;  // 0: at the first tick with a directory
  std::uint64_t last_published_ms = 0;     // when the bundle was last published (client clock)
  std::uint64_t last_record_version = 0;
  bool publishing = false;
  std::vector<std::function<void()>> publish_waiters;  // Client::settle
  void load_prekeys();
  // Applies the prekey schedule and publishes the bundle when it changed,
  // was never published by this process, or was published a day ago.
  void maintain_prekeys();
  void publish_bundle(std::function<void(Result<void, std::string>)> done);
  // The bundle `account` published, checked (Client::lookup_prekeys).
  void lookup_bundle(const AccountKey& account, BundleHandler done);
  // One request to a member of `owner`'s swarm, sent again through other
  // paths and members (wrong swarm: after a directory refresh) up to
  // `attempts` times; `done` gets the first final answer.
  using SwarmAnswer = std::function<void(Result<storage::Response, std::string>)>;
  void swarm_call(const AccountKey& owner, storage::Request request, storage::Method method,
                  SwarmAnswer done, int attempts, std::optional<NodeId> avoid = std::nullopt);

  // --- Groups (client_groups.cpp).
  std::unique_ptr<GroupStore> group_store;  // null: kept in memory only
  // Contacts, message requests and blocked accounts (client/contacts.hpp);
  // `contacts_error`: the profile's file did not open, so it is neither
  // used nor overwritten.
  ContactBook contacts;
  std::string contacts_error;
  bool contacts_dirty = false;
  // Applies the contact book's verdict to a message about to be handed
  // over: false when its sender is blocked (dropped unseen); otherwise
  // marks a 1:1 message from a stranger as a request.
  bool admit(ReceivedMessage& m);
  // History and delivery receipts (client_history.cpp).
  History history;
  std::map<AccountKey, std::vector<MessageId>> receipts_due;  // sent after a batch
  std::size_t receipts_in_flight = 0;
  // Receipts for messages whose acknowledgement has not come back yet (a
  // receipt can overtake it): applied when it does. Bounded.
  std::map<std::pair<ConversationKey, MessageId>, std::uint64_t> early_receipts;
  std::vector<std::function<void()>> receipt_waiters;  // settle(): called when none is in flight
  void load_history();
  std::optional<std::uint64_t> record_sent(const ConversationKey& c, Bytes text);
  void record_outcome(std::optional<std::uint64_t> seq, const Result<SendReceipt, SendFailure>& r);
  void record_received(const ReceivedMessage& m);
  void handle_receipt(const ReceivedMessage& m);
  // After a batch of messages: the history made durable, receipts sent.
  void after_batch();
  void save_contacts();
  void load_contacts();
  std::map<GroupKey, group::Group> groups;
  // Controls not yet acknowledged by their member's swarm (saved in the
  // profile before they are sent).
  std::vector<OutboxEntry> outbox;
  // Controls for groups whose welcome has not come yet (`to`: the sender).
  std::vector<OutboxEntry> early;
  void save_early();
  std::uint64_t next_outbox_id = 0;
  struct ChangeBatch {
    std::size_t outstanding = 0;
    GroupChangeReport report;
    GroupChangeHandler done;
  };
  std::map<std::uint64_t, ChangeBatch> change_batches;
  std::uint64_t next_batch = 0;
  // One mailbox of a group epoch, polled like the own one (arrival cursors
  // per member; duplicates are dropped by the sender chains).
  struct GroupPoll {
    GroupKey group;
    Ed25519SecretKey secret;  // the epoch's mailbox key
    std::map<NodeId, ArrivalCursor> cursors;
    std::size_t turn = 0;
    bool in_flight = false;
    bool drained = false;  // paged to its end at least once since the last pass asked
    std::uint64_t next_ms = 0, backoff_ms = 0;
  };
  std::map<Ed25519PublicKey, GroupPoll> group_polls;
  Reassembler group_reassembler;
  void load_groups();
  void save_group(const group::Group& g);
  void save_outbox();
  // Saves the group, queues and sends its controls, reports its events and
  // hands over what opened. `batch`: a change_group call waiting for them.
  void run_actions(const GroupKey& key, group::Actions& actions,
                   std::optional<std::uint64_t> batch = std::nullopt);
  // A change's actions; `done` once every control it sends reached its
  // member's swarm or was queued (at once when there are none).
  void run_change(const GroupKey& key, group::Actions& actions, GroupChangeHandler done);
  void send_outbox_entry(std::uint64_t id);
  void outbox_answered(std::uint64_t id, Result<SendReceipt, SendFailure> r);
  // Starts the due controls, at most max_outbox_in_flight under way at once.
  void pump_outbox();
  void handle_group_controls(const AccountKey& from, Bytes body);
  void deliver_group_message(const GroupKey& key, group::GroupMessage m);
  // Keeps group_polls in step with the groups' mailboxes and starts the
  // polls that are due; `wait_ms` for the long polls.
  void poll_groups(bool long_poll);
  void poll_group(const Ed25519PublicKey& owner, bool long_poll);
  void group_poll_answered(const Ed25519PublicKey& owner, const Path& path, bool long_poll,
                           Result<std::vector<std::uint8_t>, RequestFailure> r);
  bool groups_drained() const;
  std::optional<Path> path_to_mailbox(const Ed25519PublicKey& owner, std::size_t turn);

  // --- Receiving (client_receive.cpp).
  ReceiveState state;
  bool state_dirty = false;
  Reassembler reassembler;
  // Storage IDs of the fragments of incomplete messages, by envelope ID.
  struct HeldFragment {
    ::nightjar::MessageId storage_id;
    std::uint64_t expiry_ms = 0;
    std::optional<Hash256> journal_key;  // version 2: forgotten once the message is handed over
  };
  std::map<std::pair<AccountKey, MessageId>, std::vector<HeldFragment>> pending_fragments;
  // Conversations whose journal lost entries in this batch: saved at its end.
  std::set<AccountKey> journal_changed;
  void save_journals();
  // Retrieve positions live in `state` (each member's arrival cursor, and
  // `low`). `paging`: the last answer said there is more: ask again at once.
  bool paging = false;
  // A lookback sweep in progress: it pages through `member` from `floor`; a
  // page that fails is asked again (of the next member, from the floor)
  // rather than ending the sweep, up to options.sweep_attempts failures.
  struct Sweep {
    Cursor floor;
    std::optional<NodeId> member;
    ArrivalCursor cursor;
    int failures = 0;
  };
  std::optional<Sweep> sweep;
  bool subscribed = false;
  bool polling = false;
  MessageHandler on_message;
  std::size_t member_turn = 0;
  std::uint64_t next_poll_ms = 0;
  std::uint64_t poll_backoff_ms = 0;
  int poll_failures = 0;  // in a row
  // A segment of the open long poll was not taken (unsubscribed, or it did
  // not read): the member's cursor moved past it, so the poll's later
  // answers must not move ours. Reset by each poll.
  bool poll_gap = false;
  // Which poll is current: answers of an earlier one (abandoned when the
  // application subscribed again after a gap) are ignored.
  std::uint64_t poll_seq = 0;
  std::uint64_t next_lookback_ms = 0;
  struct Pass {  // a receive() call: page until nothing is left
    MessageHandler on_message;
    std::function<void(Result<void, std::string>)> done;
    int failures = 0;
    bool own_done = false;  // the own mailbox is drained: the groups' next
  };
  std::deque<Pass> passes;
  void poll(std::uint32_t wait_ms, bool sweeping);
  void start_sweep();
  // What a member asked for the first time is asked for: the messages
  // stamped after this.
  Cursor catch_up_floor() const;
  void poll_answered(const Path& path, bool sweeping,
                     Result<std::vector<std::uint8_t>, RequestFailure> r);
  // An answer of the streamed long poll that keeps it open.
  void poll_segment(const Path& path, std::vector<std::uint8_t> bytes);
  // A complete answer of a member (not a sweep's): its cursor, the low mark.
  void member_answered(const NodeId& member, const storage::RetrieveResult& got);
  void handle_messages(const std::vector<StoredMessage>& messages);
  void deliver(ReceivedMessage m);
  void delete_handled(const std::vector<::nightjar::MessageId>& ids);
  // `attributed`: the failure names the node that failed (the path selector
  // avoids it from now on), so another path is tried soon.
  void poll_failed(const std::string& why, bool sweeping, bool attributed = false);
  std::optional<Path> path_to_own_swarm();
  void tick();

  void send_request(const Path& path, const storage::Request& request,
                    std::function<void(Result<std::vector<std::uint8_t>, RequestFailure>)> done,
                    std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                    OnionClient::SegmentHandler on_segment = {});

  // Cover traffic (client_cover.cpp, docs/ANONYMITY.md): while subscribed
  // and the directory's defences ask for it, loop and drop cells as one
  // Poisson stream; update_cover() (from tick) starts and stops it.
  Timer cover_timer;
  std::uint64_t next_cover_us = 0;  // uv_hrtime: the next cell's time
  void update_cover();
  void send_cover();
  void schedule_cover();

  // tick() (directory refresh, polls), deferred answers, and every callback
  // handed to the onion client or the fetcher. Last: cancelled first.
  Scheduler jobs;
};

}  // namespace nightjar::client
