// Envelopes (client/envelope.hpp): round trips at every bucket boundary, the
// exact sizes, the documented layout (checked with raw libsodium calls), and
// every class of bad envelope: tampering, truncation, wrong recipient,
// re-targeting, bad padding and bad fragment fields.
#include <sodium.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "client/envelope.hpp"
#include "routing/wire.hpp"

using namespace nightjar;
using namespace nightjar::client;
namespace layers = nightjar::client::envelope_layers;

namespace {

DeterministicRandom rng_from(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(b);
  return DeterministicRandom(seed);
}

Identity identity_from(std::uint8_t b) {
  auto rng = rng_from(static_cast<std::uint8_t>(0x80 | b));
  return Identity::generate(rng);
}

std::vector<std::uint8_t> body_of(std::size_t n, std::uint8_t salt = 0) {
  std::vector<std::uint8_t> body(n);
  for (std::size_t i = 0; i < n; ++i)
    body[i] = static_cast<std::uint8_t>(i * 13 + salt + 1);
  return body;
}

Message message_with(Bytes body, std::uint16_t index = 0, std::uint16_t count = 1) {
  Message m;
  m.timestamp_ms = 1'700'000'000'123;
  for (std::size_t i = 0; i < m.message_id.size(); ++i)
    m.message_id.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
  m.index = index;
  m.count = count;
  m.body = body;
  return m;
}

OpenError open_error(const Identity& recipient, Bytes envelope) {
  auto r = open(recipient, envelope);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

const Identity& alice() {
  static const Identity id = identity_from(1);
  return id;
}
const Identity& bob() {
  static const Identity id = identity_from(2);
  return id;
}
const Identity& carol() {
  static const Identity id = identity_from(3);
  return id;
}

}  // namespace

TEST_CASE("envelope sizes: overhead, capacity and buckets", "[client][unit]") {
  CHECK(envelope_overhead == 175);
  CHECK(fragment_capacity(440) == 265);
  CHECK(envelope_buckets(440) == std::array<std::size_t, 3>{241, 307, 440});
  CHECK(fragment_capacity(min_max_body_bytes) == 16);
  CHECK(envelope_buckets(min_max_body_bytes) == std::array<std::size_t, 3>{179, 182, 191});
  CHECK(fragment_capacity(min_max_body_bytes - 1) == 0);
  CHECK(envelope_buckets(0) == std::array<std::size_t, 3>{0, 0, 0});
  CHECK(fragment_capacity(65535) == 65535 - 175);
}

TEST_CASE("envelopes round-trip at every bucket boundary", "[client][unit]") {
  for (std::uint32_t max_body : {min_max_body_bytes, 440u, 1000u, 65535u}) {
    const auto buckets = envelope_buckets(max_body);
    const std::size_t c = fragment_capacity(max_body);
    std::vector<std::size_t> sizes = {0, 1, c};
    for (std::size_t b : buckets) {
      const std::size_t room = b - envelope_overhead;
      sizes.push_back(room);
      if (room > 0) sizes.push_back(room - 1);
      if (room < c) sizes.push_back(room + 1);
    }
    auto rng = rng_from(10);
    for (std::size_t n : sizes) {
      INFO("max_body " << max_body << " body " << n);
      const auto body = body_of(n);
      const Message m = message_with(body, 2, 5);
      auto sealed = seal(alice(), bob().account(), m, max_body, rng);
      REQUIRE(sealed.ok());
      // The smallest bucket that holds the body.
      std::size_t expected = 0;
      for (std::size_t b : buckets)
        if (expected == 0 && b >= envelope_overhead + n) expected = b;
      CHECK(sealed->size() == expected);
      CHECK(sealed->size() <= max_body);

      auto opened = open(bob(), *sealed);
      REQUIRE(opened.ok());
      CHECK(opened->sender == alice().account());
      CHECK(opened->timestamp_ms == m.timestamp_ms);
      CHECK(opened->message_id == m.message_id);
      CHECK(opened->index == 2);
      CHECK(opened->count == 5);
      CHECK(opened->body == body);
    }
  }
}

TEST_CASE("every envelope is exactly one of the three bucket sizes", "[client][unit]") {
  auto rng = rng_from(11);
  const auto buckets = envelope_buckets(440);
  for (std::size_t n = 0; n <= fragment_capacity(440); ++n) {
    const auto body = body_of(n);
    auto sealed = seal(alice(), bob().account(), message_with(body), 440, rng);
    REQUIRE(sealed.ok());
    CHECK((sealed->size() == buckets[0] || sealed->size() == buckets[1] ||
           sealed->size() == buckets[2]));
  }
}

TEST_CASE("seal refuses what cannot be sealed", "[client][unit]") {
  auto rng = rng_from(12);
  const auto big = body_of(fragment_capacity(440) + 1);
  auto r = seal(alice(), bob().account(), message_with(big), 440, rng);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == SealError::body_too_large);

