#include "client/receive_state.hpp"

#include "routing/key_file.hpp"
#include "routing/wire.hpp"

namespace nightjar::client {

namespace {
constexpr char header[] = "nightjar receive state v1\n";
constexpr std::size_t header_bytes = sizeof header - 1;
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

std::vector<std::uint8_t> ReceiveState::serialize() const {
  WireWriter w(header_bytes + 44 + handled_.size() * 40);
  w.raw(as_bytes(std::string_view(header, header_bytes)));
  w.u64(low_.timestamp_ms).fixed(low_.id).u32(static_cast<std::uint32_t>(handled_.size()));
  for (const auto& [id, expiry] : handled_) w.fixed(id).u64(expiry);
  return w.take();
}

bool ReceiveState::parse(Bytes bytes) {
  handled_.clear();
  low_ = Cursor{};
  WireReader r(bytes);
  auto h = r.raw(header_bytes);
  if (!h || !std::equal(h->begin(), h->end(), header)) return false;
  auto ts = r.u64();
  auto id = r.fixed<Hash256>();
  auto n = r.u32();
  if (!ts || !id || !n || *n > max_handled) return false;
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
