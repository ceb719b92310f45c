// Messages longer than one envelope. A store request must fit in one onion
// cell, so an envelope is at most the network's max_body_bytes (440 by
// default: 265 body bytes); a longer message (up to 64 KiB) is split into
// fragments, each sealed as its own envelope with the same message ID and
// timestamp, and the recipient's Reassembler puts them back together in
// whatever order, and however often, the swarm returns them.
//
// fragment() splits evenly rather than greedily: with k >= 2 fragments every
// one carries at least half the capacity (rounded up), more than the middle
// bucket holds, so all fragments of a split message land in the largest
// bucket and a node sees only k, not the length of the last piece.
//
// Callers: the client library's send path (seal_message) and receive path
// (one Reassembler per account, fed with every envelope open() accepts).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "client/envelope.hpp"

namespace nightjar::client {

// The fewest pieces of at most fragment_capacity(max_body_bytes) bytes each,
// as views into `text`, their sizes differing by at most one. An empty text
// is one empty piece.
Result<std::vector<Bytes>, SealError> fragment(Bytes text, std::uint32_t max_body_bytes);
// The same with the capacity given (version 2: v2::capacity of the kind the
// message is sealed as).
Result<std::vector<Bytes>, SealError> fragment_to(Bytes text, std::size_t capacity);

// Splits `text` and seals every piece under one fresh random message ID.
Result<std::vector<std::vector<std::uint8_t>>, SealError> seal_message(
    const Identity& sender, const AccountKey& recipient, std::uint64_t timestamp_ms, Bytes text,
    std::uint32_t max_body_bytes, RandomSource& rng);

struct ReceivedMessage {
  AccountKey sender;
  std::uint64_t timestamp_ms = 0;
  MessageId message_id;
  std::vector<std::uint8_t> text;
  bool forward_secret = false;  // sent in version 2 envelopes
  // A group message: the group it was sent to (client/group.hpp).
  std::optional<GroupKey> group;
  // Group controls from `sender` (client/group_messages.hpp): the client
  // handles them, they are never shown.
  bool group_control = false;
  // A 1:1 message from an account that is not a contact (a message
  // request, client/contacts.hpp): shown apart until accepted or blocked.
  bool request = false;
  // A delivery receipt (one fragment, version 2): the client handles it.
  bool receipt = false;
};

struct ReassemblerLimits {
  // Incomplete messages kept at once; the oldest (by first fragment) goes.
  std::size_t max_pending_messages = 64;
  // Memory held by incomplete messages: body bytes plus fragment_cost per
  // fragment (so empty fragments count too); the oldest messages go first.
  std::size_t max_pending_bytes = 1u << 20;
  // Completed message IDs remembered, so late duplicates are not delivered
  // again. A duplicate that arrives after this many newer messages is.
  std::size_t remembered_completed = 1024;
};

enum class ReassemblyError {
  inconsistent_fragment,  // count or timestamp differs from earlier fragments,
                          // or the same index came with a different body
  message_too_large,      // over max_message_bytes or max_pending_bytes
  bad_fragment,           // index >= count, or count out of range
};
const char* to_string(ReassemblyError e);

class Reassembler {
 public:
  static constexpr std::size_t fragment_cost = 64;

  explicit Reassembler(ReassemblerLimits limits = {});

  // A complete message when `fragment` completes one (exactly once per
  // message ID and sender), nothing when it is stored or a duplicate, an
  // error when it cannot belong to its message.
  Result<std::optional<ReceivedMessage>, ReassemblyError> add(OpenedEnvelope fragment);

  std::size_t pending_messages() const { return pending_.size(); }
  std::size_t pending_bytes() const { return pending_bytes_; }
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t evicted() const { return evicted_; }

 private:
  using Key = std::array<std::uint8_t, 48>;  // sender || message ID
  struct Pending {
    Key key;
    std::uint64_t timestamp_ms;
    std::uint16_t count;
    bool forward_secret;
    bool group_control;
    std::map<std::uint16_t, std::vector<std::uint8_t>> parts;
    std::size_t body_bytes = 0;
    std::size_t cost = 0;
  };

  void drop(std::list<Pending>::iterator it);
  void remember_completed(const Key& key);

  ReassemblerLimits limits_;
  std::list<Pending> pending_;  // oldest first
  std::map<Key, std::list<Pending>::iterator> index_;
  std::size_t pending_bytes_ = 0;
  std::set<Key> completed_;
  std::deque<Key> completed_order_;
  std::uint64_t duplicates_ = 0;
  std::uint64_t evicted_ = 0;
};

}  // namespace nightjar::client
