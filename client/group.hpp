// A closed group as one member holds it (docs/GROUPS.md): its membership,
// epoch by epoch, and the sender keys its messages are sealed with. No I/O:
// the client (client/client_groups.cpp) sends what this returns over 1:1
// conversations, stores and polls the group's mailboxes, and saves the state.
//
// Epochs. The genesis makes epoch 0 (the creator, admin). Each commit, signed
// by an admin of its parent epoch, makes the next epoch: a new membership and
// a new random epoch secret, which its committer sends to every member of the
// new epoch (and the commit alone to those it removes). The secret gives the
// epoch's mailbox key (the owner key nodes check a poll's signature against:
// only the epoch's members can read its mailbox) and its envelope key.
//
// Concurrent commits. Two admins may commit on the same epoch at once; every
// member keeps the one with the smaller commit hash, whatever the order they
// arrive in (it switches if the smaller one comes second), and the admin
// whose commit lost commits again, on the winner, whatever of its changes is
// not already there. So every member ends with the same membership. A commit
// whose parent is not held yet waits for it.
//
// Sender keys. Each member seals its messages with its own chain (a
// symmetric ratchet, client/group_messages.hpp chain_step) and signs them
// with the chain's own signing key; it sends the chain, from its current
// index, to every other member over 1:1 conversations. Whenever the
// membership changes, a member sends its chain to those who joined, and
// starts a new chain (the next generation) if anyone it had sent the old one
// to has gone: a removed member cannot open what is sent after its removal,
// a new one nothing sent before it joined.
//
// Mailboxes. Every epoch has its own mailbox. A member polls the current
// epoch's and, for `grace_ms` after it learnt of a later epoch, the earlier
// ones: messages sent by members that had not learnt of the change yet.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/group_messages.hpp"
#include "client/identity.hpp"

namespace nightjar::client::group {

enum class GroupError {
  not_member,        // we are not (or no longer) a member
  not_admin,         // the change needs an admin
  already_member,    // add: the account is a member
  unknown_member,    // remove or promote: not a member
  already_admin,     // promote: already an admin
  cannot_remove_self,  // an admin leaves with leave(), not remove
  last_admin,        // leave: the only admin must promote someone first
  too_many_members,  // over max_members
  too_many_changes,  // over max_changes in one commit
  bad_name,          // empty, over max_name_bytes, or control characters
  no_change,         // nothing to commit
  bad_commit,        // wrong group or parent, bad signature, not by an admin, invalid change
  bad_welcome,       // the genesis does not verify, or we are not in it
  wrong_group,
};
const char* to_string(GroupError e);

struct EpochState {
  std::uint64_t epoch = 0;
  Hash256 hash;
  Hash256 commit_hash;  // zero for epoch 0
  std::string name;
  std::vector<Member> members;        // sorted by account
  std::optional<SymmetricKey> secret;  // absent in an epoch we are not a member of

  const Member* find(const AccountKey& a) const;
  bool is_admin(const AccountKey& a) const;
  std::size_t admins() const;
  EpochState clone() const;
};

// The state a commit makes from its parent (without a secret); checks the
// group, the parent, the signature, the committer's role and every change.
Result<EpochState, GroupError> apply_commit(const EpochState& parent, const GroupKey& group,
                                            const Commit& c);

// What happened, for the person using the client.
struct GroupEvent {
  enum class Kind { joined, added, removed, left, renamed, promoted, you_were_removed };
  Kind kind = Kind::added;
  AccountKey actor;    // who made the change
  AccountKey subject;  // whom it concerns (added, removed, promoted, left)
  std::string name;    // renamed, joined: the group's name
};

// A group message opened.
struct GroupMessage {
  AccountKey sender;
  v2::Content content;
};

// What the client does after a call: controls to send 1:1 (grouped per
// member, in order), what to tell the user, and messages that opened now
// that their sender key arrived.
struct Actions {
  std::vector<std::pair<AccountKey, std::vector<Control>>> send;
  std::vector<GroupEvent> events;
  std::vector<GroupMessage> opened;
  void to(const AccountKey& member, Control c);

 private:
  std::map<AccountKey, std::size_t> last_;  // each member's last entry in `send`
};

// One mailbox the member polls.
struct MailboxToPoll {
  std::uint64_t epoch = 0;
  Ed25519PublicKey owner;
  const Ed25519SecretKey* secret = nullptr;  // valid until the group changes
  bool current = false;
};

enum class OpenStatus {
  opened,
  duplicate,      // its message key was used already
  waiting,        // the sender's key has not arrived: kept, opened by receive()
  unknown_mailbox,
  failed,         // does not open, bad signature, not from a member of its epoch
};
struct OpenResult {
  OpenStatus status = OpenStatus::failed;
  std::optional<GroupMessage> message;
  std::string why;  // failed
};

class Group {
 public:
  static constexpr std::size_t history_epochs = 8;
  static constexpr std::uint64_t grace_ms = 10 * 60 * 1000;
  static constexpr std::size_t max_pending_commits = 64;
  static constexpr std::size_t max_pending_keys = 1024;
  static constexpr std::size_t max_waiting_envelopes = 2000;
  static constexpr std::size_t max_generations = 3;  // kept per sender
  static constexpr std::uint32_t max_skip = 1000;
  static constexpr std::size_t max_skipped_keys = 5000;

  // A new group with `me` as its only member and admin.
  static Result<Group, GroupError> create(const Identity& me, std::string name,
                                          std::uint64_t now_ms, RandomSource& rng,
                                          Actions& actions);

  // The group's key, its genesis and the head epoch.
  const GroupKey& key() const { return genesis_.group; }
  const Genesis& genesis() const { return genesis_; }
  const EpochState& head() const { return history_.back().state; }
  const std::string& name() const { return head().name; }
  bool member() const;  // the head lists us
  bool admin() const;
  bool left() const { return left_; }

