// Closed groups' byte formats (docs/GROUPS.md): the group's genesis, the
// commits that change its membership, the control messages members send one
// another over their 1:1 conversations, and the group envelope stored in the
// group's mailbox. Codecs, signatures and key derivations only;
// client/group.hpp runs a group's state.
//
//   genesis  = 01 || group key (32) || creator (32) || created_ms (8)
//              || var8 name || signature (64, by the group key)
//   commit   = 01 || group (32) || parent epoch (8) || parent epoch hash (32)
//              || committer (32) || timestamp_ms (8) || count (1) || changes
//              || signature (64, by the committer's account key)
//   change   = 01 add: account (32) || role (1)   02 remove: account (32)
//              03 rename: var8 name                04 promote: account (32)
//   controls = count (1) || var16(type (1) || control)*, the body of a 1:1
//              message with the content flag `group` (client/envelope_v2.hpp)
//   envelope = 03 || nonce (24) || XChaCha20-Poly1305(envelope key,
//              ad = 03 || mailbox key, inner)
//   inner    = sender (32) || generation (4) || index (4)
//              || XChaCha20-Poly1305(message key, zero nonce, ad, content)
//              || signature (64, by the sender key's signing key)
//
// Every decoder takes bytes from the network and refuses anything its
// encoder would not write.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "client/account.hpp"
#include "client/envelope_v2.hpp"
#include "routing/crypto.hpp"
#include "routing/result.hpp"
#include "routing/wire.hpp"

