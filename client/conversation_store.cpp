#include "client/conversation_store.hpp"

#include <string_view>
#include <system_error>

#include "routing/key_file.hpp"

namespace nightjar::client {

namespace {
constexpr std::uint8_t file_version = 1;
constexpr std::string_view ad_label = "nightjar conversation v1";
constexpr char kdf_context[9] = "njconv01";
constexpr std::size_t max_file_bytes = 1u << 20;  // a full skipped-key table is ~170 KB
}  // namespace

ConversationStore::ConversationStore(std::filesystem::path dir, const Identity& identity)
    : dir_(std::move(dir)), own_(identity.account()) {
  const auto seed = identity.seed();
  const auto master = SymmetricKey::from(seed.view());
  file_key_ = crypto::kdf_derive(master, 1, kdf_context);
  name_key_ = crypto::kdf_derive(master, 2, kdf_context);
}

std::filesystem::path ConversationStore::file_of(const AccountKey& peer) const {
  std::array<std::uint8_t, 16> name{};
  crypto::blake2b(name, peer, name_key_.view());
  return dir_ / (to_hex(name) + ".conv");
}

std::vector<std::uint8_t> ConversationStore::ad(const AccountKey& peer) const {
  std::vector<std::uint8_t> out(ad_label.begin(), ad_label.end());
  out.insert(out.end(), own_.bytes.begin(), own_.bytes.end());
  out.insert(out.end(), peer.bytes.begin(), peer.bytes.end());
  return out;
}

Result<void, std::string> ConversationStore::save(const AccountKey& peer, const Ratchet& state) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return fail("cannot create " + dir_.string() + ": " + ec.message());
  AeadNonce nonce;
  crypto::random_bytes(nonce.mutable_view());
  auto plain = state.encode();
  auto sealed = crypto::aead_encrypt(file_key_, nonce, ad(peer), plain);
  sodium_memzero(plain.data(), plain.size());
  std::vector<std::uint8_t> file{file_version};
  file.insert(file.end(), nonce.bytes.begin(), nonce.bytes.end());
  file.insert(file.end(), sealed.begin(), sealed.end());
  return replace_private_file(file_of(peer), file);
}

Result<std::optional<Ratchet>, std::string> ConversationStore::load(const AccountKey& peer) const {
  const auto path = file_of(peer);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<Ratchet>{};
  auto bytes = read_private_file(path, max_file_bytes);
  if (!bytes) return fail(bytes.error());
  if (bytes->size() < 1 + 24 + 16 || (*bytes)[0] != file_version)
    return fail(path.string() + ": not a conversation file of a known version");
  const auto nonce = AeadNonce::from(Bytes(*bytes).subspan(1).first<24>());
  auto plain = crypto::aead_decrypt(file_key_, nonce, ad(peer), Bytes(*bytes).subspan(25));
  if (!plain)
    return fail(path.string() + ": does not open (damaged, or not this profile's conversation with this peer)");
  auto state = Ratchet::decode(*plain);
  sodium_memzero(plain->data(), plain->size());
  if (!state) return fail(path.string() + ": " + state.error());
  return std::optional<Ratchet>(std::move(*state));
}

Result<void, std::string> ConversationStore::remove(const AccountKey& peer) {
  std::error_code ec;
  std::filesystem::remove(file_of(peer), ec);
  if (ec) return fail("cannot remove " + file_of(peer).string() + ": " + ec.message());
  return {};
}

}  // namespace nightjar::client
