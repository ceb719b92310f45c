// The Double Ratchet with header encryption (client/ratchet.hpp): both
// directions, out of order, the skip bound, replays, forward secrecy,
// post-compromise security, what a stored ciphertext shows, the state's
// encoding. Real libsodium throughout.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "client/ratchet.hpp"
#include "tests/support/ratchet_pair.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::start_ratchets;

namespace {

const std::vector<std::uint8_t> ad = {'a', 'l', 'i', 'c', 'e', '|', 'b', 'o', 'b'};

std::vector<std::uint8_t> text(const std::string& s) { return {s.begin(), s.end()}; }

std::vector<std::uint8_t> seal(Ratchet& r, const std::string& s) {
  auto c = r.encrypt(text(s), ad);
  REQUIRE(c.ok());
  return *c;
}

std::string open(Ratchet& r, const std::vector<std::uint8_t>& c, std::uint64_t now = 1000) {
  auto p = r.decrypt(c, ad, now);
  REQUIRE(p.ok());
  return {p->begin(), p->end()};
}

RatchetError open_fails(Ratchet& r, const std::vector<std::uint8_t>& c) {
  auto p = r.decrypt(c, ad, 1000);
  REQUIRE_FALSE(p.ok());
  return p.error();
}

}  // namespace

TEST_CASE("Ratchet: a conversation in both directions, several turns", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  CHECK(alice.can_send());
  CHECK_FALSE(bob.can_send());
  CHECK(bob.encrypt(text("too early"), ad).error() == RatchetError::not_ready);
  for (int turn = 0; turn < 5; ++turn) {
    for (int i = 0; i < 3; ++i) {
      const std::string m = "alice " + std::to_string(turn) + "." + std::to_string(i);
      CHECK(open(bob, seal(alice, m)) == m);
    }
    const std::string reply = "bob " + std::to_string(turn);
    CHECK(open(alice, seal(bob, reply)) == reply);
  }
  CHECK(alice.skipped_keys() == 0);
  CHECK(bob.skipped_keys() == 0);
}

TEST_CASE("Ratchet: messages out of order, within a chain and across DH steps", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  auto a0 = seal(alice, "a0");
  auto a1 = seal(alice, "a1");
  auto a2 = seal(alice, "a2");
  CHECK(open(bob, a2) == "a2");
  CHECK(bob.skipped_keys() == 2);
  auto b0 = seal(bob, "b0");
  CHECK(open(alice, b0) == "b0");
  auto a3 = seal(alice, "a3");  // a new chain: Alice stepped on b0
  CHECK(open(bob, a3) == "a3");
  // The old chain's messages still open, with the keys kept for them.
  CHECK(open(bob, a0) == "a0");
  CHECK(open(bob, a1) == "a1");
  CHECK(bob.skipped_keys() == 0);
  // The previous chain's remainder is skipped when a step shows its length.
  auto a4 = seal(alice, "a4");
  auto b1 = seal(bob, "b1");
  CHECK(open(alice, b1) == "b1");
  auto a5 = seal(alice, "a5");
  CHECK(open(bob, a5) == "a5");  // a4 was in the previous chain: its key is kept
  CHECK(bob.skipped_keys() == 1);
  CHECK(open(bob, a4) == "a4");
}

TEST_CASE("Ratchet: a replayed message is refused and changes nothing", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  auto a0 = seal(alice, "a0");
  auto a1 = seal(alice, "a1");
  CHECK(open(bob, a1) == "a1");
  CHECK(open(bob, a0) == "a0");
  CHECK(open_fails(bob, a0) == RatchetError::already_opened);
  CHECK(open_fails(bob, a1) == RatchetError::already_opened);
  CHECK(open(bob, seal(alice, "a2")) == "a2");
}

TEST_CASE("Ratchet: more than max_skip skipped is refused, and the state stays usable", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  auto first = seal(alice, "first");
  for (std::uint32_t i = 0; i < ratchet::max_skip; ++i) (void)seal(alice, "lost");
  auto far = seal(alice, "far");  // number max_skip + 1: max_skip + 1 skipped
  CHECK(open_fails(bob, far) == RatchetError::too_many_skipped);
  CHECK(bob.skipped_keys() == 0);
  CHECK(open(bob, first) == "first");
  // Now exactly max_skip lie before it: allowed.
  CHECK(open(bob, far) == "far");
  CHECK(bob.skipped_keys() == ratchet::max_skip);
  // Skipped keys expire.
  CHECK(bob.expire_skipped(1001) == ratchet::max_skip);
  CHECK(bob.skipped_keys() == 0);
}

TEST_CASE("Ratchet: a tampered message or one of another conversation does not open", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  auto other = start_ratchets();
  auto c = seal(alice, "hello");
  for (std::size_t at : {std::size_t{0}, std::size_t{30}, ratchet::encrypted_header_bytes, c.size() - 1}) {
    auto bad = c;
    bad[at] ^= 0x01;
    INFO("byte " << at);
    const auto e = open_fails(bob, bad);
    CHECK((e == RatchetError::unknown_header || e == RatchetError::bad_ciphertext));
  }
  CHECK(open_fails(other.bob, c) == RatchetError::unknown_header);
  CHECK(open_fails(bob, std::vector<std::uint8_t>(ratchet::overhead - 1, 0)) == RatchetError::too_short);
  auto wrong_ad = bob.decrypt(c, text("mallory|bob"), 1000);
  REQUIRE_FALSE(wrong_ad.ok());
  // None of that changed Bob's state.
  CHECK(open(bob, c) == "hello");
}

