// Tests of swarm/public_record.hpp: the record's exact layout, round trips at
// the edge sizes, the owner's signature (and every field it covers), and
// every class of bad input.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "routing/crypto.hpp"
#include "swarm/public_record.hpp"

using namespace nightjar;

namespace {

PublicRecord sample(const Ed25519KeyPair& owner, std::size_t payload_bytes) {
  PublicRecord r;
  r.type = static_cast<std::uint8_t>(RecordType::prekey_bundle);
  r.owner = owner.pub;
  r.version = 0x0102030405060708;
  r.expires_ms = 0x1112131415161718;
  for (std::size_t i = 0; i < payload_bytes; ++i)
    r.payload.push_back(static_cast<std::uint8_t>(i * 13));
  sign_record(r, owner.sec);
  return r;
}

}  // namespace

TEST_CASE("a public record has the documented layout and signed bytes", "[record]") {
  REQUIRE(crypto::init());
  const auto owner = crypto::ed25519_generate();
  const PublicRecord r = sample(owner, 3);
  const auto bytes = encode(r);
  REQUIRE(bytes.size() == PublicRecord::overhead + 3);
  CHECK(PublicRecord::overhead == 116u);
  CHECK(bytes[0] == 0x01);
  CHECK(bytes[1] == 0x01);
  CHECK(std::equal(owner.pub.bytes.begin(), owner.pub.bytes.end(), bytes.begin() + 2));
  CHECK(to_hex(Bytes(bytes).subspan(34, 16)) == "01020304050607081112131415161718");
  CHECK(to_hex(Bytes(bytes).subspan(50, 5)) == "0003000d1a");
  CHECK(std::equal(r.signature.bytes.begin(), r.signature.bytes.end(), bytes.end() - 64));

  // Signed: the label, then every byte before the signature.
  const auto signed_input = record_signed_bytes(r);
  const std::string label = "nightjar record v1";
  REQUIRE(signed_input.size() == label.size() + bytes.size() - 64);
  CHECK(std::string(signed_input.begin(), signed_input.begin() + 18) == label);
  CHECK(std::equal(signed_input.begin() + 18, signed_input.end(), bytes.begin()));
}

TEST_CASE("public records round-trip from an empty payload to the largest", "[record]") {
  REQUIRE(crypto::init());
  const auto owner = crypto::ed25519_generate();
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, PublicRecord::max_payload}) {
    const PublicRecord r = sample(owner, n);
    const auto bytes = encode(r);
    auto back = decode_record(bytes);
    REQUIRE(back.ok());
    CHECK(back->payload == r.payload);
    CHECK(back->version == r.version);
    CHECK(verify_record(*back));
    CHECK(encode(*back) == bytes);
  }
  // The largest record fits the documented bound.
  CHECK(encode(sample(owner, PublicRecord::max_payload)).size() == PublicRecord::max_bytes);
  CHECK_THROWS_AS(encode(sample(owner, PublicRecord::max_payload + 1)), std::length_error);
}

TEST_CASE("a public record's signature covers every field and only the owner's key makes it",
          "[record]") {
  REQUIRE(crypto::init());
  const auto owner = crypto::ed25519_generate();
  const auto other = crypto::ed25519_generate();
  const PublicRecord r = sample(owner, 10);
  REQUIRE(verify_record(r));
  auto t = r;
  t.type ^= 1;
  CHECK_FALSE(verify_record(t));
  t = r;
  t.version += 1;
  CHECK_FALSE(verify_record(t));
  t = r;
  t.expires_ms += 1;
  CHECK_FALSE(verify_record(t));
  t = r;
  t.payload[4] ^= 0x40;
  CHECK_FALSE(verify_record(t));
  t = r;
  t.owner = other.pub;
  CHECK_FALSE(verify_record(t));
  // Signed by another key than the owner named.
  t = r;
  sign_record(t, other.sec);
  CHECK_FALSE(verify_record(t));
}

TEST_CASE("public record decoding rejects bad formats, lengths and trailing bytes", "[record]") {
  REQUIRE(crypto::init());
  const auto owner = crypto::ed25519_generate();
  const auto bytes = encode(sample(owner, 8));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("prefix of " << n);
    auto r = decode_record(Bytes(bytes).first(n));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == WireError::truncated);
  }
  auto extra = bytes;
  extra.push_back(0);
  CHECK(decode_record(extra).error() == WireError::trailing_bytes);
  for (int f : {0, 2, 0xff}) {
    auto bad = bytes;
    bad[0] = static_cast<std::uint8_t>(f);
    CHECK(decode_record(bad).error() == WireError::bad_value);
  }
  // A payload length over the bound: refused before the payload is read.
  auto over = bytes;
  over[50] = static_cast<std::uint8_t>((PublicRecord::max_payload + 1) >> 8);
  over[51] = static_cast<std::uint8_t>(PublicRecord::max_payload + 1);
  over.resize(over.size() + PublicRecord::max_payload, 0);
  CHECK_FALSE(decode_record(over).ok());
}
