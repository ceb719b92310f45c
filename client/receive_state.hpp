// ReceiveState: what the client remembers about its inbox across restarts, so
// that every message reaches the application exactly once:
//  - the IDs of the messages handled, each kept until its message would
//    expire (the client drops a message it meets again by its ID);
//  - per swarm member asked, the member's arrival cursor (where the next
//    retrieve from that member starts: everything that arrived there before
//    it has been seen) and whether the catch-up from the floor is done;
//  - `low`: the server time of the last complete answer, in the cursor order
//    that means the same on every member; a member asked for the first time
//    is asked for what is stamped after it, less the catch-up depth.
// Saved in the profile as one small file, replaced atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "swarm/message_store.hpp"
#include "swarm/swarm_ring.hpp"

namespace nightjar::client {

// Where the client stands with one swarm member.
struct MemberPosition {
  ArrivalCursor cursor;    // from the member's last answer; zero: never asked
  bool caught_up = false;  // a retrieve from the floor has been paged to its end
  std::uint64_t used_ms = 0;  // when last answered (client clock): the oldest are forgotten
  friend bool operator==(const MemberPosition&, const MemberPosition&) = default;
};

class ReceiveState {
 public:
  static constexpr std::size_t max_handled = 200'000;
  static constexpr std::size_t max_members = 64;

  // Handled: delivered, part of a delivered message, or refused (not ours to
  // deliver). `expiry_ms` is the stored message's expiry.
  bool handled(const ::nightjar::MessageId& id) const { return handled_.count(id) != 0; }
  void mark(const ::nightjar::MessageId& id, std::uint64_t expiry_ms);
  // Forgets IDs whose messages have expired.
  void prune(std::uint64_t now_ms);
  std::size_t size() const { return handled_.size(); }

  const Cursor& low() const { return low_; }
  void set_low(const Cursor& c) { low_ = c; }

  // The member's position (a zero one if never asked).
  MemberPosition member(const NodeId& node) const;
  // Records it; beyond max_members, the position used longest ago is dropped.
  void set_member(const NodeId& node, const MemberPosition& p);
  void forget_member(const NodeId& node) { members_.erase(node); }
  const std::map<NodeId, MemberPosition, std::less<>>& members() const { return members_; }

  std::vector<std::uint8_t> serialize() const;
  // False for malformed bytes (the state is then left empty). Reads version 1
  // files (no member positions) too.
  bool parse(Bytes bytes);
  // Loads from `file` (a missing file is an empty state) / saves atomically.
  Result<void, std::string> load(const std::filesystem::path& file);
  Result<void, std::string> save(const std::filesystem::path& file) const;

 private:
  Cursor low_;
  std::map<::nightjar::MessageId, std::uint64_t> handled_;
  std::map<NodeId, MemberPosition, std::less<>> members_;
};

}  // namespace nightjar::client