  const auto small = body_of(1);
  r = seal(alice(), bob().account(), message_with(small), min_max_body_bytes - 1, rng);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == SealError::body_limit_too_small);

  for (auto [index, count] : {std::pair<int, int>{0, 0}, {1, 1}, {5, 5}, {0, max_fragments + 1}}) {
    r = seal(
        alice(), bob().account(),
        message_with(small, static_cast<std::uint16_t>(index), static_cast<std::uint16_t>(count)),
        440, rng);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == SealError::bad_fragment);
  }
  CHECK(seal(alice(), bob().account(),
             message_with(small, static_cast<std::uint16_t>(max_fragments - 1), max_fragments), 440,
             rng)
            .ok());

  AccountKey not_a_key;  // all zero: small order, no X25519 form
  r = seal(alice(), not_a_key, message_with(small), 440, rng);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == SealError::bad_recipient_key);
}

TEST_CASE("sealing is deterministic given the random source", "[client][unit]") {
  const auto body = body_of(40);
  auto rng1 = rng_from(13);
  auto rng2 = rng_from(13);
  auto rng3 = rng_from(14);
  auto a = seal(alice(), bob().account(), message_with(body), 440, rng1);
  auto b = seal(alice(), bob().account(), message_with(body), 440, rng2);
  auto c = seal(alice(), bob().account(), message_with(body), 440, rng3);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(*a == *b);
  CHECK_FALSE(*a == *c);
  // Same plaintext, fresh ephemeral key: nothing in common after the version.
  std::size_t same = 0;
  for (std::size_t i = 1; i < a->size(); ++i)
    same += (*a)[i] == (*c)[i];
  CHECK(same < 20);
}

TEST_CASE("a converted recipient key seals the same envelope", "[client][unit]") {
  const auto body = body_of(40);
  auto key = seal_key(bob().account());
  REQUIRE(key.ok());
  CHECK(key->account == bob().account());
  CHECK(key->x25519 == bob().x25519_public());
  auto rng1 = rng_from(16);
  auto rng2 = rng_from(16);
  auto a = seal(alice(), bob().account(), message_with(body), 440, rng1);
  auto b = seal(alice(), *key, message_with(body), 440, rng2);
  REQUIRE((a.ok() && b.ok()));
  CHECK(*a == *b);
  auto opened = open(bob(), *b);
  REQUIRE(opened.ok());
  CHECK(opened->sender == alice().account());
  CHECK(opened->body == body);

  AccountKey not_a_key;  // all zero: small order, no X25519 form
  auto bad = seal_key(not_a_key);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == SealError::bad_recipient_key);
  // A message that cannot be sealed says so whatever its recipient.
  auto rng3 = rng_from(17);
  auto r = seal(alice(), not_a_key, message_with(body, 0, 0), 440, rng3);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == SealError::bad_fragment);
}

