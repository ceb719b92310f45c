// Identities and identity files (client/identity.hpp): key derivation, the
// passphrase-encrypted file format, every class of bad file, permissions.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "client/identity.hpp"
#include "routing/wire.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::TempDir;
namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

DeterministicRandom rng_from(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(b);
  return DeterministicRandom(seed);
}

Passphrase pass(const char* text) {
  return Passphrase(std::string(text));
}

// The cheapest Argon2id, for tests that run the KDF many times.
constexpr KdfLimits cheap{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

std::vector<std::uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_all(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  ::chmod(p.c_str(), 0600);
}

IdentityFileError decode_error(const std::vector<std::uint8_t>& content, const char* passphrase) {
  auto r = decode_identity_file(content, pass(passphrase));
  REQUIRE_FALSE(r.ok());
  return r.error().kind;
}

}  // namespace

TEST_CASE("an identity derives its X25519 keys from its Ed25519 keys", "[client][unit]") {
  auto rng = rng_from(1);
  const Identity a = Identity::generate(rng);
  auto rng_again = rng_from(1);
  const Identity same = Identity::generate(rng_again);
  const Identity b = Identity::generate(rng);
  CHECK(a.account() == same.account());
  CHECK_FALSE(a.account() == b.account());

  auto x = crypto::ed25519_to_x25519(a.account());
  REQUIRE(x.ok());
  CHECK(*x == a.x25519_public());
  CHECK(crypto::x25519_public(a.x25519_secret()) == a.x25519_public());
  CHECK(Identity::from_seed(a.seed()).account() == a.account());
}

TEST_CASE("a passphrase wipes the string it was made from", "[client][unit]") {
  std::string typed = "correct horse battery staple, long enough to live on the heap";
  const std::size_t length = typed.size();
  const char* buffer = typed.data();
  Passphrase p(std::move(typed));
  CHECK(p.bytes().size() == length);
  // The moved-from string still owns its buffer: every byte of it is zero.
  CHECK(typed.empty());
  CHECK(typed.data() == buffer);
  for (std::size_t i = 0; i < length; ++i)
    CHECK(buffer[i] == '\0');
}

TEST_CASE("an identity file is saved with mode 0600 and loads back", "[client][unit]") {
  TempDir dir;
  const fs::path path = dir.path() / "identity";
  auto rng = rng_from(2);
  const Identity id = Identity::generate(rng);
  REQUIRE(save_identity(path, id, pass("hunter2"), rng).ok());
  CHECK(mode_of(path) == 0600);
  CHECK(fs::file_size(path) == identity_file_bytes);
  CHECK_FALSE(fs::exists(path.string() + ".tmp"));

  auto loaded = load_identity(path, pass("hunter2"));
  REQUIRE(loaded.ok());
  CHECK(loaded->account() == id.account());
  CHECK(loaded->x25519_public() == id.x25519_public());
  CHECK(crypto::equal(loaded->seed().view(), id.seed().view()));

  // The stored limits are the interactive ones, big-endian at 20 and 28.
  const auto bytes = read_all(path);
  CHECK(std::string(bytes.begin(), bytes.begin() + 18) == "nightjar identity\n");
  CHECK(bytes[18] == 1);
  CHECK(bytes[19] == crypto_pwhash_ALG_ARGON2ID13);
  CHECK(load_u64(&bytes[20]) == crypto_pwhash_OPSLIMIT_INTERACTIVE);
  CHECK(load_u64(&bytes[28]) == crypto_pwhash_MEMLIMIT_INTERACTIVE);
  CHECK(std::equal(bytes.begin() + 76, bytes.begin() + 108, id.account().bytes.begin()));

  auto again = save_identity(path, id, pass("other"), rng);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().kind == IdentityFileError::exists);
}

TEST_CASE("replacing an identity file changes its passphrase and limits", "[client][unit]") {
  TempDir dir;
  const fs::path path = dir.path() / "identity";
  auto rng = rng_from(3);
  const Identity id = Identity::generate(rng);
  REQUIRE(save_identity(path, id, pass("old"), rng, cheap).ok());
  KdfLimits stronger = cheap;
  stronger.opslimit = 3;
  REQUIRE(save_identity(path, id, pass("new"), rng, stronger, SaveMode::replace).ok());
  CHECK(mode_of(path) == 0600);
  CHECK_FALSE(fs::exists(path.string() + ".new"));
  CHECK(load_u64(&read_all(path)[20]) == 3);
  auto old = load_identity(path, pass("old"));
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().kind == IdentityFileError::wrong_passphrase);
  auto loaded = load_identity(path, pass("new"));
  REQUIRE(loaded.ok());
  CHECK(loaded->account() == id.account());
}

