// Client: the Nightjar client library's one public class, what the nightjar
// CLI and the simnet use to message people.
//
//   Client c(loop, options, std::move(identity));
//   c.start([](auto ready) { ... });            // loads the profile, gets a directory
//   c.send(recipient, text, [](auto receipt) { ... });
//   c.subscribe([](const ReceivedMessage& m) { ... });   // long polls its own swarm
//
// Sending seals the text in sealed-sender envelopes (client/envelope.hpp),
// one per fragment, and stores each in the recipient's swarm through an onion
// path of 3 relays (guards first, client/path_selector.hpp). A failed path is
// rebuilt through other nodes and another swarm member; a wrong-swarm answer
// refreshes the directory and follows it; a node's clock is learned from its
// answers, so a skewed local clock never shows up as an error.
//
// Receiving long-polls the client's own swarm through a path, one member at a
// time (the next one after a failure). Each member answers with what arrived
// there since its previous answer to this client (its arrival cursor), in
// the order it arrived and whatever its timestamp, so a replica that reached
// the member late is delivered as soon as it arrives there; a member asked
// for the first time is asked for what is stamped after the client's last
// complete answer, less `catch_up`. The client checks each envelope's
// signature, reassembles fragments, and hands every message to the
// application exactly once, also across restarts and member changes: the
// profile keeps the IDs already handled and every member's cursor.
//
// Everything runs on the loop's thread; callbacks are never called from
// inside the call that registered them.
#pragma once

#include <uv.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/account.hpp"
#include "client/fragments.hpp"
#include "client/contacts.hpp"
#include "client/group.hpp"
#include "client/history.hpp"
#include "client/identity.hpp"
#include "client/onion_client.hpp"
#include "client/path_selector.hpp"
#include "client/prekeys.hpp"
#include "routing/endpoint.hpp"
#include "routing/runtime.hpp"
#include "swarm/message_store.hpp"
#include "swarm/network_config.hpp"

namespace spdlog {
class logger;
}

