#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <vector>

#include "routing/key_file.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using nightjar::test::TempDir;
namespace fs = std::filesystem;

namespace {
unsigned mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}
}  // namespace

TEST_CASE("a key file is created on first use with mode 0600 and reused later", "[keyfile]") {
  TempDir dir;
  auto path = dir.path() / "link.key";
  auto first = load_or_create_x25519_key(path);
  REQUIRE(first.ok());
  CHECK(first->created);
  CHECK(mode_of(path) == 0600);
  CHECK(fs::file_size(path) == 26 + 32);
  CHECK_FALSE(fs::exists(path.string() + ".tmp"));

  auto second = load_or_create_x25519_key(path);
  REQUIRE(second.ok());
  CHECK_FALSE(second->created);
  CHECK(second->keys.pub == first->keys.pub);

  auto ed = load_or_create_ed25519_key(dir.path() / "identity.key");
  REQUIRE(ed.ok());
  auto ed2 = load_or_create_ed25519_key(dir.path() / "identity.key");
  REQUIRE(ed2.ok());
  CHECK(ed2->keys.pub == ed->keys.pub);
}

TEST_CASE("a key file readable by group or others is refused", "[keyfile]") {
  TempDir dir;
  auto path = dir.path() / "link.key";
  REQUIRE(load_or_create_x25519_key(path).ok());
  for (unsigned mode : {0640u, 0604u, 0660u, 0644u}) {
    ::chmod(path.c_str(), mode);
    auto r = load_or_create_x25519_key(path);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("readable or writable by group or others"));
    CHECK_THAT(r.error(), Catch::Contains("chmod 600"));
  }
  ::chmod(path.c_str(), 0400);
  CHECK(load_or_create_x25519_key(path).ok());
}

TEST_CASE("corrupt or mismatched key files are refused with a clear message", "[keyfile]") {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& content) {
    auto p = dir.path() / name;
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), 0600);
    return p;
  };
  auto truncated = write("t.key", "nightjar x25519 secret v1\nabc");
  auto r = load_or_create_x25519_key(truncated);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("wrong length"));

  // An ed25519 file where an x25519 key is expected.
  auto other = write("o.key", "nightjar ed25519 seed v1\n" + std::string(32, 'k'));
  auto r2 = load_or_create_x25519_key(other);
  REQUIRE_FALSE(r2.ok());
  CHECK_THAT(r2.error(), Catch::Contains("expected kind"));

  auto big = write("b.key", std::string(1000, 'x'));
  CHECK_FALSE(load_or_create_x25519_key(big).ok());

  fs::create_directory(dir.path() / "d.key");
  CHECK_FALSE(load_or_create_x25519_key(dir.path() / "d.key").ok());

  CHECK_FALSE(load_or_create_x25519_key(dir.path() / "missing-dir" / "k.key").ok());
}

TEST_CASE("parse_key_file checks header and length", "[keyfile]") {
  std::string good = "nightjar x25519 secret v1\n" + std::string(32, '\x01');
  CHECK(parse_key_file(as_bytes(good), "nightjar x25519 secret v1\n").ok());
  CHECK_FALSE(parse_key_file(as_bytes(good + "x"), "nightjar x25519 secret v1\n").ok());
  CHECK_FALSE(parse_key_file(as_bytes(""), "nightjar x25519 secret v1\n").ok());
  CHECK_FALSE(parse_key_file(as_bytes(good), "nightjar ed25519 seed v1\n").ok());
}

TEST_CASE("a cache file is replaced atomically with mode 0600, without syncs", "[keyfile]") {
  TempDir dir;
  auto path = dir.path() / "directory.bin";
  const std::vector<std::uint8_t> first = {1, 2, 3};
  const std::vector<std::uint8_t> second = {4, 5, 6, 7};
  REQUIRE(replace_cache_file(path, first).ok());
  CHECK(mode_of(path) == 0600);
  REQUIRE(replace_cache_file(path, second).ok());
  CHECK_FALSE(fs::exists(path.string() + ".tmp"));
  auto read = read_private_file(path);
  REQUIRE(read.ok());
  CHECK(*read == second);
}
