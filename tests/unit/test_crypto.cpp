// Known-answer tests of the crypto core (routing/crypto.hpp) against the
// published vectors, plus the negative cases (tampering, low-order points) and
// compile-time checks of the typed keys.
//
// Sources of the vectors:
//   RFC 7748 section 5.2 and 6.1 (X25519), RFC 8032 section 7.1 (Ed25519),
//   draft-irtf-cfrg-xchacha-03 appendix A.3.1 (XChaCha20-Poly1305),
//   RFC 7693 appendix A (BLAKE2b-512) and the BLAKE2 reference KAT file
//   (keyed BLAKE2b-512, key 00..3f, empty message).
#include <sodium.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"

using nightjar::Bytes;
using nightjar::CryptoError;
using nightjar::Ed25519PublicKey;
using nightjar::Ed25519SecretKey;
using nightjar::Ed25519Seed;
using nightjar::Ed25519Signature;
using nightjar::Hash256;
using nightjar::Hash512;
using nightjar::SharedSecret;
using nightjar::SymmetricKey;
using nightjar::to_hex;
using nightjar::X25519PublicKey;
using nightjar::X25519SecretKey;
namespace crypto = nightjar::crypto;

namespace {

std::vector<std::uint8_t> hex_bytes(std::string_view hex) {
  REQUIRE(hex.size() % 2 == 0);
  std::vector<std::uint8_t> out(hex.size() / 2);
  REQUIRE(nightjar::from_hex(hex, out));
  return out;
}

// Decodes into any FixedBytes or Secret type.
template <class T>
T hex_as(std::string_view hex) {
  T t;
  REQUIRE(nightjar::from_hex(hex, t.mutable_view()));
  return t;
}

// ---------------------------------------------------------------------------
// Type safety, checked at compile time.

static_assert(!std::is_same_v<Ed25519PublicKey, X25519PublicKey>);
static_assert(!std::is_convertible_v<Ed25519PublicKey, X25519PublicKey>);
static_assert(!std::is_convertible_v<X25519PublicKey, Ed25519PublicKey>);
static_assert(!std::is_constructible_v<X25519PublicKey, Ed25519PublicKey>);
static_assert(!std::is_constructible_v<Ed25519PublicKey, X25519PublicKey>);
static_assert(!std::is_assignable_v<X25519PublicKey&, Ed25519PublicKey>);
static_assert(!std::is_assignable_v<Ed25519PublicKey&, X25519PublicKey>);
static_assert(!std::is_convertible_v<Hash256, X25519PublicKey>);
static_assert(!std::is_convertible_v<X25519SecretKey, SymmetricKey>);
static_assert(!std::is_convertible_v<SharedSecret, SymmetricKey>);
static_assert(!std::is_convertible_v<SymmetricKey, SharedSecret>);

// The crypto API only takes the right kind of key.
template <class K>
concept verifies_with = requires(const K& k, Bytes m, const Ed25519Signature& s) {
  crypto::verify(k, m, s);
};
static_assert(verifies_with<Ed25519PublicKey>);
static_assert(!verifies_with<X25519PublicKey>);
template <class K>
concept dh_peer = requires(const X25519SecretKey& sec, const K& peer) {
  crypto::x25519(sec, peer);
};
static_assert(dh_peer<X25519PublicKey>);
static_assert(!dh_peer<Ed25519PublicKey>);

// Secrets: move-only, no implicit byte view.
template <class S>
constexpr bool move_only_secret =
    !std::is_copy_constructible_v<S> && !std::is_copy_assignable_v<S> &&
    std::is_nothrow_move_constructible_v<S> && std::is_nothrow_move_assignable_v<S> &&
    !std::is_convertible_v<S, Bytes> && !std::is_convertible_v<const S&, Bytes>;
static_assert(move_only_secret<X25519SecretKey>);
static_assert(move_only_secret<Ed25519SecretKey>);
static_assert(move_only_secret<Ed25519Seed>);
static_assert(move_only_secret<SharedSecret>);
static_assert(move_only_secret<SymmetricKey>);
// Public values are copyable and view as bytes.
static_assert(std::is_copy_constructible_v<X25519PublicKey>);
static_assert(std::is_convertible_v<const X25519PublicKey&, Bytes>);

// ---------------------------------------------------------------------------
// RFC 7748 section 5.2.

struct X25519Vector {
  const char* scalar;
  const char* u;
  const char* out;
};
constexpr X25519Vector rfc7748_vectors[] = {
    {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
    // The u-coordinate has bit 255 set; X25519 must ignore it.
    {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
};

std::string x25519_hex(std::string_view scalar, std::string_view u) {
  const auto sec = hex_as<X25519SecretKey>(scalar);
  const auto pub = hex_as<X25519PublicKey>(u);
  auto r = crypto::x25519(sec, pub);
  REQUIRE(r.ok());
  return to_hex(r->view());
}

}  // namespace

TEST_CASE("X25519: RFC 7748 section 5.2 test vectors", "[crypto]") {
  for (const auto& v : rfc7748_vectors) {
    CAPTURE(v.scalar);
    CHECK(x25519_hex(v.scalar, v.u) == v.out);
  }
}

TEST_CASE("X25519: RFC 7748 section 5.2 iterated test, 1 and 1,000 iterations", "[crypto]") {
  // k = u = 9; each round: k' = X25519(k, u), u' = k.
  std::array<std::uint8_t, 32> k{9};
  std::array<std::uint8_t, 32> u{9};
  int failures = 0;
  for (int i = 1; i <= 1000; ++i) {
    const auto sec = X25519SecretKey::from(k);
    const auto pub = X25519PublicKey::from(u);
    auto r = crypto::x25519(sec, pub);
    if (!r) {
      ++failures;
      break;
    }
    u = k;
    std::copy(r->view().begin(), r->view().end(), k.begin());
    if (i == 1)
      CHECK(to_hex(k) == "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
  }
  CHECK(failures == 0);
  CHECK(to_hex(k) == "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

TEST_CASE("X25519: RFC 7748 section 6.1 Diffie-Hellman", "[crypto]") {
  const auto alice =
      hex_as<X25519SecretKey>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto bob =
      hex_as<X25519SecretKey>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const auto alice_pub = crypto::x25519_public(alice);
  const auto bob_pub = crypto::x25519_public(bob);
  CHECK(alice_pub.hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  CHECK(bob_pub.hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");

  auto k_alice = crypto::x25519(alice, bob_pub);
  auto k_bob = crypto::x25519(bob, alice_pub);
  REQUIRE(k_alice.ok());
  REQUIRE(k_bob.ok());
  const std::string k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  CHECK(to_hex(k_alice->view()) == k);
  CHECK(to_hex(k_bob->view()) == k);
}

TEST_CASE("X25519: low-order public keys fail with low_order_point", "[crypto]") {
  // The small-order u-coordinates (0, 1, the two points of order 8, p-1, p,
  // p+1). Each one makes the shared secret all-zero for every scalar.
  const char* const low_order[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  const auto fixed_sec = hex_as<X25519SecretKey>(rfc7748_vectors[0].scalar);
  const auto random_sec = crypto::random_secret<X25519SecretKey>();
  for (const char* hex : low_order) {
    CAPTURE(hex);
    const auto peer = hex_as<X25519PublicKey>(hex);
    auto r1 = crypto::x25519(fixed_sec, peer);
    REQUIRE_FALSE(r1.ok());
    CHECK(r1.error() == CryptoError::low_order_point);
    auto r2 = crypto::x25519(random_sec, peer);
    REQUIRE_FALSE(r2.ok());
    CHECK(r2.error() == CryptoError::low_order_point);
  }
  // A generated key pair is, of course, accepted.
  const auto kp = crypto::x25519_generate();
  CHECK(crypto::x25519(fixed_sec, kp.pub).ok());
}

TEST_CASE("X25519: generated key pairs agree", "[crypto]") {
  const auto a = crypto::x25519_generate();
  const auto b = crypto::x25519_generate();
  CHECK(a.pub == crypto::x25519_public(a.sec));
  CHECK_FALSE(a.pub == b.pub);
  auto ab = crypto::x25519(a.sec, b.pub);
  auto ba = crypto::x25519(b.sec, a.pub);
  REQUIRE(ab.ok());
  REQUIRE(ba.ok());
  CHECK(crypto::equal(ab->view(), ba->view()));
  CHECK_FALSE(ab->is_zero());
}

namespace {

// RFC 8032 section 7.1.
struct Ed25519Vector {
  const char* name;
  const char* seed;
  const char* pub;
  const char* message;
  const char* signature;
};
constexpr Ed25519Vector rfc8032_vectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
};

}  // namespace

TEST_CASE("Ed25519: RFC 8032 section 7.1 TEST 1-3", "[crypto]") {
  for (const auto& v : rfc8032_vectors) {
    SECTION(v.name) {
      const auto seed = hex_as<Ed25519Seed>(v.seed);
      const auto kp = crypto::ed25519_from_seed(seed);
      CHECK(kp.pub.hex() == v.pub);
      // libsodium's secret key is seed || public key.
      CHECK(to_hex(kp.sec.view()) == std::string(v.seed) + v.pub);
      CHECK(to_hex(crypto::ed25519_seed(kp.sec).view()) == v.seed);

      const auto message = hex_bytes(v.message);
      const auto sig = crypto::sign(kp.sec, message);
      CHECK(sig.hex() == v.signature);

      const auto expected_sig = hex_as<Ed25519Signature>(v.signature);
      CHECK(crypto::verify(kp.pub, message, expected_sig));

      // A flipped bit anywhere in the signature (R and S halves) is rejected.
      for (std::size_t byte : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
        for (unsigned bit : {0u, 7u}) {
          CAPTURE(byte, bit);
          auto bad = expected_sig;
          bad.bytes[byte] ^= static_cast<std::uint8_t>(1u << bit);
          CHECK_FALSE(crypto::verify(kp.pub, message, bad));
        }
      }
      // A changed message is rejected: a flipped bit, or an extra byte (TEST 1
      // signs the empty message, which has no bit to flip).
      for (std::size_t i = 0; i < message.size(); ++i) {
        auto bad = message;
        bad[i] ^= 0x01;
        CHECK_FALSE(crypto::verify(kp.pub, bad, expected_sig));
        bad = message;
        bad[i] ^= 0x80;
        CHECK_FALSE(crypto::verify(kp.pub, bad, expected_sig));
      }
      auto longer = message;
      longer.push_back(0x00);
      CHECK_FALSE(crypto::verify(kp.pub, longer, expected_sig));
      // A flipped bit in the public key is rejected.
      auto bad_pub = kp.pub;
      bad_pub.bytes[0] ^= 0x01;
      CHECK_FALSE(crypto::verify(bad_pub, message, expected_sig));
    }
  }
}

TEST_CASE("Ed25519: a signature does not verify under another vector's key", "[crypto]") {
  const auto pub2 = hex_as<Ed25519PublicKey>(rfc8032_vectors[1].pub);
  const auto sig1 = hex_as<Ed25519Signature>(rfc8032_vectors[0].signature);
  CHECK_FALSE(crypto::verify(pub2, Bytes{}, sig1));
  // All-zero signature and key are rejected.
  const auto pub1 = hex_as<Ed25519PublicKey>(rfc8032_vectors[0].pub);
  CHECK_FALSE(crypto::verify(pub1, Bytes{}, Ed25519Signature{}));
  CHECK_FALSE(crypto::verify(Ed25519PublicKey{}, Bytes{}, sig1));
}

TEST_CASE("Ed25519: generated keys sign and verify", "[crypto]") {
  const auto kp = crypto::ed25519_generate();
  const auto msg = nightjar::as_bytes("nightjar descriptor");
  const auto sig = crypto::sign(kp.sec, msg);
  CHECK(crypto::verify(kp.pub, msg, sig));
  // Deterministic signatures.
  CHECK(crypto::sign(kp.sec, msg) == sig);
  // Rebuilding from the seed gives the same key pair.
  const auto again = crypto::ed25519_from_seed(crypto::ed25519_seed(kp.sec));
  CHECK(again.pub == kp.pub);
  CHECK(crypto::equal(again.sec.view(), kp.sec.view()));
  const auto other = crypto::ed25519_generate();
  CHECK_FALSE(other.pub == kp.pub);
  CHECK_FALSE(crypto::verify(other.pub, msg, sig));
}

TEST_CASE("Ed25519 to X25519 conversion", "[crypto]") {
  const auto a = crypto::ed25519_from_seed(hex_as<Ed25519Seed>(rfc8032_vectors[0].seed));
  const auto b = crypto::ed25519_from_seed(hex_as<Ed25519Seed>(rfc8032_vectors[1].seed));
  auto a_xpub = crypto::ed25519_to_x25519(a.pub);
  auto b_xpub = crypto::ed25519_to_x25519(b.pub);
  REQUIRE(a_xpub.ok());
  REQUIRE(b_xpub.ok());
  const auto a_xsec = crypto::ed25519_to_x25519(a.sec);
  const auto b_xsec = crypto::ed25519_to_x25519(b.sec);
  // The converted secret key's public key is the converted public key.
  CHECK(crypto::x25519_public(a_xsec) == *a_xpub);
  CHECK(crypto::x25519_public(b_xsec) == *b_xpub);
  // And the converted keys agree on a shared secret.
  auto ab = crypto::x25519(a_xsec, *b_xpub);
  auto ba = crypto::x25519(b_xsec, *a_xpub);
  REQUIRE(ab.ok());
  REQUIRE(ba.ok());
  CHECK(crypto::equal(ab->view(), ba->view()));

  // Small-order Edwards points (the all-zero encoding and the identity) are
  // refused.
  auto zero = crypto::ed25519_to_x25519(Ed25519PublicKey{});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error() == CryptoError::bad_public_key);
  auto identity = crypto::ed25519_to_x25519(
      hex_as<Ed25519PublicKey>("0100000000000000000000000000000000000000000000000000000000000000"));
  REQUIRE_FALSE(identity.ok());
  CHECK(identity.error() == CryptoError::bad_public_key);
}

namespace {

// draft-irtf-cfrg-xchacha-03, appendix A.3.1.
constexpr const char* xchacha_plaintext =
    "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
    "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
    "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
    "637265656e20776f756c642062652069742e";
constexpr const char* xchacha_aad = "50515253c0c1c2c3c4c5c6c7";
constexpr const char* xchacha_key =
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
constexpr const char* xchacha_iv = "404142434445464748494a4b4c4d4e4f5051525354555657";
constexpr const char* xchacha_ciphertext =
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e";
constexpr const char* xchacha_tag = "c0875924c1c7987947deafd8780acf49";

}  // namespace

TEST_CASE("XChaCha20-Poly1305: draft-irtf-cfrg-xchacha A.3.1", "[crypto]") {
  const auto key = hex_as<SymmetricKey>(xchacha_key);
  const auto nonce = hex_as<nightjar::AeadNonce>(xchacha_iv);
  const auto ad = hex_bytes(xchacha_aad);
  const auto pt = hex_bytes(xchacha_plaintext);
  const std::string expected = std::string(xchacha_ciphertext) + xchacha_tag;
  REQUIRE(pt.size() == 114u);
  // The plaintext is the sunscreen sentence.
  CHECK(std::string(pt.begin(), pt.end()) ==
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
        "future, sunscreen would be it.");

  SECTION("encryption gives exactly ciphertext || tag") {
    const auto ct = crypto::aead_encrypt(key, nonce, ad, pt);
    CHECK(ct.size() == pt.size() + crypto::aead_tag_bytes);
    CHECK(to_hex(ct) == expected);

    std::vector<std::uint8_t> out(pt.size() + crypto::aead_tag_bytes);
    REQUIRE(crypto::aead_encrypt(key, nonce, ad, pt, out).ok());
    CHECK(to_hex(out) == expected);
  }

  SECTION("decryption round-trips") {
    const auto ct = hex_bytes(expected);
    auto back = crypto::aead_decrypt(key, nonce, ad, ct);
    REQUIRE(back.ok());
    CHECK(*back == pt);

    std::vector<std::uint8_t> out(pt.size());
    REQUIRE(crypto::aead_decrypt(key, nonce, ad, ct, out).ok());
    CHECK(out == pt);
  }

  SECTION("wrong buffer sizes fail with bad_length") {
    std::vector<std::uint8_t> short_out(pt.size() + crypto::aead_tag_bytes - 1);
    auto e1 = crypto::aead_encrypt(key, nonce, ad, pt, short_out);
    REQUIRE_FALSE(e1.ok());
    CHECK(e1.error() == CryptoError::bad_length);

    const auto ct = hex_bytes(expected);
    std::vector<std::uint8_t> long_out(pt.size() + 1);
    auto e2 = crypto::aead_decrypt(key, nonce, ad, ct, long_out);
    REQUIRE_FALSE(e2.ok());
    CHECK(e2.error() == CryptoError::bad_length);

    // Shorter than a tag.
    const std::vector<std::uint8_t> tiny(crypto::aead_tag_bytes - 1, 0);
    auto e3 = crypto::aead_decrypt(key, nonce, ad, tiny);
    REQUIRE_FALSE(e3.ok());
    CHECK(e3.error() == CryptoError::bad_length);
    std::vector<std::uint8_t> none;
    auto e4 = crypto::aead_decrypt(key, nonce, ad, tiny, none);
    REQUIRE_FALSE(e4.ok());
    CHECK(e4.error() == CryptoError::bad_length);
  }
}

TEST_CASE("XChaCha20-Poly1305: tampering fails with auth_failed", "[crypto]") {
  const auto key = hex_as<SymmetricKey>(xchacha_key);
  const auto nonce = hex_as<nightjar::AeadNonce>(xchacha_iv);
  const auto ad = hex_bytes(xchacha_aad);
  const auto ct = hex_bytes(std::string(xchacha_ciphertext) + xchacha_tag);
  const std::size_t pt_size = ct.size() - crypto::aead_tag_bytes;

  auto expect_auth_failed = [&](const SymmetricKey& k, const nightjar::AeadNonce& n, Bytes a,
                                Bytes c) {
    auto r = crypto::aead_decrypt(k, n, a, c);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == CryptoError::auth_failed);
  };

  SECTION("flipped ciphertext bit") {
    for (std::size_t i : {std::size_t{0}, pt_size / 2, pt_size - 1}) {
      CAPTURE(i);
      auto bad = ct;
      bad[i] ^= 0x01;
      expect_auth_failed(key, nonce, ad, bad);
    }
  }
  SECTION("flipped tag bit") {
    for (std::size_t i : {pt_size, ct.size() - 1}) {
      CAPTURE(i);
      auto bad = ct;
      bad[i] ^= 0x80;
      expect_auth_failed(key, nonce, ad, bad);
    }
  }
  SECTION("flipped AD bit, missing AD, extra AD byte") {
    auto bad_ad = ad;
    bad_ad[0] ^= 0x01;
    expect_auth_failed(key, nonce, bad_ad, ct);
    expect_auth_failed(key, nonce, Bytes{}, ct);
    auto longer_ad = ad;
    longer_ad.push_back(0);
    expect_auth_failed(key, nonce, longer_ad, ct);
  }
  SECTION("wrong key") {
    auto bad_key = hex_as<SymmetricKey>(xchacha_key);
    bad_key.mutable_view()[31] ^= 0x01;
    expect_auth_failed(bad_key, nonce, ad, ct);
    expect_auth_failed(crypto::random_secret<SymmetricKey>(), nonce, ad, ct);
  }
  SECTION("wrong nonce (including its last, XChaCha-only, byte)") {
    auto bad_nonce = nonce;
    bad_nonce.bytes[23] ^= 0x01;
    expect_auth_failed(key, bad_nonce, ad, ct);
    bad_nonce = nonce;
    bad_nonce.bytes[0] ^= 0x01;
    expect_auth_failed(key, bad_nonce, ad, ct);
  }
  SECTION("truncated ciphertext") {
    expect_auth_failed(key, nonce, ad, Bytes(ct).first(ct.size() - 1));
    expect_auth_failed(key, nonce, ad, Bytes(ct).first(crypto::aead_tag_bytes));
  }
}

// crypto.hpp promises: "On failure `out` is zeroed": no unauthenticated
// plaintext (nor stale caller data) is left in the output buffer.
TEST_CASE("XChaCha20-Poly1305: a failed decryption zeroes the output", "[crypto]") {
  const auto key = hex_as<SymmetricKey>(xchacha_key);
  const auto nonce = hex_as<nightjar::AeadNonce>(xchacha_iv);
  const auto ad = hex_bytes(xchacha_aad);
  const auto ct = hex_bytes(std::string(xchacha_ciphertext) + xchacha_tag);
  const std::size_t pt_size = ct.size() - crypto::aead_tag_bytes;
  const std::vector<std::uint8_t> canary(pt_size, 0xa5);

  auto check_zeroed = [&](const SymmetricKey& k, Bytes a, Bytes c) {
    std::vector<std::uint8_t> out = canary;
    auto r = crypto::aead_decrypt(k, nonce, a, c, out);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == CryptoError::auth_failed);
    CHECK(to_hex(out) == std::string(2 * pt_size, '0'));
  };

  auto bad_ct = ct;
  bad_ct[0] ^= 0x01;
  check_zeroed(key, ad, bad_ct);

  auto bad_ad = ad;
  bad_ad[0] ^= 0x01;
  check_zeroed(key, bad_ad, ct);

  check_zeroed(crypto::random_secret<SymmetricKey>(), ad, ct);
}

TEST_CASE("XChaCha20-Poly1305: empty plaintext and empty AD", "[crypto]") {
  const auto key = crypto::random_secret<SymmetricKey>();
  nightjar::AeadNonce nonce;
  crypto::random_bytes(nonce.mutable_view());
  const auto ct = crypto::aead_encrypt(key, nonce, Bytes{}, Bytes{});
  CHECK(ct.size() == crypto::aead_tag_bytes);
  auto back = crypto::aead_decrypt(key, nonce, Bytes{}, ct);
  REQUIRE(back.ok());
  CHECK(back->empty());
  // The tag alone still authenticates the AD.
  auto wrong = crypto::aead_decrypt(key, nonce, nightjar::as_bytes("x"), ct);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error() == CryptoError::auth_failed);
}

TEST_CASE("BLAKE2b: RFC 7693 appendix A and reference vectors", "[crypto]") {
  const auto abc = nightjar::as_bytes("abc");
  CHECK(crypto::blake2b_512(abc).hex() ==
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  // BLAKE2b-256 is its own parameter set, not a truncated BLAKE2b-512.
  CHECK(crypto::blake2b_256(abc).hex() ==
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  CHECK(crypto::blake2b_256(Bytes{}).hex() ==
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");

  // Keyed: the first keyed vector of the BLAKE2 reference KAT (key 00..3f,
  // empty message).
  std::array<std::uint8_t, 64> key{};
  for (std::size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<std::uint8_t>(i);
  std::array<std::uint8_t, 64> out{};
  crypto::blake2b(out, Bytes{}, key);
  CHECK(to_hex(out) ==
        "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
        "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568");
}

TEST_CASE("BLAKE2b: length checks", "[crypto]") {
  std::array<std::uint8_t, 65> big{};
  std::array<std::uint8_t, 16> out16{};
  const auto in = nightjar::as_bytes("x");
  CHECK_NOTHROW(crypto::blake2b(out16, in));
  CHECK_NOTHROW(crypto::blake2b(std::span(big).first(64), in));
  CHECK_THROWS_AS(crypto::blake2b(std::span(big).first(15), in), std::invalid_argument);
  CHECK_THROWS_AS(crypto::blake2b(big, in), std::invalid_argument);
  CHECK_THROWS_AS(crypto::blake2b(out16, in, Bytes(big).first(15)), std::invalid_argument);
  CHECK_THROWS_AS(crypto::blake2b(out16, in, Bytes(big)), std::invalid_argument);
  CHECK_NOTHROW(crypto::blake2b(out16, in, Bytes(big).first(16)));
  CHECK_NOTHROW(crypto::blake2b(out16, in, Bytes(big).first(64)));
}

TEST_CASE("kdf_derive separates ids and contexts", "[crypto]") {
  const auto master =
      hex_as<SymmetricKey>("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const auto k1 = crypto::kdf_derive(master, 1, "Nightjar");
  const auto k1_again = crypto::kdf_derive(master, 1, "Nightjar");
  const auto k2 = crypto::kdf_derive(master, 2, "Nightjar");
  const auto k1_other_ctx = crypto::kdf_derive(master, 1, "NJ-links");
  auto other_master =
      hex_as<SymmetricKey>("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1e");
  const auto k1_other_master = crypto::kdf_derive(other_master, 1, "Nightjar");

  CHECK_FALSE(k1.is_zero());
  CHECK(crypto::equal(k1.view(), k1_again.view()));
  CHECK_FALSE(crypto::equal(k1.view(), k2.view()));
  CHECK_FALSE(crypto::equal(k1.view(), k1_other_ctx.view()));
  CHECK_FALSE(crypto::equal(k1.view(), k1_other_master.view()));
  CHECK_FALSE(crypto::equal(k1.view(), master.view()));
  // Large ids use all 64 bits.
  const auto k_hi = crypto::kdf_derive(master, 1ull << 63, "Nightjar");
  const auto k_hi1 = crypto::kdf_derive(master, (1ull << 63) | 1u, "Nightjar");
  CHECK_FALSE(crypto::equal(k_hi.view(), k_hi1.view()));
  CHECK_FALSE(crypto::equal(k_hi1.view(), k1.view()));

  // It is libsodium's documented crypto_kdf construction: keyed BLAKE2b with
  // salt = LE64(id) || 0^8 and personal = context || 0^8, empty message.
  std::array<std::uint8_t, 16> salt{};
  salt[0] = 1;
  std::array<std::uint8_t, 16> personal{};
  std::copy_n("Nightjar", 8, personal.begin());
  std::array<std::uint8_t, 32> ref{};
  REQUIRE(crypto_generichash_blake2b_salt_personal(ref.data(), ref.size(), nullptr, 0,
                                                   master.data(), master.size(), salt.data(),
                                                   personal.data()) == 0);
  CHECK(to_hex(k1.view()) == to_hex(ref));
}

TEST_CASE("kdf_split is deterministic and its halves differ", "[crypto]") {
  const auto ck = hex_bytes("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const auto input = nightjar::as_bytes("handshake transcript");
  const auto a = crypto::kdf_split(ck, input);
  const auto b = crypto::kdf_split(ck, input);
  CHECK(crypto::equal(a.first.view(), b.first.view()));
  CHECK(crypto::equal(a.second.view(), b.second.view()));
  CHECK_FALSE(crypto::equal(a.first.view(), a.second.view()));
  CHECK_FALSE(a.first.is_zero());
  CHECK_FALSE(a.second.is_zero());

  // It is keyed BLAKE2b-512 split in two.
  std::array<std::uint8_t, 64> full{};
  crypto::blake2b(full, input, ck);
  CHECK(to_hex(a.first.view()) == to_hex(Bytes(full).first(32)));
  CHECK(to_hex(a.second.view()) == to_hex(Bytes(full).subspan(32)));

  // Either input changes both halves.
  const auto c = crypto::kdf_split(ck, nightjar::as_bytes("handshake transcripT"));
  CHECK_FALSE(crypto::equal(a.first.view(), c.first.view()));
  CHECK_FALSE(crypto::equal(a.second.view(), c.second.view()));
  auto ck2 = ck;
  ck2[0] ^= 0x01;
  const auto d = crypto::kdf_split(ck2, input);
  CHECK_FALSE(crypto::equal(a.first.view(), d.first.view()));
  CHECK_FALSE(crypto::equal(a.second.view(), d.second.view()));
}

TEST_CASE("equal compares contents and lengths", "[crypto]") {
  const std::array<std::uint8_t, 4> a{1, 2, 3, 4};
  const std::array<std::uint8_t, 4> b{1, 2, 3, 4};
  const std::array<std::uint8_t, 4> c{1, 2, 3, 5};
  CHECK(crypto::equal(a, b));
  CHECK_FALSE(crypto::equal(a, c));
  CHECK_FALSE(crypto::equal(a, Bytes(b).first(3)));
  CHECK(crypto::equal(Bytes{}, Bytes{}));
  CHECK_FALSE(crypto::equal(Bytes{}, a));
}

TEST_CASE("randomness helpers", "[crypto]") {
  std::array<std::uint8_t, 64> a{};
  std::array<std::uint8_t, 64> b{};
  crypto::random_bytes(a);
  crypto::random_bytes(b);
  CHECK_FALSE(crypto::equal(a, b));
  CHECK(sodium_is_zero(a.data(), a.size()) == 0);

  CHECK(crypto::random_u64() != crypto::random_u64());  // 2^-64 flake chance

  bool all_below = true;
  std::array<int, 7> seen{};
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t v = crypto::random_uniform(7);
    if (v >= 7) {
      all_below = false;
      break;
    }
    ++seen[v];
  }
  CHECK(all_below);
  for (int count : seen)
    CHECK(count > 0);  // each value is hit (miss chance < 2^-200)
  CHECK(crypto::random_uniform(1) == 0u);

  const auto k1 = crypto::random_secret<SymmetricKey>();
  const auto k2 = crypto::random_secret<SymmetricKey>();
  CHECK_FALSE(k1.is_zero());
  CHECK_FALSE(crypto::equal(k1.view(), k2.view()));
}

TEST_CASE("moving a Secret wipes the source", "[crypto]") {
  auto key = crypto::random_secret<SymmetricKey>();
  REQUIRE_FALSE(key.is_zero());
  const std::string before = to_hex(key.view());

  SymmetricKey moved(std::move(key));
  CHECK(to_hex(moved.view()) == before);
  CHECK(key.is_zero());  // NOLINT(bugprone-use-after-move): the wipe is under test

  SymmetricKey assigned;
  assigned = std::move(moved);
  CHECK(to_hex(assigned.view()) == before);
  CHECK(moved.is_zero());  // NOLINT(bugprone-use-after-move)

  auto kp = crypto::x25519_generate();
  const auto pub = kp.pub;
  X25519SecretKey sec(std::move(kp.sec));
  CHECK(kp.sec.is_zero());  // NOLINT(bugprone-use-after-move)
  CHECK(crypto::x25519_public(sec) == pub);
}

TEST_CASE("CryptoError has a name for every value", "[crypto]") {
  CHECK(std::string(nightjar::to_string(CryptoError::low_order_point)) == "low-order public key");
  CHECK(std::string(nightjar::to_string(CryptoError::bad_public_key)) == "invalid public key");
  CHECK(std::string(nightjar::to_string(CryptoError::auth_failed)) == "authentication failed");
  CHECK(std::string(nightjar::to_string(CryptoError::bad_length)) == "bad buffer length");
}