namespace nightjar::client {

struct ClientOptions {
  NetworkConfig network;
  // Where the client keeps its state (directory, guards, receive cursor and
  // the IDs of messages handled). Empty: state is kept in memory only.
  std::filesystem::path profile_dir;
  std::uint32_t ttl_seconds = 7 * 24 * 3600;  // clamped to the network's range
  std::chrono::milliseconds request_timeout{8000};
  int send_attempts = 5;                  // per fragment, each through a fresh path
  std::uint32_t poll_wait_ms = 25'000;    // long-poll wait per retrieve
  std::uint16_t retrieve_limit = 64;
  // A member asked for the first time (or one whose store was wiped) is
  // asked for the messages stamped after the server time of the client's
  // last complete answer, less this. Only a message that reached the swarm
  // earlier than that and never reached the members asked before would be
  // missed (docs/RELIABILITY.md, "Delivery").
  std::chrono::milliseconds catch_up{3'600'000};
  // A safety net, off by default (0): every `lookback`, page through what the
  // polled member holds stamped after the last complete answer less
  // `lookback_depth`; messages already handled are skipped by ID. Delivery
  // does not depend on it.
  std::chrono::milliseconds lookback{0};
  std::chrono::milliseconds lookback_depth{86'400'000};
  // A sweep page that fails is asked again (of the next member, from its
  // start) after the poll backoff; the sweep is given up after this many
  // failures and the next one starts at the next interval.
  int sweep_attempts = 8;
  bool delete_after_read = false;
  // Keep the account's prekeys (in the profile) and publish its prekey
  // bundle as a public record in its own swarm: on start, whenever the
  // bundle changes, and every day; what lets others start forward-secret
  // conversations with it (docs/ENVELOPE.md, "Version 2").
  bool publish_prekeys = true;
  // Send version 2 envelopes (forward-secret, deniable) to every account
  // that published a prekey bundle, version 1 to the others. Off: version 1
  // only. Version 2 envelopes received are opened either way.
  bool forward_secret = true;
  // Keep every message sent and received in the profile's history
  // (client/history.hpp), within these bounds. Off, or without a profile:
  // no history.
  bool keep_history = true;
  HistoryLimits history_limits;
  // Send each contact a delivery receipt (a forward-secret message) for
  // their 1:1 messages this client hands over. Receipts that arrive move
  // sent messages to `delivered` whatever this says.
  bool delivery_receipts = true;
  // A sent message's delivery state changed (stored, delivered, failed).
  std::function<void(const HistoryEntry&)> on_delivery_state;
  // Things the user should be told that are not messages (a conversation
  // whose state was lost and is started again, a message that could not be
  // opened). Called on the loop's thread.
  std::function<void(const std::string&)> on_notice;
  // A change of a group's membership or name (someone added, removed, ...),
  // as the client learns it. Called on the loop's thread.
  std::function<void(const GroupKey&, const group::GroupEvent&)> on_group_event;
  PathConfig paths;
  Clock clock;  // unix ms; default: system clock
  std::shared_ptr<spdlog::logger> log;
  // For the simnet's adversary models (docs/ANONYMITY.md), unset elsewhere:
  // sees every frame on the client's links, and every request with its
  // path as it leaves.
  std::shared_ptr<LinkObserver> link_observer;
  OnionClientConfig::RequestObserver on_request;
};

struct SendReceipt {
  MessageId message_id;          // the envelope's message ID (all fragments)
  std::size_t fragments = 0;
  std::uint32_t min_replicas = 0;  // the fewest copies any fragment was acknowledged with
  int attempts = 0;                // store requests sent, retries included
  std::uint64_t acked_ms = 0;      // when the last fragment was acknowledged (client clock)
  // What the swarm stores: one message per fragment, by storage ID (the hash
  // of the recipient and the sealed fragment).
  std::vector<::nightjar::MessageId> stored_ids;
  // Sealed as version 2 (forward-secret, deniable); false: version 1, the
  // recipient has no prekey bundle (or ClientOptions::forward_secret is off).
  bool forward_secret = false;
};

enum class SendError {
  not_ready,   // no directory yet
  too_large,   // over the largest message (64 KiB)
  rejected,    // the swarm refused it for good (a limit): see status
  failed,      // every attempt failed (no path, no answer)
  stopped,     // the client stopped first
};
const char* to_string(SendError e);

struct SendFailure {
  SendError error = SendError::failed;
  std::string detail;
};

struct ClientStats {
  std::uint64_t sends = 0, sent = 0, send_failures = 0;
  std::uint64_t store_requests = 0, store_retries = 0;
  std::uint64_t retrieves = 0, received = 0, rejected_envelopes = 0, duplicates = 0;
  std::uint64_t poll_segments = 0;  // answers of streamed long polls that stayed open
  std::uint64_t sweeps = 0, sweep_retries = 0;  // lookback sweeps started; pages asked again
  std::uint64_t directory_fetches = 0;
  std::uint64_t bundles_published = 0;   // prekey bundles the swarm acknowledged
  std::uint64_t sent_forward_secret = 0;  // messages sent as version 2
  std::uint64_t group_sent = 0, group_received = 0;  // group messages
  std::uint64_t group_controls_sent = 0;             // 1:1 messages of group controls acknowledged
  std::uint64_t group_retrieves = 0;
  std::uint64_t blocked_dropped = 0;  // messages from blocked accounts, dropped unseen
  std::uint64_t receipts_sent = 0, receipts_received = 0;
  // Cover traffic: loop cells sent and back, drop cells sent, cells that
  // could not be sent or whose loop failed.
  std::uint64_t cover_loops = 0, cover_loops_returned = 0, cover_drops = 0, cover_failed = 0;
  std::int64_t clock_offset_ms = 0;
};

// A group as this account holds it (client/group.hpp).
struct GroupInfo {
  GroupKey id;
  std::string name;
  std::vector<group::Member> members;
  std::uint64_t epoch = 0;
  bool member = false;  // false: removed, or left
  bool admin = false;
  // Our sender key's generation (0: none yet), and the newest generation of
  // each other member's key we hold: a member missing here, or behind its
  // own generation, cannot be read yet.
  std::uint32_t generation = 0;
  std::map<AccountKey, std::uint32_t> sender_keys;
};

GroupInfo group_info(const group::Group& g);

// How the controls of a group change went out: each member's either reached
// its swarm, or waits in the profile's outbox and is sent again by every
// later run of the client until it does (or a week has passed).
// What Client::delete_all did: every member of the account's swarm was
// asked to delete what it holds for the account (messages stored before the
// request); `reached` of `members` answered, deleting up to `deleted`.
struct DeleteAllReport {
  std::size_t members = 0;
  std::size_t reached = 0;
  std::uint32_t deleted = 0;  // the most any member deleted
  std::vector<std::string> problems;  // one line per member that did not answer ok
};

struct GroupChangeReport {
  std::size_t delivered = 0;
  std::size_t queued = 0;
  std::vector<std::string> problems;  // why some were queued (one line each)
};

class Client {
 public:
  using ReadyHandler = std::function<void(Result<void, std::string>)>;
  using SendHandler = std::function<void(Result<SendReceipt, SendFailure>)>;
  using MessageHandler = std::function<void(const ReceivedMessage&)>;

