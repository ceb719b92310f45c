// Tests of routing/bytes.hpp: hex encoding and decoding, FixedBytes equality
// and is_zero, and the Secret container's basic behaviour.
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "routing/bytes.hpp"

using nightjar::Bytes;
using nightjar::FixedBytes;
using nightjar::from_hex;
using nightjar::MutableBytes;
using nightjar::Secret;
using nightjar::to_hex;

namespace {
struct TestTag;
using Fixed4 = FixedBytes<4, TestTag>;
using Secret4 = Secret<4, TestTag>;
}  // namespace

TEST_CASE("to_hex encodes lowercase, two digits per byte", "[bytes]") {
  const std::array<std::uint8_t, 6> in{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  CHECK(to_hex(in) == "00017f80abff");
  CHECK(to_hex(Bytes{}) == "");
  const std::array<std::uint8_t, 1> one{0x0a};
  CHECK(to_hex(one) == "0a");
}

TEST_CASE("from_hex decodes good input", "[bytes]") {
  std::array<std::uint8_t, 6> out{};
  REQUIRE(from_hex("00017f80abff", out));
  CHECK(out == std::array<std::uint8_t, 6>{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff});

  SECTION("empty input into an empty buffer") {
    CHECK(from_hex("", MutableBytes{}));
  }
  SECTION("uppercase and mixed case are accepted") {
    std::array<std::uint8_t, 4> up{};
    REQUIRE(from_hex("ABCDEF09", up));
    CHECK(up == std::array<std::uint8_t, 4>{0xab, 0xcd, 0xef, 0x09});
    std::array<std::uint8_t, 4> mixed{};
    REQUIRE(from_hex("aBcDeF09", mixed));
    CHECK(mixed == up);
  }
  SECTION("round trip of every byte value") {
    std::vector<std::uint8_t> all(256);
    for (std::size_t i = 0; i < all.size(); ++i)
      all[i] = static_cast<std::uint8_t>(i);
    const std::string hex = to_hex(all);
    CHECK(hex.size() == 512u);
    std::vector<std::uint8_t> back(256);
    REQUIRE(from_hex(hex, back));
    CHECK(back == all);
  }
}

TEST_CASE("from_hex rejects bad input", "[bytes]") {
  std::array<std::uint8_t, 2> out{};

  SECTION("odd length") {
    CHECK_FALSE(from_hex("abc", out));
    std::array<std::uint8_t, 1> one{};
    CHECK_FALSE(from_hex("a", one));
    CHECK_FALSE(from_hex("abc", one));
  }
  SECTION("bad digit in either nibble, anywhere") {
    CHECK_FALSE(from_hex("g000", out));
    CHECK_FALSE(from_hex("0g00", out));
    CHECK_FALSE(from_hex("00g0", out));
    CHECK_FALSE(from_hex("000g", out));
    CHECK_FALSE(from_hex("00 0", out));
    CHECK_FALSE(from_hex("0x00", out));
    CHECK_FALSE(from_hex("-100", out));
    CHECK_FALSE(from_hex("00:0", out));
    CHECK_FALSE(from_hex("@`/:", out));  // neighbours of the digit ranges
    CHECK_FALSE(from_hex("GgFf", out));
  }
  SECTION("wrong output size") {
    CHECK_FALSE(from_hex("00", out));             // too short for the buffer
    CHECK_FALSE(from_hex("000000", out));         // too long for the buffer
    CHECK_FALSE(from_hex("", out));               // empty input, non-empty buffer
    CHECK_FALSE(from_hex("00", MutableBytes{}));  // non-empty input, empty buffer
  }
}

TEST_CASE("FixedBytes equality, is_zero, hex and from", "[bytes]") {
  Fixed4 a;
  CHECK(a.is_zero());
  CHECK(a.hex() == "00000000");
  CHECK(Fixed4::size() == 4u);
  CHECK(Fixed4::size_bytes == 4u);

  Fixed4 b;
  CHECK(a == b);
  CHECK_FALSE(a != b);

  SECTION("every single-bit difference is detected") {
    for (std::size_t byte = 0; byte < 4; ++byte) {
      for (unsigned bit = 0; bit < 8; ++bit) {
        Fixed4 c;
        c.bytes[byte] = static_cast<std::uint8_t>(1u << bit);
        CHECK_FALSE(c.is_zero());
        CHECK_FALSE(c == a);
        CHECK(c != a);
      }
    }
  }

  SECTION("from copies the bytes; views alias the storage") {
    const std::array<std::uint8_t, 4> src{0xde, 0xad, 0xbe, 0xef};
    Fixed4 c = Fixed4::from(src);
    CHECK(c.hex() == "deadbeef");
    CHECK_FALSE(c.is_zero());
    Fixed4 d = c;
    CHECK(d == c);
    d.mutable_view()[3] = 0xee;
    CHECK_FALSE(d == c);
    CHECK(d.hex() == "deadbeee");
    const Bytes view = c;  // the implicit view
    CHECK(view.size() == 4u);
    CHECK(view.data() == c.data());
    CHECK(to_hex(view) == "deadbeef");
  }
}

TEST_CASE("Secret is zero-initialised, from copies, move wipes the source", "[bytes]") {
  Secret4 s;
  CHECK(s.is_zero());
  const std::array<std::uint8_t, 4> src{1, 2, 3, 4};
  Secret4 t = Secret4::from(src);
  CHECK_FALSE(t.is_zero());
  CHECK(to_hex(t.view()) == "01020304");

  Secret4 u(std::move(t));
  CHECK(to_hex(u.view()) == "01020304");
  CHECK(t.is_zero());  // NOLINT(bugprone-use-after-move): wiping is the point

  Secret4 v;
  v = std::move(u);
  CHECK(to_hex(v.view()) == "01020304");
  CHECK(u.is_zero());  // NOLINT(bugprone-use-after-move)

  // Self-move-assignment keeps the value.
  Secret4& alias = v;
  v = std::move(alias);
  CHECK(to_hex(v.view()) == "01020304");
}
