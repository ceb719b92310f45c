// A user's identity: the Ed25519 key pair whose public key is the account ID,
// and the X25519 pair derived from it that envelopes are encrypted to. It is
// created once, on the user's own machine, and kept in a file whose secret
// part is encrypted under a passphrase, so a copied file alone does not give
// the account away.
//
// Identity file (docs/ENVELOPE.md, "Identity file"), 156 bytes:
//   "nightjar identity\n" (18) || version (1) = 1 || kdf (1) = 2 (Argon2id)
//   || opslimit (8) || memlimit (8) || salt (16) || nonce (24)
//   || account key (32) || XChaCha20-Poly1305(seed (32)) (48)
// The key is crypto_pwhash(passphrase, salt, opslimit, memlimit); everything
// before the ciphertext is the associated data. The limits are stored so that
// a later version can raise them for new files and still read old ones.
// Written atomically with mode 0600; refused when group or others can read or
// write it (as routing/key_file.hpp does for node keys).
//
// Callers: the CLI (create an account, unlock it at start) and the client
// library, which takes a loaded Identity to seal, open and sign requests.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "client/account.hpp"
#include "routing/crypto.hpp"
#include "routing/random_source.hpp"
#include "routing/result.hpp"

namespace nightjar::client {

class Identity {
 public:
  static Identity generate(RandomSource& rng);
  static Identity from_seed(const Ed25519Seed& seed);

  const AccountKey& account() const { return ed25519_.pub; }
  const Ed25519SecretKey& signing_key() const { return ed25519_.sec; }
  const X25519PublicKey& x25519_public() const { return x25519_.pub; }
  const X25519SecretKey& x25519_secret() const { return x25519_.sec; }
  // The 32 bytes everything else is derived from (what the file stores).
  Ed25519Seed seed() const { return crypto::ed25519_seed(ed25519_.sec); }

 private:
  Identity() = default;
  Ed25519KeyPair ed25519_;
  X25519KeyPair x25519_;
};

// A passphrase as typed. Taking it wipes the caller's string (its whole
// buffer, with sodium_memzero) and this copy is wiped on destruction, so the
// text does not linger in freed memory.
class Passphrase {
 public:
  explicit Passphrase(std::string&& text);
  ~Passphrase();
  Passphrase(const Passphrase&) = delete;
  Passphrase& operator=(const Passphrase&) = delete;

  Bytes bytes() const { return as_bytes(text_); }

 private:
  std::string text_;
};

// Argon2id cost. The defaults are libsodium's "interactive" limits (2 passes,
// 64 MiB, 0.1-0.3 s on our shared 2-core machines): unlocking happens at
// every start of the client.
struct KdfLimits {
  std::uint64_t opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  std::uint64_t memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
};
// What load accepts from a file: libsodium's minimum up to 4 times its
// "sensitive" limits, so a damaged file cannot ask for 4 TiB of memory.
inline constexpr std::uint64_t max_opslimit = 4 * crypto_pwhash_OPSLIMIT_SENSITIVE;
inline constexpr std::uint64_t max_memlimit = 4ull * crypto_pwhash_MEMLIMIT_SENSITIVE;

inline constexpr std::size_t identity_file_bytes = 156;

enum class IdentityFileError {
  missing,               // no file at the path
  unreadable,            // not a regular file, or an I/O error
  insecure_permissions,  // group or others may read or write it
  exists,                // save with create_new, and the path is taken
  write_failed,          // could not write, sync or rename
  wrong_passphrase,      // the AEAD failed: wrong passphrase, or a damaged file
  corrupt,               // not an identity file, truncated, or fields out of range
  unknown_version,       // an identity file of a version this code cannot read
  kdf_failed,            // Argon2id could not run (out of memory, bad limits)
};
const char* to_string(IdentityFileError e);

struct IdentityError {
  IdentityFileError kind;
  std::string message;  // for the user; names the file, never the passphrase
};

enum class SaveMode { create_new, replace };

// Writes `identity` to `path` under `passphrase`; the salt and nonce come from
// `rng`. create_new fails if `path` exists; replace swaps the new file in
// with rename(), so the old file stays whole until the new one is synced.
Result<void, IdentityError> save_identity(const std::filesystem::path& path,
                                          const Identity& identity, const Passphrase& passphrase,
                                          RandomSource& rng, KdfLimits limits = {},
                                          SaveMode mode = SaveMode::create_new);
Result<Identity, IdentityError> load_identity(const std::filesystem::path& path,
                                              const Passphrase& passphrase);

// The file's content without the file system, for tests and the fuzzer.
Result<std::vector<std::uint8_t>, IdentityError> encode_identity_file(const Identity& identity,
                                                                      const Passphrase& passphrase,
                                                                      RandomSource& rng,
                                                                      KdfLimits limits = {});
// Checks everything that needs no passphrase (length, magic, version,
// algorithm, limits) before running Argon2id.
Result<Identity, IdentityError> decode_identity_file(Bytes content, const Passphrase& passphrase);

}  // namespace nightjar::client