TEST_CASE("the envelope layout is the documented one", "[client][unit]") {
  // Opens an envelope with raw libsodium calls, following docs/ENVELOPE.md.
  auto rng = rng_from(15);
  const auto body = body_of(30);
  auto sealed = seal(alice(), bob().account(), message_with(body, 1, 3), 440, rng);
  REQUIRE(sealed.ok());
  const std::vector<std::uint8_t>& env = *sealed;
  REQUIRE(env.size() == 241);
  CHECK(env[0] == 1);

  std::uint8_t dh[32];
  REQUIRE(crypto_scalarmult(dh, bob().x25519_secret().data(), &env[1]) == 0);
  std::string kdf_input = "nightjar envelope key v1";
  kdf_input.append(reinterpret_cast<const char*>(&env[1]), 32);
  kdf_input.append(reinterpret_cast<const char*>(bob().x25519_public().data()), 32);
  kdf_input.append(reinterpret_cast<const char*>(bob().account().data()), 32);
  std::uint8_t okm[64];
  crypto_generichash(okm, 64, reinterpret_cast<const std::uint8_t*>(kdf_input.data()),
                     kdf_input.size(), dh, 32);
  std::vector<std::uint8_t> inner(env.size() - 49);
  unsigned long long inner_len = 0;
  REQUIRE(crypto_aead_xchacha20poly1305_ietf_decrypt(inner.data(), &inner_len, nullptr, &env[33],
                                                     env.size() - 33, env.data(), 33, okm + 32,
                                                     okm) == 0);
  REQUIRE(inner_len == 192);
  CHECK(std::equal(inner.begin(), inner.begin() + 32, alice().account().bytes.begin()));
  CHECK(load_u64(&inner[96]) == 1'700'000'000'123);
  CHECK(inner[104] == 0xa0);
  CHECK(load_u16(&inner[120]) == 1);
  CHECK(load_u16(&inner[122]) == 3);
  CHECK(load_u16(&inner[124]) == 30);
  CHECK(std::equal(body.begin(), body.end(), inner.begin() + 126));
  for (std::size_t i = 126 + 30; i < inner.size(); ++i)
    CHECK(inner[i] == 0);

  std::string signed_message = "nightjar envelope signature v1";
  signed_message.append(reinterpret_cast<const char*>(bob().account().data()), 32);
  signed_message.append(reinterpret_cast<const char*>(inner.data()), 32);
  signed_message.append(reinterpret_cast<const char*>(inner.data() + 96), inner.size() - 96);
  CHECK(crypto_sign_verify_detached(&inner[32],
                                    reinterpret_cast<const std::uint8_t*>(signed_message.data()),
                                    signed_message.size(), alice().account().data()) == 0);
}

TEST_CASE("a changed byte anywhere in an envelope is rejected", "[client][unit]") {
  auto rng = rng_from(16);
  const auto body = body_of(fragment_capacity(440));
  auto sealed = seal(alice(), bob().account(), message_with(body), 440, rng);
  REQUIRE(sealed.ok());
  REQUIRE(sealed->size() == 440);
  for (std::size_t i = 0; i < sealed->size(); ++i) {
    for (std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      auto bad = *sealed;
      bad[i] ^= flip;
      INFO("byte " << i << " flip " << int(flip));
      CHECK(open_error(bob(), bad) ==
            (i == 0 ? OpenError::bad_version : OpenError::decryption_failed));
    }
  }
}

TEST_CASE("truncated, extended and foreign envelopes are rejected", "[client][unit]") {
  auto rng = rng_from(17);
  const auto body = body_of(10);
  auto sealed = seal(alice(), bob().account(), message_with(body), 440, rng);
  REQUIRE(sealed.ok());
  CHECK(open_error(bob(), {}) == OpenError::malformed);
  for (std::size_t n = 1; n < sealed->size(); ++n) {
    const OpenError e = open_error(bob(), Bytes(*sealed).first(n));
    CHECK((n < envelope_overhead ? e == OpenError::malformed : e == OpenError::decryption_failed));
  }
  auto longer = *sealed;
  longer.push_back(0);
  CHECK(open_error(bob(), longer) == OpenError::decryption_failed);
  std::vector<std::uint8_t> huge(max_envelope_bytes + 1, 0);
  huge[0] = envelope_version;
  CHECK(open_error(bob(), huge) == OpenError::malformed);

  auto v2 = *sealed;
  v2[0] = 2;
  CHECK(open_error(bob(), v2) == OpenError::bad_version);
  CHECK(open_error(bob(), Bytes(v2).first(1)) == OpenError::bad_version);

  // A low-order ephemeral key (all zero) cannot even be exchanged with.
  auto zero_e = *sealed;
  std::fill(zero_e.begin() + 1, zero_e.begin() + 33, 0);
  CHECK(open_error(bob(), zero_e) == OpenError::decryption_failed);
}

