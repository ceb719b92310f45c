// ConversationStore (client/conversation_store.hpp): conversation states saved
// encrypted under the profile, on the real file system; a crash mid-write
// leaves the previous state; a file moved to another peer's name or another
// profile does not open; the names reveal no contact.
#include <catch2/catch.hpp>

#include <fstream>

#include "client/conversation_store.hpp"
#include "routing/key_file.hpp"
#include "routing/random_source.hpp"
#include "tests/support/conversation_pair.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::TempDir;

using nightjar::test::ConversationPair;

TEST_CASE("ConversationStore: a saved state loads and goes on with the conversation", "[conversation]") {
  TempDir dir;
  ConversationPair p;
  const auto& peer = p.alice.account();
  ConversationStore store(dir / "conversations", p.bob);
  auto none = store.load(peer);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  auto m1 = p.alice_sends("one");
  auto m2 = p.alice_sends("two");
  REQUIRE(p.bob_opens(*m2).ok());  // m1's key is kept, skipped
  REQUIRE(store.save(p.at_bob).ok());
  auto loaded = store.load(peer);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->encode() == p.at_bob.encode());
  auto p1 = ConversationPair::open_at(p.bob, p.bob_prekeys, **loaded, *m1, p.now);
  REQUIRE(p1.ok());
  CHECK(ConversationPair::text_of(*p1) == "one");

  // The file's name is no function of the peer anyone else can compute, and
  // its bytes hold no key of the state in clear.
  const auto path = store.file_of(peer);
  CHECK(path.filename().string().find(peer.hex().substr(0, 8)) == std::string::npos);
  auto file = read_private_file(path);
  REQUIRE(file.ok());
  const std::vector<std::uint8_t>& raw = *file;
  const auto own_key = p.at_bob.active()->ratchet.own_ratchet_key();
  CHECK(std::search(raw.begin(), raw.end(), own_key.bytes.begin(), own_key.bytes.end()) == raw.end());

  REQUIRE(store.remove(peer).ok());
  auto gone = store.load(peer);
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
}

TEST_CASE("ConversationStore: a crash mid-write leaves the previous state", "[conversation]") {
  TempDir dir;
  ConversationPair p;
  const auto& peer = p.alice.account();
  ConversationStore store(dir / "c", p.bob);
  REQUIRE(p.bob_opens(*p.alice_sends("x")).ok());
  REQUIRE(store.save(p.at_bob).ok());
  const auto saved = p.at_bob.encode();
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
  REQUIRE(p.bob_opens(*p.alice_sends("y")).ok());
  REQUIRE(store.save(p.at_bob).ok());
  auto again = store.load(peer);
  REQUIRE(again.ok());
  CHECK((*again)->encode() == p.at_bob.encode());
}

TEST_CASE("ConversationStore: a file under another peer's name, another profile's or damaged does not open",
          "[conversation]") {
  TempDir dir;
  ConversationPair p;
  SystemRandom rng;
  const auto someone_else = Identity::generate(rng);
  const auto& peer = p.alice.account();
  const auto other_peer = crypto::ed25519_generate().pub;
  ConversationStore store(dir / "c", p.bob);
  REQUIRE(p.bob_opens(*p.alice_sends("x")).ok());
  REQUIRE(store.save(p.at_bob).ok());
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
