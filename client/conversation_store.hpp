// ConversationStore: each conversation's state (client/conversation.hpp: its
// sessions and their ratchets) in a file of its own under the profile,
// encrypted at rest, replaced atomically on every update.
//
//   <dir>/<name>.conv, name = hex(BLAKE2b-128 keyed with the name key, peer account)
//   file = version (1) = 01 || nonce (24) || XChaCha20-Poly1305(file key, nonce,
//          ad = "nightjar conversation v1" || own account || peer account, Conversation::encode())
//
// Both keys come from the identity's seed (ProfileSealer: crypto_kdf,
// context "njconv01", subkeys 1 and 2), so the passphrase that protects the identity protects
// them, a listing of the folder names no contact, and a file copied to
// another peer's name, or to another account's profile, does not open.
// Every save is write-temporary, fsync, rename, fsync-directory
// (replace_private_file): a crash mid-write leaves the previous state whole.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "client/account.hpp"
#include "client/identity.hpp"
#include "client/conversation.hpp"
#include "client/profile_sealer.hpp"
#include "routing/result.hpp"

namespace nightjar::client {

class ConversationStore {
 public:
  ConversationStore(std::filesystem::path dir, const Identity& identity);

  Result<void, std::string> save(const Conversation& conversation);
  // No conversation with `peer`: an empty optional. A file that does not
  // open (damaged, another profile's, another peer's) is an error that names it.
  Result<std::optional<Conversation>, std::string> load(const AccountKey& peer) const;
  Result<void, std::string> remove(const AccountKey& peer);

  std::filesystem::path file_of(const AccountKey& peer) const;

 private:
  std::vector<std::uint8_t> ad(const AccountKey& peer) const;

  std::filesystem::path dir_;
  AccountKey own_;
  ProfileSealer sealer_;
};

}  // namespace nightjar::client