  // A commit of `changes` on the head (we must be an admin): applied here at
  // once, its controls in `actions`.
  Result<void, GroupError> change(std::vector<Change> changes, std::uint64_t now_ms,
                                  RandomSource& rng, Actions& actions);
  // Asks the admins to remove us and stops using the group (its messages
  // are no longer sealed or opened).
  Result<void, GroupError> leave(Actions& actions);

  // A control `from` sent us over our 1:1 conversation (a welcome for a
  // group we have goes here too).
  void receive(const AccountKey& from, Control control, std::uint64_t now_ms, RandomSource& rng,
               Actions& actions);
  // A welcome for a group we do not have.
  static Result<Group, GroupError> join(const Identity& me, const AccountKey& from, Welcome w,
                                        std::uint64_t now_ms, RandomSource& rng, Actions& actions);

  // One group envelope for the head epoch's mailbox (`content` is a whole
  // message or one fragment of it); the size is a version 2 bucket.
  Result<std::vector<std::uint8_t>, SealError> seal(const v2::Content& content,
                                                    std::uint32_t max_body_bytes,
                                                    RandomSource& rng);
  // An envelope read from the mailbox owned by `mailbox`.
  OpenResult open(const Ed25519PublicKey& mailbox, Bytes envelope, std::uint64_t now_ms);

  // The mailboxes to poll now: the head's (if we are a member) and earlier
  // ones within their grace.
  std::vector<MailboxToPoll> mailboxes(std::uint64_t now_ms) const;
  // The head's mailbox key (what a message is stored under).
  std::optional<Ed25519PublicKey> head_mailbox() const;

  // Statistics for the benchmarks and tests.
  std::size_t sender_keys_held() const;
  std::uint32_t generation() const { return own_ ? own_->generation : 0; }
  // The newest generation of each member's sender key we hold (members
  // whose key has not arrived are absent).
  std::map<AccountKey, std::uint32_t> sender_generations() const;

  // The state as the profile keeps it, and back.
  std::vector<std::uint8_t> encode() const;
  static Result<Group, std::string> decode(const Identity& me, Bytes bytes);

  Group(Group&&) noexcept;
  Group& operator=(Group&&) noexcept;
  ~Group();

 private:
  Group(const Identity& me);

  // An epoch of our chain (the head last), or one of a chain we left when a
  // competing commit won (`retired_`): polled while it is the head, then for
  // grace_ms after `ended_ms`.
  struct Epoch {
    EpochState state;
    std::optional<EpochKeys> keys;  // we are a member of it
    std::optional<Commit> commit;   // the commit that made it (none for a welcome's or genesis's)
    std::uint64_t ended_ms = 0;     // 0: the head
  };
  struct OwnChain {
    std::uint32_t generation = 0;
    std::uint32_t index = 0;
    SymmetricKey chain;
    Ed25519KeyPair signing;
    std::set<AccountKey> sent_to;
  };
  struct PeerChain {
    std::uint32_t generation = 0;
    std::uint32_t index = 0;  // the next message key `chain` gives
    SymmetricKey chain;
    Ed25519PublicKey signing;
    std::map<std::uint32_t, SymmetricKey> skipped;
  };
  struct Waiting {
    Ed25519PublicKey mailbox;
    std::vector<std::uint8_t> envelope;
    std::uint64_t arrived_ms = 0;
  };

  void push_head(EpochState next, std::optional<Commit> commit, std::uint64_t now_ms);
  void receive_commit(const AccountKey& from, CommitControl cc, std::uint64_t now_ms,
                      RandomSource& rng, Actions& actions);
  bool try_commit(const CommitControl& cc, std::uint64_t now_ms, RandomSource& rng,
                  Actions& actions);
  void receive_welcome(const AccountKey& from, Welcome w, std::uint64_t now_ms, RandomSource& rng,
                       Actions& actions);
  void receive_sender_key(const AccountKey& from, SenderKeyControl sk, std::uint64_t now_ms,
                          Actions& actions);
  void retry_pending(std::uint64_t now_ms, RandomSource& rng, Actions& actions);
  void retry_waiting(std::uint64_t now_ms, Actions& actions);
  void retry_keys(std::uint64_t now_ms, Actions& actions);
  // Sends our chain to members that lack it; a new chain if one it was sent
  // to has gone.
  void share_sender_key(RandomSource& rng, Actions& actions);
  void events_of(const Commit& c, const EpochState& before, Actions& actions) const;
  const Epoch* epoch_of_mailbox(const Ed25519PublicKey& mailbox) const;
  bool known_member(const AccountKey& a) const;
  void retire(Epoch e, std::uint64_t now_ms);
  Welcome welcome_for(const EpochState& s) const;
  // Adopts a welcome's epoch as the whole history.
  void adopt_welcome(Welcome w, std::uint64_t now_ms);

  const Identity* me_;
  Genesis genesis_;
  std::vector<Epoch> history_;  // our chain, at most history_epochs, the head last
  std::vector<Epoch> retired_;  // earlier epochs still polled, and lost branches'
  std::vector<CommitControl> pending_;  // commits whose parent we do not hold yet
  // Sender keys from accounts not (yet) known as members: the commit that
  // adds them may come later.
  std::vector<std::pair<AccountKey, SenderKeyControl>> pending_keys_;
  std::optional<OwnChain> own_;
  std::map<AccountKey, std::vector<PeerChain>> peers_;
  std::size_t skipped_total_ = 0;
  std::vector<Waiting> waiting_;
  bool left_ = false;
};

}  // namespace nightjar::client::group
