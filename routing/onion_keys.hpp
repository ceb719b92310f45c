// Onion keys and the replay cache: the node-side state that peeling a cell
// needs. A node's X25519 onion key rotates every epoch; a cell names the
// epoch it was built for by one bit (the epoch's parity, carried in the top
// bit of the hop's ephemeral key, which X25519 ignores). A key is accepted
// from `grace` seconds before its epoch until `grace` seconds after it, and
// grace < epoch/2 ensures that at most one key of each parity is live.
//
// The replay cache remembers one 64-bit tag per accepted cell, per key epoch,
// and forgets an epoch's tags when its key expires: a replayed cell is either
// still in the cache or built for a key that no longer exists.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <memory>
#include <vector>

#include "routing/crypto.hpp"

namespace nightjar {

struct EpochSchedule {
  std::uint64_t epoch_seconds = 3600;
  std::uint64_t grace_seconds = 600;

  std::uint64_t epoch_at(std::uint64_t unix_seconds) const { return unix_seconds / epoch_seconds; }
  std::uint64_t valid_from(std::uint64_t epoch) const {
    const std::uint64_t start = epoch * epoch_seconds;
    return start > grace_seconds ? start - grace_seconds : 0;
  }
  std::uint64_t valid_until(std::uint64_t epoch) const {
    return (epoch + 1) * epoch_seconds + grace_seconds;
  }
  // grace < epoch/2, so that keys of the same parity never overlap.
  bool valid() const { return epoch_seconds >= 2 && 2 * grace_seconds < epoch_seconds; }
};

struct OnionKey {
  std::uint64_t epoch = 0;
  X25519KeyPair keys;
  std::uint64_t valid_from = 0;   // unix seconds, inclusive
  std::uint64_t valid_until = 0;  // unix seconds, exclusive
};

class OnionKeyring {
 public:
  explicit OnionKeyring(EpochSchedule schedule) : schedule_(schedule) {}

  // Makes sure keys exist for the current and the next epoch, and drops keys
  // whose validity has ended. Returns the epochs dropped (their replay tags
  // can go too).
  std::vector<std::uint64_t> rotate(std::uint64_t now);
  // Adds a key made elsewhere (tests, or keys loaded from disk).
  void add(OnionKey key);

  // The key a cell with this epoch parity must use at `now`, or null.
  const OnionKey* select(unsigned parity, std::uint64_t now) const;
  const OnionKey* find(std::uint64_t epoch) const;
  // Epochs of the keys held, in order (to notice that rotate() changed them).
  std::vector<std::uint64_t> epochs() const;

  // The secret keys, for the node's data directory (so a restarted node keeps
  // the onion keys its descriptor published). Format:
  //   "nightjar onion keys v1\n" || count (1) ||
  //   count × (epoch (8) || valid_from (8) || valid_until (8) || X25519 secret (32))
  std::vector<std::uint8_t> serialize() const;
  // Adds the keys of a serialize()d keyring; false if the bytes are malformed
  // (nothing is added then).
  bool load(Bytes bytes);
  const EpochSchedule& schedule() const { return schedule_; }
  std::size_t size() const { return keys_.size(); }

 private:
  EpochSchedule schedule_;
  std::map<std::uint64_t, std::unique_ptr<OnionKey>> keys_;
};

class ReplayCache {
 public:
  enum class Outcome { fresh, replay, full };

  // At most `max_entries_per_epoch` tags per epoch; beyond that, cells are
  // refused (Outcome::full) rather than let through unchecked.
  explicit ReplayCache(std::size_t max_entries_per_epoch = std::size_t{1} << 22);

  Outcome insert(std::uint64_t epoch, std::uint64_t tag);
  void forget_epoch(std::uint64_t epoch) { epochs_.erase(epoch); }
  std::size_t entries() const;
  std::size_t memory_bytes() const;

 private:
  // Open addressing with linear probing over 64-bit tags; 0 marks an empty
  // slot (a zero tag is stored as 1). Load stays at most one half.
  struct TagSet {
    std::vector<std::uint64_t> slots;
    std::size_t used = 0;
    bool insert(std::uint64_t tag);  // false if present
    void grow();
  };
  std::size_t max_entries_;
  std::map<std::uint64_t, TagSet> epochs_;
};

}  // namespace nightjar
