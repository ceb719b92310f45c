#include "client/receive_state.hpp"

#include <string_view>

#include "routing/key_file.hpp"
#include "routing/wire.hpp"

namespace nightjar::client {

namespace {
// Version 2 adds the member positions after `low`; version 1 files are read
// as having none (every member is then caught up from the floor once).
constexpr std::string_view header_v1 = "nightjar receive state v1\n";
constexpr std::string_view header_v2 = "nightjar receive state v2\n";
static_assert(header_v1.size() == header_v2.size());
constexpr std::size_t member_bytes = 32 + 8 + 8 + 1 + 8;
}  // namespace

void ReceiveState::mark(const ::nightjar::MessageId& id, std::uint64_t expiry_ms) {
  if (handled_.size() >= max_handled && !handled_.count(id)) {
    // Full: forget the entry that expires first.
    auto first = handled_.begin();
    for (auto it = handled_.begin(); it != handled_.end(); ++it)
      if (it->second < first->second) first = it;
    handled_.erase(first);
  }
  handled_[id] = expiry_ms;
}

void ReceiveState::prune(std::uint64_t now_ms) {
  std::erase_if(handled_, [&](const auto& kv) { return kv.second <= now_ms; });
}

MemberPosition ReceiveState::member(const NodeId& node) const {
  auto it = members_.find(node);
  return it == members_.end() ? MemberPosition{} : it->second;
}

void ReceiveState::set_member(const NodeId& node, const MemberPosition& p) {
  if (members_.size() >= max_members && !members_.count(node)) {
    auto oldest = members_.begin();
    for (auto it = members_.begin(); it != members_.end(); ++it)
      if (it->second.used_ms < oldest->second.used_ms) oldest = it;
    members_.erase(oldest);
  }
  members_[node] = p;
}

std::vector<std::uint8_t> ReceiveState::serialize() const {
  WireWriter w(header_v2.size() + 46 + members_.size() * member_bytes + handled_.size() * 40);
  w.raw(as_bytes(header_v2));
  w.u64(low_.timestamp_ms).fixed(low_.id);
  w.u16(static_cast<std::uint16_t>(members_.size()));
  for (const auto& [node, p] : members_)
    w.fixed(node).u64(p.cursor.incarnation).u64(p.cursor.seq).u8(p.caught_up ? 1 : 0).u64(p.used_ms);
  w.u32(static_cast<std::uint32_t>(handled_.size()));
  for (const auto& [id, expiry] : handled_) w.fixed(id).u64(expiry);
  return w.take();
}

bool ReceiveState::parse(Bytes bytes) {
  handled_.clear();
  members_.clear();
  low_ = Cursor{};
  WireReader r(bytes);
  auto h = r.raw(header_v2.size());
  if (!h) return false;
  const std::string_view got(reinterpret_cast<const char*>(h->data()), h->size());
  if (got != header_v1 && got != header_v2) return false;
  auto ts = r.u64();
  auto id = r.fixed<Hash256>();
  if (!ts || !id) return false;
  std::map<NodeId, MemberPosition, std::less<>> members;
  if (got == header_v2) {
    auto count = r.u16();
    if (!count || *count > max_members) return false;
    for (std::uint16_t i = 0; i < *count; ++i) {
      auto node = r.fixed<NodeId>();
      auto incarnation = r.u64();
      auto seq = r.u64();
      auto caught_up = r.u8();
      auto used = r.u64();
      if (!node || !incarnation || !seq || !caught_up || *caught_up > 1 || !used) return false;
      if (!members.emplace(*node, MemberPosition{{*incarnation, *seq}, *caught_up == 1, *used})
               .second)
        return false;  // the same member twice
    }
  }
  auto n = r.u32();
  if (!n || *n > max_handled) return false;
  std::map<::nightjar::MessageId, std::uint64_t> handled;
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto mid = r.fixed<Hash256>();
    auto expiry = r.u64();
    if (!mid || !expiry) return false;
    handled.emplace(*mid, *expiry);
  }
  if (!r.finish()) return false;
  low_ = Cursor{*ts, *id};
  handled_ = std::move(handled);
  members_ = std::move(members);
  return true;
}

Result<void, std::string> ReceiveState::load(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return {};
  auto bytes = read_private_file(file, 64u << 20);
  if (!bytes) return bytes.failure();
  if (!parse(*bytes)) return fail("receive state " + file.string() + " is damaged; starting over");
  return {};
}

Result<void, std::string> ReceiveState::save(const std::filesystem::path& file) const {
  return replace_private_file(file, serialize());
}

}  // namespace nightjar::client
