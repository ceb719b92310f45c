#include "client/fragments.hpp"

#include <algorithm>
#include <iterator>

namespace nightjar::client {

Result<std::vector<Bytes>, SealError> fragment(Bytes text, std::uint32_t max_body_bytes) {
  return fragment_to(text, fragment_capacity(max_body_bytes));
}

Result<std::vector<Bytes>, SealError> fragment_to(Bytes text, std::size_t capacity) {
  if (capacity < 16) return fail(SealError::body_limit_too_small);
  if (text.size() > max_message_bytes) return fail(SealError::message_too_large);
  const std::size_t count = std::max<std::size_t>(1, (text.size() + capacity - 1) / capacity);
  // count <= 65536 / 16 = max_fragments, since capacity >= 16.
  const std::size_t base = text.size() / count;
  const std::size_t longer = text.size() % count;  // this many get base + 1
  std::vector<Bytes> pieces;
  pieces.reserve(count);
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t n = base + (i < longer ? 1 : 0);
    pieces.push_back(text.subspan(at, n));
    at += n;
  }
  return pieces;
}

Result<std::vector<std::vector<std::uint8_t>>, SealError> seal_message(
    const Identity& sender, const AccountKey& recipient, std::uint64_t timestamp_ms, Bytes text,
    std::uint32_t max_body_bytes, RandomSource& rng) {
  auto pieces = fragment(text, max_body_bytes);
  if (!pieces) return pieces.failure();
  Message m;
  m.timestamp_ms = timestamp_ms;
  m.message_id = random_message_id(rng);
  m.count = static_cast<std::uint16_t>(pieces->size());
  std::vector<std::vector<std::uint8_t>> envelopes;
  envelopes.reserve(pieces->size());
  for (std::size_t i = 0; i < pieces->size(); ++i) {
    m.index = static_cast<std::uint16_t>(i);
    m.body = (*pieces)[i];
    auto sealed = seal(sender, recipient, m, max_body_bytes, rng);
    if (!sealed) return sealed.failure();
    envelopes.push_back(std::move(*sealed));
  }
  return envelopes;
}

const char* to_string(ReassemblyError e) {
  switch (e) {
    case ReassemblyError::inconsistent_fragment:
      return "fragment disagrees with earlier fragments of its message";
    case ReassemblyError::message_too_large:
      return "message too large to reassemble";
    case ReassemblyError::bad_fragment:
      return "bad fragment index or count";
  }
  return "unknown reassembly error";
}

Reassembler::Reassembler(ReassemblerLimits limits) : limits_(limits) {
  limits_.max_pending_messages = std::max<std::size_t>(1, limits_.max_pending_messages);
}

Result<std::optional<ReceivedMessage>, ReassemblyError> Reassembler::add(OpenedEnvelope f) {
  if (f.count < 1 || f.count > max_fragments || f.index >= f.count)
    return fail(ReassemblyError::bad_fragment);
  if (f.body.size() > max_message_bytes) return fail(ReassemblyError::message_too_large);
  Key key;
  std::copy(f.sender.bytes.begin(), f.sender.bytes.end(), key.begin());
  std::copy(f.message_id.bytes.begin(), f.message_id.bytes.end(), key.begin() + 32);
  if (completed_.count(key) != 0) {
    ++duplicates_;
    return std::optional<ReceivedMessage>{};
  }

  auto found = index_.find(key);
  if (found == index_.end() && f.count == 1) {
    remember_completed(key);
    ReceivedMessage whole{f.sender,         f.timestamp_ms, f.message_id, std::move(f.body),
                          f.forward_secret, std::nullopt,   f.group_control};
    whole.receipt = f.receipt;
    return std::optional<ReceivedMessage>{std::move(whole)};
  }
  const std::size_t cost = f.body.size() + fragment_cost;
  if (cost > limits_.max_pending_bytes) {
    if (found != index_.end()) drop(found->second);
    return fail(ReassemblyError::message_too_large);
  }
  std::list<Pending>::iterator it;
  if (found == index_.end()) {
    while (pending_.size() >= limits_.max_pending_messages) {
      drop(pending_.begin());
      ++evicted_;
    }
    pending_.push_back(Pending{key, f.timestamp_ms, f.count, f.forward_secret, f.group_control, {}});
    it = std::prev(pending_.end());
    index_.emplace(key, it);
  } else {
    it = found->second;
    if (it->count != f.count || it->timestamp_ms != f.timestamp_ms ||
        it->forward_secret != f.forward_secret || it->group_control != f.group_control)
      return fail(ReassemblyError::inconsistent_fragment);
    if (auto part = it->parts.find(f.index); part != it->parts.end()) {
      if (part->second != f.body) return fail(ReassemblyError::inconsistent_fragment);
      ++duplicates_;
      return std::optional<ReceivedMessage>{};
    }
  }

  if (it->body_bytes + f.body.size() > max_message_bytes ||
      it->cost + cost > limits_.max_pending_bytes) {
    drop(it);
    return fail(ReassemblyError::message_too_large);
  }
  it->body_bytes += f.body.size();
  it->cost += cost;
  pending_bytes_ += cost;
  it->parts.emplace(f.index, std::move(f.body));
  // Make room by evicting other messages, oldest first; this one fits alone.
  while (pending_bytes_ > limits_.max_pending_bytes) {
    auto victim = pending_.begin();
    if (victim == it) ++victim;
    drop(victim);
    ++evicted_;
  }

  if (it->parts.size() < it->count) return std::optional<ReceivedMessage>{};
  ReceivedMessage done{f.sender,          it->timestamp_ms, f.message_id, {}, it->forward_secret,
                       std::nullopt,      it->group_control};
  done.text.reserve(it->body_bytes);
  for (auto& [index, body] : it->parts)
    done.text.insert(done.text.end(), body.begin(), body.end());
  remember_completed(key);
  drop(it);
  return std::optional<ReceivedMessage>{std::move(done)};
}

void Reassembler::drop(std::list<Pending>::iterator it) {
  pending_bytes_ -= it->cost;
  index_.erase(it->key);
  pending_.erase(it);
}

void Reassembler::remember_completed(const Key& key) {
  if (limits_.remembered_completed == 0) return;
  completed_.insert(key);
  completed_order_.push_back(key);
  while (completed_order_.size() > limits_.remembered_completed) {
    completed_.erase(completed_order_.front());
    completed_order_.pop_front();
  }
}

}  // namespace nightjar::client