TEST_CASE("Ratchet: a copy of the state taken after message n opens no earlier message", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  std::vector<std::vector<std::uint8_t>> sent;
  for (int i = 0; i < 6; ++i) sent.push_back(seal(alice, "m" + std::to_string(i)));
  for (int i = 0; i < 4; ++i) CHECK(open(bob, sent[static_cast<std::size_t>(i)]) == "m" + std::to_string(i));
  // The attacker's copy, through the encoding the profile stores.
  auto copy = Ratchet::decode(bob.encode());
  REQUIRE(copy.ok());
  for (int i = 0; i < 4; ++i) CHECK_FALSE(copy->decrypt(sent[static_cast<std::size_t>(i)], ad, 1000).ok());
  // It does open what comes after (that is what a compromise is).
  CHECK(open(*copy, sent[4]) == "m4");
}

TEST_CASE("Ratchet: after the next DH round trip a copy of the state opens nothing new", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  CHECK(open(bob, seal(alice, "m1")) == "m1");
  CHECK(open(alice, seal(bob, "r1")) == "r1");
  Ratchet stolen = bob.clone();  // Bob's state, with his current ratchet key
  auto m2 = seal(alice, "m2");  // Alice's new chain uses Bob's current key: readable
  CHECK(open(stolen, m2) == "m2");
  CHECK(open(bob, m2) == "m2");  // Bob steps: a ratchet key the thief never saw
  CHECK(open(alice, seal(bob, "r2")) == "r2");
  auto m3 = seal(alice, "m3");
  auto e = stolen.decrypt(m3, ad, 1000);
  REQUIRE_FALSE(e.ok());
  // The header key of a chain is derived one DH step before the chain (so
  // that a receiver recognises the next chain): the thief still reads this
  // header (a ratchet key and two counters), not the message.
  CHECK(e.error() == RatchetError::bad_ciphertext);
  CHECK(open(bob, m3) == "m3");
  // One more round trip, and not even the header opens.
  CHECK(open(alice, seal(bob, "r3")) == "r3");
  auto m4 = seal(alice, "m4");
  auto e4 = stolen.decrypt(m4, ad, 1000);
  REQUIRE_FALSE(e4.ok());
  CHECK(e4.error() == RatchetError::unknown_header);
  CHECK(open(bob, m4) == "m4");
}

TEST_CASE("Ratchet: stored ciphertexts of one conversation share no visible field", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  auto c1 = seal(alice, "same text");
  auto c2 = seal(alice, "same text");
  REQUIRE(c1.size() == c2.size());
  CHECK(c1.size() == text("same text").size() + ratchet::overhead);
  // No 8-byte window of one appears in the other, and Alice's ratchet key
  // (in both headers) appears in neither.
  auto contains = [](const std::vector<std::uint8_t>& hay, Bytes needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
  };
  int shared = 0;
  for (std::size_t i = 0; i + 8 <= c1.size(); ++i)
    if (contains(c2, Bytes(c1).subspan(i, 8))) ++shared;
  CHECK(shared == 0);
  const X25519PublicKey key = alice.own_ratchet_key();
  CHECK_FALSE(contains(c1, Bytes(key).first(8)));
  CHECK_FALSE(contains(c2, Bytes(key).first(8)));
  CHECK(open(bob, c2) == "same text");
  CHECK(open(bob, c1) == "same text");
}

TEST_CASE("Ratchet: the state's encoding round-trips and refuses bad bytes", "[ratchet]") {
  auto [alice, bob] = start_ratchets();
  auto a0 = seal(alice, "a0");
  (void)seal(alice, "a1");
  auto a2 = seal(alice, "a2");
  CHECK(open(bob, a2) == "a2");  // two skipped keys in Bob's state
  for (Ratchet* r : {&alice, &bob}) {
    const auto bytes = r->encode();
    auto back = Ratchet::decode(bytes);
    REQUIRE(back.ok());
    CHECK(back->encode() == bytes);
    for (std::size_t n = 0; n < bytes.size(); n += 7)
      CHECK_FALSE(Ratchet::decode(Bytes(bytes).first(n)).ok());
    auto longer = bytes;
    longer.push_back(0);
    CHECK_FALSE(Ratchet::decode(longer).ok());
    auto bad_version = bytes;
    bad_version[0] = 2;
    CHECK_FALSE(Ratchet::decode(bad_version).ok());
    auto bad_flags = bytes;
    bad_flags[1] |= 0x80;
    CHECK_FALSE(Ratchet::decode(bad_flags).ok());
  }
  // A decoded state goes on with the conversation.
  auto bob2 = Ratchet::decode(bob.encode());
  REQUIRE(bob2.ok());
  CHECK(open(*bob2, a0) == "a0");
  CHECK(open(alice, seal(*bob2, "reply")) == "reply");
}
