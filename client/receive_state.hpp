// ReceiveState: what the client remembers about its inbox across restarts, so
// that every message reaches the application exactly once: the cursor before
// which everything has been handled, and the storage IDs handled after it (or
// within the lookback window), each kept until its message would expire.
// Saved in the profile as one small file, replaced atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "swarm/message_store.hpp"

namespace nightjar::client {

class ReceiveState {
 public:
  static constexpr std::size_t max_handled = 200'000;

  // Handled: delivered, part of a delivered message, or refused (not ours to
  // deliver). `expiry_ms` is the stored message's expiry.
  bool handled(const ::nightjar::MessageId& id) const { return handled_.count(id) != 0; }
  void mark(const ::nightjar::MessageId& id, std::uint64_t expiry_ms);
  // Forgets IDs whose messages have expired.
  void prune(std::uint64_t now_ms);
  std::size_t size() const { return handled_.size(); }

  const Cursor& low() const { return low_; }
  void set_low(const Cursor& c) { low_ = c; }

  std::vector<std::uint8_t> serialize() const;
  // False for malformed bytes (the state is then left empty).
  bool parse(Bytes bytes);
  // Loads from `file` (a missing file is an empty state) / saves atomically.
  Result<void, std::string> load(const std::filesystem::path& file);
  Result<void, std::string> save(const std::filesystem::path& file) const;

 private:
  Cursor low_;
  std::map<::nightjar::MessageId, std::uint64_t> handled_;
};

}  // namespace nightjar::client
