// History: every message this account sent or received, kept in the
// profile encrypted at rest, each sent message with its delivery state:
//
//   sending -> stored (a quorum of the recipient's swarm acknowledged it)
//           -> delivered (the recipient's client sent a delivery receipt)
//   sending -> failed (with why)
//
// A state only moves forward (a receipt that overtakes the acknowledgement
// leaves the message delivered). Received messages are in state `received`.
//
//   <profile>/history   an append-only log of records, each
//                       u32 length || ProfileSealer::seal(record,
//                       AD "nightjar history v1" || own account)
//   record = type (1) || body:
//     1 message: seq u64, the entry (encode_entry)
//     2 state:   seq u64, state u8, at u64, message ID (16), var16 detail
//     3 read:    conversation (33), up-to seq u64
//
// Writes append (add, set_state, mark_read); flush() makes them durable
// (fdatasync), and the client flushes before it acknowledges anything that
// depends on them (a received message's cursor). Opening replays the log; a
// record cut short by a crash at the end is dropped and the file truncated
// to the last whole record. The history is bounded: entries older than
// max_age_ms, and beyond max_per_conversation in a conversation, are
// dropped, and the log is rewritten (atomically, replace_private_file) when
// it holds more than twice the records it needs.
#pragma once

#include <compare>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/account.hpp"
#include "client/envelope.hpp"
#include "client/profile_sealer.hpp"

namespace nightjar::client {

enum class DeliveryState : std::uint8_t {
  sending = 1,
  stored = 2,
  delivered = 3,
  failed = 4,
  received = 5,
};
const char* to_string(DeliveryState s);

// A 1:1 conversation (the other account) or a group's.
struct ConversationKey {
  bool group = false;
  Ed25519PublicKey key;
  friend std::strong_ordering operator<=>(const ConversationKey&, const ConversationKey&) = default;
  friend bool operator==(const ConversationKey&, const ConversationKey&) = default;
};

struct HistoryEntry {
  std::uint64_t seq = 0;  // this profile's order of entries, from 1
  ConversationKey conversation;
  bool outgoing = false;
  AccountKey sender;      // outgoing: this account
  MessageId message_id;   // zero until known (a send not yet sealed)
  std::uint64_t sent_ms = 0;      // the sender's timestamp
  std::uint64_t recorded_ms = 0;  // when this client recorded it
  std::vector<std::uint8_t> text;
  DeliveryState state = DeliveryState::sending;
  std::uint64_t state_ms = 0;
  std::string detail;  // failed: why
  bool request = false;  // received as a message request
};

struct HistoryLimits {
  std::uint64_t max_age_ms = 365ull * 24 * 3600 * 1000;
  std::size_t max_per_conversation = 10'000;
};

struct ConversationSummary {
  ConversationKey conversation;
  std::size_t messages = 0;
  std::size_t unread = 0;  // received after the read mark
  HistoryEntry last;
};

// A delivery receipt's body (content flag 04): count (1, 1..max) ||
// count x message ID (16). Parsed from what any correspondent sends.
inline constexpr std::size_t max_receipt_ids = 12;  // 193 bytes: one envelope of the smallest bucket
std::vector<std::uint8_t> encode_receipt(const std::vector<MessageId>& ids);  // 1..max IDs
std::optional<std::vector<MessageId>> parse_receipt(Bytes body);

class History {
 public:
  // In memory only (nothing is written).
  History() = default;
  // Opens (or creates) the log at `file`, replays it and applies the limits.
  static Result<History, std::string> open(std::filesystem::path file, const Identity& identity,
                                           HistoryLimits limits, std::uint64_t now_ms);
  History(History&&) noexcept;
  History& operator=(History&&) noexcept;
  ~History();

  // A new entry (its seq is assigned); returns the seq.
  Result<std::uint64_t, std::string> add(HistoryEntry e);
  // Moves entry `seq` to `state` (and records its message ID when given):
  // false when there is no such entry or the state would move backwards.
  Result<bool, std::string> set_state(std::uint64_t seq, DeliveryState state, std::uint64_t now_ms,
                                      std::string detail = {},
                                      const std::optional<MessageId>& id = std::nullopt);
  // The outgoing entry of `conversation` with this message ID, if kept.
  std::optional<std::uint64_t> find_sent(const ConversationKey& conversation,
                                         const MessageId& id) const;
  Result<void, std::string> mark_read(const ConversationKey& conversation);
  // Makes every write so far durable.
  Result<void, std::string> flush();
  // Erases every entry, and the file.
  Result<void, std::string> erase();

  const HistoryEntry* entry(std::uint64_t seq) const;
  // The last `limit` entries of a conversation, oldest first (0: all).
  std::vector<HistoryEntry> messages(const ConversationKey& conversation, std::size_t limit = 0) const;
  // Every conversation, the most recent first.
  std::vector<ConversationSummary> conversations() const;
  std::size_t size() const { return entries_.size(); }
  // Records that did not open when the log was replayed (not the cut tail).
  std::size_t damaged_records() const { return damaged_; }

  // A record's bytes (unsealed) and back: for the fuzz target and tests.
  static Result<void, std::string> check_record(Bytes record);

 private:
  Result<void, std::string> append(const std::vector<std::uint8_t>& record);
  Result<void, std::string> replay(Bytes record);
  void apply_limits(std::uint64_t now_ms);
  Result<void, std::string> rewrite();
  std::vector<std::uint8_t> ad() const;

  std::filesystem::path file_;
  const Identity* identity_ = nullptr;
  HistoryLimits limits_;
  int fd_ = -1;
  bool dirty_ = false;
  std::uint64_t next_seq_ = 1;
  std::size_t records_ = 0;  // in the log
  std::size_t damaged_ = 0;
  std::map<std::uint64_t, HistoryEntry> entries_;
  std::map<ConversationKey, std::uint64_t> read_up_to_;
  std::map<std::pair<ConversationKey, MessageId>, std::uint64_t> sent_ids_;
};

}  // namespace nightjar::client
