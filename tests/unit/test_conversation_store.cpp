// ConversationStore (client/conversation_store.hpp): ratchet states saved
// encrypted under the profile, on the real file system; a crash mid-write
// leaves the previous state; a file moved to another peer's name or another
// profile does not open; the names reveal no contact.
#include <catch2/catch.hpp>

#include <fstream>

#include "client/conversation_store.hpp"
#include "routing/key_file.hpp"
#include "routing/random_source.hpp"
#include "tests/support/ratchet_pair.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::TempDir;

namespace {

const std::vector<std::uint8_t> ad = {'a', 'd'};

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("ConversationStore: a saved state loads and goes on with the conversation", "[conversation]") {
  TempDir dir;
  SystemRandom rng;
  const auto me = Identity::generate(rng);
  const auto peer = crypto::ed25519_generate().pub;
  ConversationStore store(dir / "conversations", me);
  auto none = store.load(peer);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  auto [alice, bob] = nightjar::test::start_ratchets();
  auto m1 = alice.encrypt(bytes_of("one"), ad);
  auto m2 = alice.encrypt(bytes_of("two"), ad);
  REQUIRE(bob.decrypt(*m2, ad, 1).ok());  // m1's key is kept, skipped
  REQUIRE(store.save(peer, bob).ok());
  auto loaded = store.load(peer);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->encode() == bob.encode());
  auto p1 = (*loaded)->decrypt(*m1, ad, 2);
  REQUIRE(p1.ok());
  CHECK(*p1 == bytes_of("one"));

  // The file's name is no function of the peer anyone else can compute, and
  // its bytes hold no key of the state in clear.
  const auto path = store.file_of(peer);
  CHECK(path.filename().string().find(peer.hex().substr(0, 8)) == std::string::npos);
  auto file = read_private_file(path);
  REQUIRE(file.ok());
  const std::vector<std::uint8_t>& raw = *file;
  const auto own_key = bob.own_ratchet_key();
  CHECK(std::search(raw.begin(), raw.end(), own_key.bytes.begin(), own_key.bytes.end()) == raw.end());

  REQUIRE(store.remove(peer).ok());
  auto gone = store.load(peer);
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
}

TEST_CASE("ConversationStore: a crash mid-write leaves the previous state", "[conversation]") {
  TempDir dir;
  SystemRandom rng;
  const auto me = Identity::generate(rng);
  const auto peer = crypto::ed25519_generate().pub;
  ConversationStore store(dir / "c", me);
  auto [alice, bob] = nightjar::test::start_ratchets();
  REQUIRE(bob.decrypt(*alice.encrypt(bytes_of("x"), ad), ad, 1).ok());
  REQUIRE(store.save(peer, bob).ok());
  const auto saved = bob.encode();
  // What a crash between writing the temporary file and renaming it leaves.
  {
    std::ofstream tmp(store.file_of(peer).string() + ".tmp", std::ios::binary);
    tmp << "half a state";
  }
  auto loaded = store.load(peer);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->encode() == saved);
  // The next save replaces it whole.
  REQUIRE(bob.decrypt(*alice.encrypt(bytes_of("y"), ad), ad, 2).ok());
  REQUIRE(store.save(peer, bob).ok());
  auto again = store.load(peer);
  REQUIRE(again.ok());
  CHECK((*again)->encode() == bob.encode());
}

TEST_CASE("ConversationStore: a file under another peer's name, another profile's or damaged does not open",
          "[conversation]") {
  TempDir dir;
  SystemRandom rng;
  const auto me = Identity::generate(rng);
  const auto someone_else = Identity::generate(rng);
  const auto peer = crypto::ed25519_generate().pub;
  const auto other_peer = crypto::ed25519_generate().pub;
  ConversationStore store(dir / "c", me);
  auto [alice, bob] = nightjar::test::start_ratchets();
  REQUIRE(store.save(peer, bob).ok());
  CHECK_FALSE(store.file_of(peer) == store.file_of(other_peer));

  // Copied to another peer's name.
  std::filesystem::copy_file(store.file_of(peer), store.file_of(other_peer));
  std::filesystem::permissions(store.file_of(other_peer), std::filesystem::perms::owner_read |
                                                              std::filesystem::perms::owner_write);
  CHECK_FALSE(store.load(other_peer).ok());

  // Another profile, in the same folder, with the file under its name.
  ConversationStore theirs(dir / "c", someone_else);
  std::filesystem::copy_file(store.file_of(peer), theirs.file_of(peer));
  CHECK_FALSE(theirs.load(peer).ok());

  // One flipped byte anywhere.
  const auto path = store.file_of(peer);
  auto file = read_private_file(path);
  REQUIRE(file.ok());
  const std::vector<std::uint8_t> raw = *file;
  for (std::size_t at : {std::size_t{0}, std::size_t{10}, raw.size() / 2, raw.size() - 1}) {
    auto bad = raw;
    bad[at] ^= 0x40;
    {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
    }
    INFO("byte " << at);
    CHECK_FALSE(store.load(peer).ok());
  }
}
