// ProfileSealer: how the profile keeps secrets other than the identity file
// (conversation states, prekey secrets): files encrypted under a key derived
// from the identity's seed, which the passphrase protects in the identity
// file, and file names that reveal nothing.
//
//   file = version (1) = 01 || nonce (24, random) ||
//          XChaCha20-Poly1305(KDF(seed, 1), nonce, ad, plaintext)
//   name = hex(BLAKE2b-128(key = KDF(seed, 2), what))
//
// KDF is crypto_kdf with context "njconv01" (its first use; kept). Each kind
// of file has its own `ad` (a label, the accounts it concerns), so a file
// opens only as what and where it was written.
#pragma once

#include <string>
#include <vector>

#include "client/identity.hpp"
#include "routing/result.hpp"

namespace nightjar::client {

class ProfileSealer {
 public:
  explicit ProfileSealer(const Identity& identity);
  std::vector<std::uint8_t> seal(Bytes plaintext, Bytes ad) const;
  // The plaintext, or why not (unknown version, too short, does not open).
  Result<std::vector<std::uint8_t>, std::string> open(Bytes file, Bytes ad) const;
  std::string name_of(Bytes what) const;

 private:
  SymmetricKey file_key_;
  SymmetricKey name_key_;
};

}  // namespace nightjar::client
