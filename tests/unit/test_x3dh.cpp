// Prekey bundles and the X3DH-style agreement (client/x3dh.hpp): both sides
// derive the same ratchet inputs, with and without a one-time prekey, and a
// ratchet started from them works; bad signatures and keys are refused; the
// bundle's encoding is canonical. Real libsodium.
#include <catch2/catch.hpp>

#include "client/ratchet.hpp"
#include "client/x3dh.hpp"

using namespace nightjar;
using namespace nightjar::client;

namespace {

struct Account {
  Ed25519KeyPair ed = crypto::ed25519_generate();
  X25519SecretKey dh = crypto::ed25519_to_x25519(ed.sec);
};

struct Published {
  PrekeyBundle bundle;
  X25519KeyPair spk;
  std::vector<X25519KeyPair> one_time;
};

Published publish(const Account& bob, std::size_t one_time) {
  Published p;
  p.spk = crypto::x25519_generate();
  p.bundle.account = bob.ed.pub;
  p.bundle.signed_prekey = sign_prekey(bob.ed.pub, bob.ed.sec, 7, p.spk.pub, 1'800'000'000'000);
  for (std::size_t i = 0; i < one_time; ++i) {
    p.one_time.push_back(crypto::x25519_generate());
    p.bundle.one_time.push_back(OneTimePrekey{static_cast<std::uint32_t>(100 + i), p.one_time.back().pub});
  }
  return p;
}

bool same(const SymmetricKey& a, const SymmetricKey& b) { return crypto::equal(a.view(), b.view()); }

}  // namespace

TEST_CASE("X3DH: both sides derive the same keys, and a ratchet started from them works", "[x3dh]") {
  Account alice, bob;
  auto pub = publish(bob, 3);
  REQUIRE(verify(pub.bundle));
  for (std::optional<std::size_t> otk : {std::optional<std::size_t>{}, std::optional<std::size_t>{2}}) {
    INFO("one-time prekey: " << (otk ? "yes" : "no"));
    auto start = x3dh_initiate(alice.ed.pub, alice.dh, pub.bundle, otk);
    REQUIRE(start.ok());
    CHECK(start->signed_prekey_id == 7);
    CHECK(start->one_time_prekey_id == (otk ? std::optional<std::uint32_t>(102) : std::nullopt));
    auto keys = x3dh_respond(bob.ed.pub, bob.dh, pub.spk.sec, otk ? &pub.one_time[*otk].sec : nullptr,
                             alice.ed.pub, start->ephemeral);
    REQUIRE(keys.ok());
    CHECK(same(keys->shared, start->keys.shared));
    CHECK(same(keys->header_key_a, start->keys.header_key_a));
    CHECK(same(keys->next_header_key_b, start->keys.next_header_key_b));
    CHECK(keys->ad == start->keys.ad);
    CHECK(keys->ad.size() == 64);
    CHECK_FALSE(same(keys->shared, keys->header_key_a));

    auto a = Ratchet::initiator(start->keys.shared, start->keys.header_key_a,
                                start->keys.next_header_key_b, pub.bundle.signed_prekey.key);
    X25519KeyPair spk_copy{pub.spk.pub, X25519SecretKey::from(pub.spk.sec.view())};
    auto b = Ratchet::responder(keys->shared, keys->header_key_a, keys->next_header_key_b,
                                std::move(spk_copy));
    const std::vector<std::uint8_t> hello = {'h', 'i'};
    auto c = a.encrypt(hello, start->keys.ad);
    REQUIRE(c.ok());
    auto p = b.decrypt(*c, keys->ad, 1);
    REQUIRE(p.ok());
    CHECK(*p == hello);
  }
}

TEST_CASE("X3DH: the two sides disagree when the one-time prekey does not match", "[x3dh]") {
  Account alice, bob;
  auto pub = publish(bob, 2);
  auto start = x3dh_initiate(alice.ed.pub, alice.dh, pub.bundle, 0);
  REQUIRE(start.ok());
  auto without = x3dh_respond(bob.ed.pub, bob.dh, pub.spk.sec, nullptr, alice.ed.pub, start->ephemeral);
  REQUIRE(without.ok());
  CHECK_FALSE(same(without->shared, start->keys.shared));
  auto other = x3dh_respond(bob.ed.pub, bob.dh, pub.spk.sec, &pub.one_time[1].sec, alice.ed.pub,
                            start->ephemeral);
  REQUIRE(other.ok());
  CHECK_FALSE(same(other->shared, start->keys.shared));
  // Someone else claiming to be Alice gets other keys too.
  Account mallory;
  auto claimed = x3dh_respond(bob.ed.pub, bob.dh, pub.spk.sec, &pub.one_time[0].sec, mallory.ed.pub,
                              start->ephemeral);
  REQUIRE(claimed.ok());
  CHECK_FALSE(same(claimed->shared, start->keys.shared));
}

