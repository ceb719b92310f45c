#include "routing/onion_keys.hpp"

namespace nightjar {

std::vector<std::uint64_t> OnionKeyring::rotate(std::uint64_t now) {
  std::vector<std::uint64_t> dropped;
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (it->second->valid_until <= now) {
      dropped.push_back(it->first);
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
  const std::uint64_t current = schedule_.epoch_at(now);
  for (std::uint64_t e : {current, current + 1}) {
    if (keys_.count(e)) continue;
    OnionKey k;
    k.epoch = e;
    k.keys = crypto::x25519_generate();
    k.valid_from = schedule_.valid_from(e);
    k.valid_until = schedule_.valid_until(e);
    add(std::move(k));
  }
  return dropped;
}

void OnionKeyring::add(OnionKey key) {
  const std::uint64_t e = key.epoch;
  keys_[e] = std::make_unique<OnionKey>(std::move(key));
}

const OnionKey* OnionKeyring::select(unsigned parity, std::uint64_t now) const {
  for (const auto& [epoch, key] : keys_)
    if ((epoch & 1u) == parity && key->valid_from <= now && now < key->valid_until) return key.get();
  return nullptr;
}

const OnionKey* OnionKeyring::find(std::uint64_t epoch) const {
  auto it = keys_.find(epoch);
  return it == keys_.end() ? nullptr : it->second.get();
}

ReplayCache::ReplayCache(std::size_t max_entries_per_epoch) : max_entries_(max_entries_per_epoch) {}

bool ReplayCache::TagSet::insert(std::uint64_t tag) {
  if (tag == 0) tag = 1;
  if (slots.empty() || 2 * (used + 1) > slots.size()) grow();
  const std::size_t mask = slots.size() - 1;
  // Tags are uniformly random, so their low bits are a good index.
  for (std::size_t i = static_cast<std::size_t>(tag) & mask;; i = (i + 1) & mask) {
    if (slots[i] == tag) return false;
    if (slots[i] == 0) {
      slots[i] = tag;
      ++used;
      return true;
    }
  }
}

void ReplayCache::TagSet::grow() {
  std::vector<std::uint64_t> old = std::move(slots);
  slots.assign(old.empty() ? 1024 : old.size() * 2, 0);
  const std::size_t mask = slots.size() - 1;
  for (std::uint64_t tag : old) {
    if (tag == 0) continue;
    std::size_t i = static_cast<std::size_t>(tag) & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = tag;
  }
}

ReplayCache::Outcome ReplayCache::insert(std::uint64_t epoch, std::uint64_t tag) {
  TagSet& set = epochs_[epoch];
  if (set.used >= max_entries_) {
    // Full: a known tag is still a replay; an unknown one cannot be checked.
    const std::size_t mask = set.slots.size() - 1;
    const std::uint64_t t = tag == 0 ? 1 : tag;
    for (std::size_t i = static_cast<std::size_t>(t) & mask; set.slots[i] != 0; i = (i + 1) & mask)
      if (set.slots[i] == t) return Outcome::replay;
    return Outcome::full;
  }
  return set.insert(tag) ? Outcome::fresh : Outcome::replay;
}

std::size_t ReplayCache::entries() const {
  std::size_t n = 0;
  for (const auto& [e, set] : epochs_) n += set.used;
  return n;
}

std::size_t ReplayCache::memory_bytes() const {
  std::size_t n = 0;
  for (const auto& [e, set] : epochs_) n += set.slots.size() * sizeof(std::uint64_t);
  return n;
}

}  // namespace nightjar