namespace nightjar::client::group {

inline constexpr std::uint8_t format_version = 1;
inline constexpr std::uint8_t envelope_version = 3;
inline constexpr std::size_t max_members = 1000;
inline constexpr std::size_t max_name_bytes = 64;
inline constexpr std::size_t max_changes = 64;  // per commit
inline constexpr std::size_t max_controls = 16;  // per 1:1 message

// Names are shown to people: 1 to max_name_bytes bytes of UTF-8 text, no
// control characters (a name cannot move the cursor or ring the bell).
bool valid_name(const std::string& name);

enum class Role : std::uint8_t { member = 1, admin = 2 };
const char* to_string(Role r);

struct Member {
  AccountKey account;
  Role role = Role::member;
  friend bool operator==(const Member&, const Member&) = default;
};

// --- Genesis: the group key names the group's creator and first name.
struct Genesis {
  GroupKey group;
  AccountKey creator;
  std::uint64_t created_ms = 0;
  std::string name;
  Ed25519Signature signature;
};
std::vector<std::uint8_t> encode(const Genesis& g);
Result<Genesis, WireError> decode_genesis(Bytes bytes);
void sign(Genesis& g, const Ed25519SecretKey& group_secret);
bool verify(const Genesis& g);

// --- Commits: one admin's change of the membership, on top of an epoch.
enum class ChangeType : std::uint8_t { add = 1, remove = 2, rename = 3, promote = 4 };
struct Change {
  ChangeType type = ChangeType::add;
  AccountKey account;        // add, remove, promote
  Role role = Role::member;  // add
  std::string name;          // rename
  friend bool operator==(const Change&, const Change&) = default;
};
struct Commit {
  GroupKey group;
  std::uint64_t parent_epoch = 0;
  Hash256 parent_hash;
  AccountKey committer;
  std::uint64_t timestamp_ms = 0;
  std::vector<Change> changes;
  Ed25519Signature signature;
};
std::vector<std::uint8_t> encode(const Commit& c);
Result<Commit, WireError> decode_commit(Bytes bytes);
void sign(Commit& c, const Ed25519SecretKey& committer_secret);
bool verify(const Commit& c);
// BLAKE2b-256 of the commit's encoding: names it, and orders commits made on
// the same epoch (the smaller hash wins).
Hash256 commit_hash(const Commit& c);

// Epoch hashes chain the group's history: the genesis's, then one per commit.
Hash256 genesis_epoch_hash(const Genesis& g);
Hash256 next_epoch_hash(const Hash256& parent, const Hash256& commit);

// --- Control messages, sent 1:1 between members.
// A new member's way in: the whole state of the epoch that added it.
struct Welcome {
  Genesis genesis;
  std::uint64_t epoch = 0;
  Hash256 epoch_hash;
  Hash256 commit_hash;  // of the commit that made this epoch (zero for epoch 0)
  SymmetricKey epoch_secret;
  std::string name;
  std::vector<Member> members;  // sorted by account, no duplicates
};
// A commit for a member of the epoch it makes (with that epoch's secret), or
// for one it removes (without).
struct CommitControl {
  Commit commit;
  std::optional<SymmetricKey> epoch_secret;
};
// The sender's chain for its group messages, from `index` on.
struct SenderKeyControl {
  GroupKey group;
  std::uint32_t generation = 0;
  std::uint32_t index = 0;
  SymmetricKey chain_key;
  Ed25519PublicKey signing_key;
};
// The sender asks the group's admins to remove it.
struct LeaveControl {
  GroupKey group;
  std::uint64_t epoch = 0;
};
using Control = std::variant<Welcome, CommitControl, SenderKeyControl, LeaveControl>;
enum class ControlType : std::uint8_t { welcome = 1, commit = 2, sender_key = 3, leave = 4 };
const GroupKey& group_of(const Control& c);

std::vector<std::uint8_t> encode_control(const Control& c);
Result<Control, WireError> decode_control(Bytes bytes);
// Several controls for one member in one 1:1 message.
std::vector<std::uint8_t> encode_controls(const std::vector<Control>& controls);
Result<std::vector<Control>, WireError> decode_controls(Bytes bytes);

// --- Keys derived from an epoch's secret.
struct EpochKeys {
  Ed25519KeyPair mailbox;  // the mailbox's owner key: polls are signed with it
  SymmetricKey envelope;   // the envelope's sealed layer
};
EpochKeys derive_epoch_keys(const SymmetricKey& epoch_secret);

// --- Sender chains step as the Double Ratchet's do (ratchet::kdf_chain):
// returns the message key of `chain` and moves `chain` one step on.
SymmetricKey chain_step(SymmetricKey& chain);

// --- The group envelope.
// sealed layer (41) + sender, generation, index (40) + body tag (16) +
// signature (64) + content's fixed part (31).
inline constexpr std::size_t envelope_overhead = 1 + 24 + 16 + 32 + 4 + 4 + 16 + 64 +
                                                 v2::content_fixed_bytes;  // 192
// Group envelopes use the version 2 sizes (v2::buckets), so that a node sees
// the same three sizes in both namespaces.
std::size_t capacity(std::uint32_t max_body_bytes);
// The bucket for `body_bytes` (the largest for a fragment of a longer message).
Result<std::size_t, SealError> bucket_for(std::size_t body_bytes, std::uint32_t max_body_bytes,
                                          bool fragment);

struct Inner {
  AccountKey sender;
  std::uint32_t generation = 0;
  std::uint32_t index = 0;
  std::vector<std::uint8_t> ciphertext;  // the content under the message key
  Ed25519Signature signature;
};
std::vector<std::uint8_t> encode_inner(const Inner& i);
Result<Inner, WireError> decode_inner(Bytes bytes);
// What the sender key's signing key signs, and the content's associated data.
std::vector<std::uint8_t> inner_signed_bytes(const GroupKey& group, const Ed25519PublicKey& mailbox,
                                             const Inner& i);
std::vector<std::uint8_t> content_ad(const GroupKey& group, const Ed25519PublicKey& mailbox,
                                     const AccountKey& sender, std::uint32_t generation,
                                     std::uint32_t index);

std::vector<std::uint8_t> seal_outer(const EpochKeys& keys, Bytes inner, RandomSource& rng);
Result<std::vector<std::uint8_t>, OpenError> open_outer(const EpochKeys& keys, Bytes envelope);

}  // namespace nightjar::client::group
