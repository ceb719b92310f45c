#include "client/identity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "routing/key_file.hpp"
#include "routing/wire.hpp"

namespace nightjar::client {
namespace {

constexpr std::string_view magic = "nightjar identity\n";
constexpr std::uint8_t file_version = 1;
constexpr std::uint8_t kdf_argon2id = crypto_pwhash_ALG_ARGON2ID13;
constexpr std::size_t salt_bytes = crypto_pwhash_SALTBYTES;
// Offsets of the fields (see the header and docs/ENVELOPE.md).
constexpr std::size_t at_version = magic.size();        // 18
constexpr std::size_t at_kdf = at_version + 1;          // 19
constexpr std::size_t at_opslimit = at_kdf + 1;         // 20
constexpr std::size_t at_memlimit = at_opslimit + 8;    // 28
constexpr std::size_t at_salt = at_memlimit + 8;        // 36
constexpr std::size_t at_nonce = at_salt + salt_bytes;  // 52
constexpr std::size_t at_account = at_nonce + 24;       // 76
constexpr std::size_t at_sealed = at_account + 32;      // 108
constexpr std::size_t sealed_bytes = 32 + crypto::aead_tag_bytes;
static_assert(salt_bytes == 16);
static_assert(at_sealed + sealed_bytes == identity_file_bytes);
// Reading stops here: anything longer is not an identity file.
constexpr std::size_t max_read = 1024;

Failure<IdentityError> error(IdentityFileError kind, std::string message) {
  return fail(IdentityError{kind, std::move(message)});
}

std::string errno_text(const std::string& what, const std::filesystem::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

Result<SymmetricKey, IdentityError> derive_key(const Passphrase& passphrase, Bytes salt,
                                               std::uint64_t opslimit, std::uint64_t memlimit) {
  SymmetricKey key;
  const Bytes pw = passphrase.bytes();
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(pw.data()), pw.size(),
                    salt.data(), opslimit, static_cast<std::size_t>(memlimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return error(IdentityFileError::kdf_failed,
                 "cannot derive the key from the passphrase (Argon2id with " +
                     std::to_string(memlimit >> 20) + " MiB: out of memory?)");
  return key;
}

bool limits_ok(std::uint64_t opslimit, std::uint64_t memlimit) {
  return opslimit >= crypto_pwhash_OPSLIMIT_MIN && opslimit <= max_opslimit &&
         memlimit >= crypto_pwhash_MEMLIMIT_MIN && memlimit <= max_memlimit;
}

// Reads a small private file after checking its type and permissions.
Result<std::vector<std::uint8_t>, IdentityError> read_private(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return error(IdentityFileError::missing, "no identity file at " + path.string());
    return error(IdentityFileError::unreadable, errno_text("cannot open identity file", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return error(IdentityFileError::unreadable,
                 "identity file " + path.string() + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return error(IdentityFileError::insecure_permissions,
                 "identity file " + path.string() +
                     " is readable or writable by group or others (mode " + mode +
                     "); refusing to use it. Run: chmod 600 " + path.string());
  }
  std::vector<std::uint8_t> content(max_read + 1);
  std::size_t size = 0;
  while (size < content.size()) {
    const ssize_t n = ::read(fd, content.data() + size, content.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return error(IdentityFileError::unreadable, errno_text("cannot read identity file", path));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  content.resize(size);
  return content;
}

}  // namespace

Identity Identity::generate(RandomSource& rng) {
  Ed25519Seed seed;
  rng.fill(seed.mutable_view());
  return from_seed(seed);
}

Identity Identity::from_seed(const Ed25519Seed& seed) {
  Identity id;
  id.ed25519_ = crypto::ed25519_from_seed(seed);
  id.x25519_.sec = crypto::ed25519_to_x25519(id.ed25519_.sec);
  id.x25519_.pub = crypto::x25519_public(id.x25519_.sec);
  return id;
}

Passphrase::Passphrase(std::string&& text) {
  text_.reserve(text.size());
  text_.assign(text);
  // The whole buffer, not just size(): a moved or shortened string keeps old
  // bytes beyond its end.
  sodium_memzero(text.data(), text.capacity());
  text.clear();
}

Passphrase::~Passphrase() {
  sodium_memzero(text_.data(), text_.capacity());
}

const char* to_string(IdentityFileError e) {
  switch (e) {
    case IdentityFileError::missing:
      return "missing";
    case IdentityFileError::unreadable:
      return "unreadable";
    case IdentityFileError::insecure_permissions:
      return "insecure permissions";
    case IdentityFileError::exists:
      return "already exists";
    case IdentityFileError::write_failed:
      return "write failed";
    case IdentityFileError::wrong_passphrase:
      return "wrong passphrase or damaged file";
    case IdentityFileError::corrupt:
      return "corrupt";
    case IdentityFileError::unknown_version:
      return "unknown version";
    case IdentityFileError::kdf_failed:
      return "key derivation failed";
  }
  return "unknown identity file error";
}

Result<std::vector<std::uint8_t>, IdentityError> encode_identity_file(const Identity& identity,
                                                                      const Passphrase& passphrase,
                                                                      RandomSource& rng,
                                                                      KdfLimits limits) {
  if (!limits_ok(limits.opslimit, limits.memlimit))
    return error(IdentityFileError::kdf_failed, "Argon2id limits out of range");
  std::uint8_t salt[salt_bytes];
  rng.fill(salt);
  AeadNonce nonce;
  rng.fill(nonce.mutable_view());

  WireWriter w(identity_file_bytes);
  w.raw(as_bytes(magic)).u8(file_version).u8(kdf_argon2id);
  w.u64(limits.opslimit).u64(limits.memlimit).raw(salt).fixed(nonce).fixed(identity.account());
  auto key = derive_key(passphrase, salt, limits.opslimit, limits.memlimit);
  if (!key) return key.failure();

  std::vector<std::uint8_t> out = w.take();
  out.resize(identity_file_bytes);
  const Ed25519Seed seed = identity.seed();
  const Bytes ad{out.data(), at_sealed};
  (void)crypto::aead_encrypt(*key, nonce, ad, seed.view(),
                             MutableBytes(out).subspan(at_sealed, sealed_bytes));
  return out;
}

Result<Identity, IdentityError> decode_identity_file(Bytes content, const Passphrase& passphrase) {
  if (content.size() < magic.size() || std::memcmp(content.data(), magic.data(), magic.size()) != 0)
    return error(IdentityFileError::corrupt, "not a Nightjar identity file");
  if (content.size() <= at_version)
    return error(IdentityFileError::corrupt, "identity file truncated");
  if (content[at_version] != file_version)
    return error(IdentityFileError::unknown_version,
                 "identity file version " + std::to_string(content[at_version]) +
                     " is not supported (this client reads version 1)");
  if (content.size() != identity_file_bytes)
    return error(IdentityFileError::corrupt,
                 "identity file has the wrong length (truncated or corrupt)");
  if (content[at_kdf] != kdf_argon2id)
    return error(IdentityFileError::corrupt, "identity file names an unknown key derivation");
  const std::uint64_t opslimit = load_u64(content.data() + at_opslimit);
  const std::uint64_t memlimit = load_u64(content.data() + at_memlimit);
  if (!limits_ok(opslimit, memlimit))
    return error(IdentityFileError::corrupt, "identity file has Argon2id limits out of range");

  auto key = derive_key(passphrase, content.subspan(at_salt, salt_bytes), opslimit, memlimit);
  if (!key) return key.failure();
  const AeadNonce nonce = AeadNonce::from(content.subspan(at_nonce).first<AeadNonce::size_bytes>());
  Ed25519Seed seed;
  if (!crypto::aead_decrypt(*key, nonce, content.first(at_sealed),
                            content.subspan(at_sealed, sealed_bytes), seed.mutable_view()))
    return error(IdentityFileError::wrong_passphrase,
                 "cannot unlock the identity: wrong passphrase or damaged file");
  Identity identity = Identity::from_seed(seed);
  // The stored key is authenticated, so this only fails for a file written
  // by a broken encoder; still, never hand out a key pair that disagrees.
  const AccountKey stored = AccountKey::from(content.subspan(at_account).first<32>());
  if (!(identity.account() == stored))
    return error(IdentityFileError::corrupt, "identity file's account key does not match");
  return identity;
}

Result<void, IdentityError> save_identity(const std::filesystem::path& path,
                                          const Identity& identity, const Passphrase& passphrase,
                                          RandomSource& rng, KdfLimits limits, SaveMode mode) {
  std::error_code ec;
  if (mode == SaveMode::create_new &&
      std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    return error(IdentityFileError::exists, "identity file " + path.string() + " already exists");
  auto content = encode_identity_file(identity, passphrase, rng, limits);
  if (!content) return content.failure();
  const std::filesystem::path target =
      mode == SaveMode::replace ? std::filesystem::path(path.string() + ".new") : path;
  if (mode == SaveMode::replace) ::unlink(target.c_str());  // a leftover from a crash
  if (auto w = write_private_file(target, *content); !w)
    return error(IdentityFileError::write_failed, w.error());
  if (mode == SaveMode::replace && ::rename(target.c_str(), path.c_str()) != 0) {
    auto text = errno_text("cannot replace identity file", path);
    ::unlink(target.c_str());
    return error(IdentityFileError::write_failed, text);
  }
  if (mode == SaveMode::replace) {
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);  // make the rename durable
      ::close(dfd);
    }
  }
  return {};
}

Result<Identity, IdentityError> load_identity(const std::filesystem::path& path,
                                              const Passphrase& passphrase) {
  auto content = read_private(path);
  if (!content) return content.failure();
  auto identity = decode_identity_file(*content, passphrase);
  if (!identity) {
    IdentityError e = identity.error();
    e.message = path.string() + ": " + e.message;
    return fail(std::move(e));
  }
  return identity;
}

}  // namespace nightjar::client
