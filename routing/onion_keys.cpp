#include "routing/onion_keys.hpp"

#include <algorithm>

#include "routing/wire.hpp"

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

std::vector<std::uint64_t> OnionKeyring::epochs() const {
  std::vector<std::uint64_t> out;
  for (const auto& [e, k] : keys_) out.push_back(e);
  return out;
}

namespace {
constexpr char keyring_header[] = "nightjar onion keys v1\n";
constexpr std::size_t keyring_header_bytes = sizeof keyring_header - 1;
constexpr std::size_t keyring_entry_bytes = 8 + 8 + 8 + 32;
}  // namespace

std::vector<std::uint8_t> OnionKeyring::serialize() const {
  std::vector<std::uint8_t> out(keyring_header, keyring_header + keyring_header_bytes);
  out.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(keys_.size(), 255)));
  std::size_t n = 0;
  for (const auto& [e, k] : keys_) {
    if (n++ == 255) break;
    std::uint8_t buf[keyring_entry_bytes];
    store_u64(buf, k->epoch);
    store_u64(buf + 8, k->valid_from);
    store_u64(buf + 16, k->valid_until);
    std::copy(k->keys.sec.data(), k->keys.sec.data() + 32, buf + 24);
    out.insert(out.end(), buf, buf + keyring_entry_bytes);
    sodium_memzero(buf, sizeof buf);
  }
  return out;
}

bool OnionKeyring::load(Bytes bytes) {
  if (bytes.size() < keyring_header_bytes + 1 ||
      !std::equal(keyring_header, keyring_header + keyring_header_bytes, bytes.begin()))
    return false;
  const std::size_t n = bytes[keyring_header_bytes];
  if (bytes.size() != keyring_header_bytes + 1 + n * keyring_entry_bytes) return false;
  std::vector<OnionKey> loaded;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = bytes.data() + keyring_header_bytes + 1 + i * keyring_entry_bytes;
    OnionKey k;
    k.epoch = load_u64(p);
    k.valid_from = load_u64(p + 8);
    k.valid_until = load_u64(p + 16);
    if (k.valid_from >= k.valid_until) return false;
    k.keys.sec = X25519SecretKey::from(std::span<const std::uint8_t, 32>(p + 24, 32));
    k.keys.pub = crypto::x25519_public(k.keys.sec);
    loaded.push_back(std::move(k));
  }
  for (auto& k : loaded) add(std::move(k));
  return true;
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