TEST_CASE("a wrong passphrase is reported as such", "[client][unit]") {
  TempDir dir;
  const fs::path path = dir.path() / "identity";
  auto rng = rng_from(4);
  REQUIRE(save_identity(path, Identity::generate(rng), pass("right"), rng).ok());
  auto r = load_identity(path, pass("wrong"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == IdentityFileError::wrong_passphrase);
  CHECK_THAT(r.error().message, Catch::Contains("wrong passphrase or damaged file"));
  CHECK_THAT(r.error().message, Catch::Contains(path.string()));
  CHECK_FALSE(load_identity(path, pass("")).ok());
}

TEST_CASE("identity files readable by group or others are refused", "[client][unit]") {
  TempDir dir;
  const fs::path path = dir.path() / "identity";
  auto rng = rng_from(5);
  REQUIRE(save_identity(path, Identity::generate(rng), pass("p"), rng, cheap).ok());
  for (unsigned mode : {0644u, 0640u, 0604u, 0660u, 0602u}) {
    ::chmod(path.c_str(), mode);
    auto r = load_identity(path, pass("p"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == IdentityFileError::insecure_permissions);
    CHECK_THAT(r.error().message, Catch::Contains("chmod 600"));
  }
  ::chmod(path.c_str(), 0400);
  CHECK(load_identity(path, pass("p")).ok());
}

TEST_CASE("missing, foreign and unreadable identity files get clear errors", "[client][unit]") {
  TempDir dir;
  auto missing = load_identity(dir.path() / "nothing-here", pass("p"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == IdentityFileError::missing);
  CHECK_THAT(missing.error().message, Catch::Contains("nothing-here"));

  fs::create_directory(dir.path() / "a-directory");
  auto directory = load_identity(dir.path() / "a-directory", pass("p"));
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().kind == IdentityFileError::unreadable);

  auto rng = rng_from(6);
  const fs::path real = dir.path() / "identity";
  REQUIRE(save_identity(real, Identity::generate(rng), pass("p"), rng, cheap).ok());
  fs::create_symlink(real, dir.path() / "link");
  auto link = load_identity(dir.path() / "link", pass("p"));
  REQUIRE_FALSE(link.ok());
  CHECK(link.error().kind == IdentityFileError::unreadable);

  const fs::path big = dir.path() / "big";
  write_all(big, std::vector<std::uint8_t>(5000, 'x'));
  auto r = load_identity(big, pass("p"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == IdentityFileError::corrupt);
}

TEST_CASE("corrupt identity files are told apart from a wrong passphrase", "[client][unit]") {
  auto rng = rng_from(7);
  const Identity id = Identity::generate(rng);
  auto encoded = encode_identity_file(id, pass("p"), rng, cheap);
  REQUIRE(encoded.ok());
  const std::vector<std::uint8_t> good = *encoded;
  REQUIRE(good.size() == identity_file_bytes);
  REQUIRE(decode_identity_file(good, pass("p")).ok());

  CHECK(decode_error({}, "p") == IdentityFileError::corrupt);
  CHECK(decode_error({good.begin(), good.begin() + 18}, "p") == IdentityFileError::corrupt);
  CHECK(decode_error({good.begin(), good.end() - 1}, "p") == IdentityFileError::corrupt);
  auto longer = good;
  longer.push_back(0);
  CHECK(decode_error(longer, "p") == IdentityFileError::corrupt);

  auto bad = good;
  bad[0] = 'N';
  CHECK(decode_error(bad, "p") == IdentityFileError::corrupt);
  bad = good;
  bad[18] = 2;
  auto v2 = decode_identity_file(bad, pass("p"));
  REQUIRE_FALSE(v2.ok());
  CHECK(v2.error().kind == IdentityFileError::unknown_version);
  CHECK_THAT(v2.error().message, Catch::Contains("version 2"));
  // A version-2 file of another length is still "unknown version".
  bad.resize(300);
  CHECK(decode_error(bad, "p") == IdentityFileError::unknown_version);
  bad = good;
  bad[19] = 1;  // Argon2i
  CHECK(decode_error(bad, "p") == IdentityFileError::corrupt);
  bad = good;
  store_u64(&bad[28], max_memlimit + 1);
  CHECK(decode_error(bad, "p") == IdentityFileError::corrupt);
  bad = good;
  store_u64(&bad[20], 0);
  CHECK(decode_error(bad, "p") == IdentityFileError::corrupt);
}

TEST_CASE("a flipped bit anywhere in an identity file is refused", "[client][unit]") {
  auto rng = rng_from(8);
  const Identity id = Identity::generate(rng);
  auto good = encode_identity_file(id, pass("p"), rng, cheap);
  REQUIRE(good.ok());
  for (std::size_t i = 0; i < good->size(); ++i) {
    auto bad = *good;
    bad[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    auto r = decode_identity_file(bad, pass("p"));
    REQUIRE_FALSE(r.ok());
    INFO("byte " << i);
    if (i < 18 || i == 19)
      CHECK(r.error().kind == IdentityFileError::corrupt);
    else if (i == 18)
      CHECK(r.error().kind == IdentityFileError::unknown_version);
    else if (i >= 36)  // salt, nonce, key, ciphertext: only the AEAD can tell
      CHECK(r.error().kind == IdentityFileError::wrong_passphrase);
    else  // limits: out of range, or in range and then the AEAD fails
      CHECK((r.error().kind == IdentityFileError::corrupt ||
             r.error().kind == IdentityFileError::wrong_passphrase));
  }
}

TEST_CASE("limits outside the accepted range are refused when saving", "[client][unit]") {
  auto rng = rng_from(9);
  const Identity id = Identity::generate(rng);
  KdfLimits too_much;
  too_much.memlimit = max_memlimit * 2;
  auto r = encode_identity_file(id, pass("p"), rng, too_much);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == IdentityFileError::kdf_failed);
}