TEST_CASE("only the recipient can open an envelope", "[client][unit]") {
  auto rng = rng_from(18);
  const auto body = body_of(50);
  auto sealed = seal(alice(), bob().account(), message_with(body), 440, rng);
  REQUIRE(sealed.ok());
  CHECK(open_error(carol(), *sealed) == OpenError::decryption_failed);
  CHECK(open_error(alice(), *sealed) == OpenError::decryption_failed);
  CHECK(open(bob(), *sealed).ok());
}

TEST_CASE("a re-targeted envelope fails the sender's signature", "[client][unit]") {
  // Bob decrypts Alice's envelope and re-encrypts the inner bytes, unchanged,
  // to Carol, hoping Carol believes Alice wrote to her.
  auto rng = rng_from(19);
  const auto body = body_of(50);
  auto sealed = seal(alice(), bob().account(), message_with(body), 440, rng);
  REQUIRE(sealed.ok());
  auto inner = layers::decrypt_inner(bob(), *sealed);
  REQUIRE(inner.ok());
  auto forwarded = layers::encrypt_inner(carol().account(), *inner, rng);
  REQUIRE(forwarded.ok());
  CHECK(forwarded->size() == sealed->size());
  CHECK(open_error(carol(), *forwarded) == OpenError::bad_signature);

  // Claiming another sender fails too.
  auto claimed = *inner;
  std::copy(carol().account().bytes.begin(), carol().account().bytes.end(), claimed.begin());
  auto resealed = layers::encrypt_inner(bob().account(), claimed, rng);
  REQUIRE(resealed.ok());
  CHECK(open_error(bob(), *resealed) == OpenError::bad_signature);

  // A signed inner with a changed field.
  auto changed = *inner;
  changed[100] ^= 1;  // timestamp
  resealed = layers::encrypt_inner(bob().account(), changed, rng);
  REQUIRE(resealed.ok());
  CHECK(open_error(bob(), *resealed) == OpenError::bad_signature);
}

TEST_CASE("bad padding and bad fragment fields are rejected", "[client][unit]") {
  auto rng = rng_from(20);
  const auto body = body_of(20);
  const auto inner = layers::encode_inner(alice(), bob().account(), message_with(body), 192);
  REQUIRE(layers::decode_inner(bob().account(), inner).ok());

  auto reseal_open = [&](std::vector<std::uint8_t> in, bool resign) {
    if (resign) layers::sign_inner(alice(), bob().account(), in);
    auto env = layers::encrypt_inner(bob().account(), in, rng);
    REQUIRE(env.ok());
    return open(bob(), *env);
  };

  auto bad = inner;
  store_u16(&bad[124], static_cast<std::uint16_t>(192 - 126 + 1));  // past the end
  auto r = reseal_open(bad, true);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == OpenError::bad_padding);
  bad = inner;
  store_u16(&bad[124], 192 - 126);  // exactly to the end: padding is empty, so fine
  CHECK(reseal_open(bad, true).ok());
  bad = inner;
  bad[191] = 1;  // non-zero padding
  r = reseal_open(bad, true);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == OpenError::bad_padding);

  for (auto [index, count] :
       {std::pair<int, int>{0, 0}, {3, 3}, {7, 2}, {0, max_fragments + 1}, {0, 65535}}) {
    bad = inner;
    store_u16(&bad[120], static_cast<std::uint16_t>(index));
    store_u16(&bad[122], static_cast<std::uint16_t>(count));
    r = reseal_open(bad, true);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == OpenError::bad_fragment);
    // Without a fresh signature the same change is a bad signature.
    r = reseal_open(bad, false);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == OpenError::bad_signature);
  }

  CHECK(layers::decode_inner(bob().account(), Bytes(inner).first(125)).error() ==
        OpenError::malformed);
}