  Client(uv_loop_t* loop, ClientOptions options, Identity identity);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Loads the profile and fetches the directory (from the saved copy's nodes
  // and the network's authorities). `ready` once a directory is held, or
  // with an error when none could be had within `timeout`.
  void start(ReadyHandler ready, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Ends polls and requests (pending sends fail with `stopped`), saves the
  // profile and closes every link; the loop then runs out of handles.
  void stop();

  void send(const AccountKey& to, Bytes text, SendHandler done);

  // One pass over what is waiting: retrieves every page from the own swarm,
  // hands each complete new message to `on_message`, then calls `done`.
  void receive(MessageHandler on_message, std::function<void(Result<void, std::string>)> done);
  // Long-polls until unsubscribe() or stop(); each new message once.
  void subscribe(MessageHandler on_message);
  void unsubscribe();

  // Erases every message the account's swarm holds for it (storage API
  // delete_all, sent to each member of the swarm through its own path).
  // The prekey bundle stays published. `done` once every member answered
  // or failed; an error only when no member could be asked.
  void delete_all(std::function<void(Result<DeleteAllReport, std::string>)> done);

  // Publishes the prekey bundle now (the client also does so by itself, see
  // ClientOptions::publish_prekeys).
  void publish_prekeys(std::function<void(Result<void, std::string>)> done);
  // The prekey bundle `account` published, with its record's and its signed
  // prekey's signatures checked; nullopt when the account has none (then
  // only a version-1 envelope can reach it).
  using BundleHandler = std::function<void(Result<std::optional<PrekeyBundle>, std::string>)>;
  void lookup_prekeys(const AccountKey& account, BundleHandler done);
  const Prekeys& prekeys() const;

  // --- Closed groups (docs/GROUPS.md). Messages to a group arrive through
  // the same handlers as others, with ReceivedMessage::group set; the client
  // polls its groups' mailboxes whenever it polls its own.
  using GroupHandler = std::function<void(Result<GroupKey, std::string>)>;
  using GroupChangeHandler = std::function<void(Result<GroupChangeReport, std::string>)>;
  void create_group(std::string name, GroupHandler done);
  // A change by an admin (add, remove, rename, promote); `done` once every
  // member's controls reached its swarm or were queued.
  void change_group(const GroupKey& group, std::vector<group::Change> changes,
                    GroupChangeHandler done);
  void leave_group(const GroupKey& group, GroupChangeHandler done);
  void send_group(const GroupKey& group, Bytes text, SendHandler done);
  std::vector<GroupInfo> groups() const;
  std::optional<GroupInfo> group(const GroupKey& id) const;  // nullopt: not held
  // What a short-lived run (the CLI) waits for before it stops: the prekey
  // bundle published once by this process (so that others can start
  // conversations with this account after its first run), the group
  // outbox flushed, and the delivery receipts under way sent. `done`
  // whatever their outcome.
  void settle(std::function<void()> done);
  // Sends what waits in the group outbox now and waits for what is under
  // way; `done` when every entry was tried once.
  void flush_group_outbox(GroupChangeHandler done);

  // --- Contacts (client/contacts.hpp): the profile's contact book. Messages
  // from blocked accounts are dropped unseen; 1:1 messages from accounts
  // that are not contacts arrive with ReceivedMessage::request set.
  const ContactBook& contacts() const;
  // Applies `change` to the book and saves it (nothing is saved when
  // `change` fails, or when the profile's book did not open).
  Result<void, std::string> change_contacts(
      const std::function<Result<void, std::string>(ContactBook&)>& change);

  // --- History (client/history.hpp): every message sent and received, and
  // the sent ones' delivery states. Empty without a profile.
  const History& history() const;
  Result<void, std::string> mark_read(const ConversationKey& conversation);
  Result<void, std::string> erase_history();

  const Identity& identity() const;
  std::shared_ptr<const Directory> directory() const;
  const ClientStats& stats() const;
  const PathSelector& paths() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nightjar::client