TEST_CASE("X3DH: a bundle with a bad signature, a missing prekey or a low-order key is refused", "[x3dh]") {
  Account alice, bob, mallory;
  auto pub = publish(bob, 1);
  SECTION("signed by someone else") {
    pub.bundle.signed_prekey = sign_prekey(bob.ed.pub, mallory.ed.sec, 7, pub.spk.pub, 1);
    CHECK_FALSE(verify(pub.bundle));
    CHECK(x3dh_initiate(alice.ed.pub, alice.dh, pub.bundle).error() == X3dhError::bad_signature);
  }
  SECTION("the prekey swapped after signing") {
    pub.bundle.signed_prekey.key = crypto::x25519_generate().pub;
    CHECK(x3dh_initiate(alice.ed.pub, alice.dh, pub.bundle).error() == X3dhError::bad_signature);
  }
  SECTION("the signing time changed") {
    pub.bundle.signed_prekey.created_ms += 1;
    CHECK(x3dh_initiate(alice.ed.pub, alice.dh, pub.bundle).error() == X3dhError::bad_signature);
  }
  SECTION("a one-time prekey that is not there") {
    CHECK(x3dh_initiate(alice.ed.pub, alice.dh, pub.bundle, 1).error() == X3dhError::no_prekey);
  }
  SECTION("a low-order signed prekey, properly signed") {
    pub.bundle.signed_prekey = sign_prekey(bob.ed.pub, bob.ed.sec, 8, X25519PublicKey{}, 1);
    REQUIRE(verify(pub.bundle));
    CHECK(x3dh_initiate(alice.ed.pub, alice.dh, pub.bundle).error() == X3dhError::bad_key);
  }
  SECTION("a low-order ephemeral key at the responder") {
    CHECK(x3dh_respond(bob.ed.pub, bob.dh, pub.spk.sec, nullptr, alice.ed.pub, X25519PublicKey{}).error() ==
          X3dhError::bad_key);
  }
}

TEST_CASE("Prekey bundles: the documented layout, round trips and refusals", "[x3dh]") {
  Account bob;
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{5}, x3dh::max_one_time_prekeys}) {
    auto pub = publish(bob, n);
    const auto bytes = encode(pub.bundle);
    CHECK(bytes.size() == 143 + 36 * n);
    CHECK(bytes[0] == 1);
    auto back = decode_bundle(bytes);
    REQUIRE(back.ok());
    CHECK(encode(*back) == bytes);
    CHECK(verify(*back));
    for (std::size_t k = 0; k < bytes.size(); k += 5) {
      auto cut = decode_bundle(Bytes(bytes).first(k));
      REQUIRE_FALSE(cut.ok());
      CHECK(cut.error() == WireError::truncated);
    }
    auto longer = bytes;
    longer.push_back(0);
    CHECK(decode_bundle(longer).error() == WireError::trailing_bytes);
    auto bad_version = bytes;
    bad_version[0] = 2;
    CHECK(decode_bundle(bad_version).error() == WireError::bad_value);
  }
  auto pub = publish(bob, 3);
  auto bytes = encode(pub.bundle);
  // IDs out of order, or repeated.
  auto unsorted = bytes;
  std::swap_ranges(unsorted.begin() + 143, unsorted.begin() + 147, unsorted.begin() + 179);
  CHECK(decode_bundle(unsorted).error() == WireError::bad_value);
  auto repeated = bytes;
  std::copy(repeated.begin() + 143, repeated.begin() + 147, repeated.begin() + 179);
  CHECK(decode_bundle(repeated).error() == WireError::bad_value);
  // A count over the limit.
  auto many = bytes;
  many[141] = 0;
  many[142] = 101;
  CHECK(decode_bundle(many).error() == WireError::too_long);
}
