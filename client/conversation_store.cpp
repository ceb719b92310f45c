#include "client/conversation_store.hpp"

#include <string_view>
#include <system_error>

#include "routing/key_file.hpp"

namespace nightjar::client {

namespace {
constexpr std::string_view ad_label = "nightjar conversation v1";
constexpr std::size_t max_file_bytes = 1u << 20;  // a full skipped-key table is ~170 KB
}  // namespace

ConversationStore::ConversationStore(std::filesystem::path dir, const Identity& identity)
    : dir_(std::move(dir)), own_(identity.account()), sealer_(identity) {}

std::filesystem::path ConversationStore::file_of(const AccountKey& peer) const {
  return dir_ / (sealer_.name_of(peer) + ".conv");
}

std::vector<std::uint8_t> ConversationStore::ad(const AccountKey& peer) const {
  std::vector<std::uint8_t> out(ad_label.begin(), ad_label.end());
  out.insert(out.end(), own_.bytes.begin(), own_.bytes.end());
  out.insert(out.end(), peer.bytes.begin(), peer.bytes.end());
  return out;
}

Result<void, std::string> ConversationStore::save(const Conversation& conversation) {
  const AccountKey& peer = conversation.peer();
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return fail("cannot create " + dir_.string() + ": " + ec.message());
  auto plain = conversation.encode();
  const auto file = sealer_.seal(plain, ad(peer));
  sodium_memzero(plain.data(), plain.size());
  return replace_private_file(file_of(peer), file);
}

Result<std::optional<Conversation>, std::string> ConversationStore::load(
    const AccountKey& peer) const {
  const auto path = file_of(peer);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<Conversation>{};
  auto bytes = read_private_file(path, max_file_bytes);
  if (!bytes) return fail(bytes.error());
  auto plain = sealer_.open(*bytes, ad(peer));
  if (!plain) return fail(path.string() + ": " + plain.error());
  auto state = Conversation::decode(*plain);
  sodium_memzero(plain->data(), plain->size());
  if (!state) return fail(path.string() + ": " + state.error());
  if (!(state->peer() == peer)) return fail(path.string() + ": the state of another conversation");
  return std::optional<Conversation>(std::move(*state));
}

Result<void, std::string> ConversationStore::remove(const AccountKey& peer) {
  std::error_code ec;
  std::filesystem::remove(file_of(peer), ec);
  if (ec) return fail("cannot remove " + file_of(peer).string() + ": " + ec.message());
  return {};
}

}  // namespace nightjar::client
