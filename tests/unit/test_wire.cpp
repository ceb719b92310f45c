// Tests of routing/wire.hpp: WireWriter/WireReader round trips, the exact
// big-endian layout, every class of bad input, and a randomized round trip.
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"
#include "routing/wire.hpp"

using nightjar::Bytes;
using nightjar::Hash256;
using nightjar::to_hex;
using nightjar::WireError;
using nightjar::WireReader;
using nightjar::WireWriter;

namespace {

std::vector<std::uint8_t> seq(std::size_t n, std::uint8_t start = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::uint8_t>(start + i);
  return v;
}

bool same(Bytes a, Bytes b) {
  return to_hex(a) == to_hex(b);
}

}  // namespace

TEST_CASE("WireWriter writes integers big-endian", "[wire]") {
  WireWriter w;
  w.u8(0x01).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d0e0full);
  CHECK(w.size() == 15u);
  CHECK(to_hex(w.bytes()) ==
        "01"
        "0203"
        "04050607"
        "08090a0b0c0d0e0f");

  WireWriter extremes;
  extremes.u8(0)
      .u8(0xff)
      .u16(0)
      .u16(0xffff)
      .u32(0)
      .u32(0xffffffffu)
      .u64(0)
      .u64(std::numeric_limits<std::uint64_t>::max());
  CHECK(to_hex(extremes.bytes()) ==
        "00ff"
        "0000ffff"
        "00000000ffffffff"
        "0000000000000000ffffffffffffffff");

  // Single high and low bytes land at the right end.
  WireWriter ends;
  ends.u16(0x0100).u16(0x0001).u32(0x01000000u).u32(1).u64(0x0100000000000000ull).u64(1);
  CHECK(to_hex(ends.bytes()) ==
        "0100"
        "0001"
        "01000000"
        "00000001"
        "0100000000000000"
        "0000000000000001");
}

TEST_CASE("WireReader reads integers big-endian and round-trips", "[wire]") {
  const std::vector<std::uint8_t> in = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                        0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
  WireReader r(in);
  CHECK(r.remaining() == 15u);
  auto a = r.u8();
  auto b = r.u16();
  auto c = r.u32();
  auto d = r.u64();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  REQUIRE(d.ok());
  CHECK(*a == 0x01u);
  CHECK(*b == 0x0203u);
  CHECK(*c == 0x04050607u);
  CHECK(*d == 0x08090a0b0c0d0e0full);
  CHECK(r.position() == 15u);
  CHECK(r.remaining() == 0u);
  CHECK(r.finish().ok());

  SECTION("extreme values round-trip") {
    WireWriter w;
    w.u8(0xff).u16(0xffff).u32(0xffffffffu).u64(std::numeric_limits<std::uint64_t>::max());
    w.u8(0).u16(0).u32(0).u64(0);
    WireReader rr(w.bytes());
    CHECK(*rr.u8() == 0xffu);
    CHECK(*rr.u16() == 0xffffu);
    CHECK(*rr.u32() == 0xffffffffu);
    CHECK(*rr.u64() == std::numeric_limits<std::uint64_t>::max());
    CHECK(*rr.u8() == 0u);
    CHECK(*rr.u16() == 0u);
    CHECK(*rr.u32() == 0u);
    CHECK(*rr.u64() == 0u);
    CHECK(rr.finish().ok());
  }
}

TEST_CASE("raw, var8/var16/var32 and fixed round-trip", "[wire]") {
  const auto payload = seq(300, 0x10);
  const auto small = seq(7, 0xa0);
  Hash256 h = nightjar::crypto::blake2b_256(nightjar::as_bytes("nightjar"));

  WireWriter w;
  w.raw(Bytes(small))
      .var8(Bytes(small))
      .var8(Bytes{})
      .var16(Bytes(payload))
      .var32(Bytes(payload))
      .fixed(h)
      .var16(Bytes{});

  // The layout, field by field.
  const auto& out = w.bytes();
  std::size_t at = 0;
  CHECK(same(Bytes(out).subspan(at, 7), small));
  at += 7;
  CHECK(out[at] == 7u);  // var8 prefix
  CHECK(same(Bytes(out).subspan(at + 1, 7), small));
  at += 8;
  CHECK(out[at] == 0u);  // empty var8
  at += 1;
  CHECK(to_hex(Bytes(out).subspan(at, 2)) == "012c");  // 300, big-endian
  at += 2 + 300;
  CHECK(to_hex(Bytes(out).subspan(at, 4)) == "0000012c");
  at += 4 + 300;
  CHECK(same(Bytes(out).subspan(at, 32), h));
  at += 32;
  CHECK(to_hex(Bytes(out).subspan(at)) == "0000");
  CHECK(w.size() == at + 2);

  WireReader r(out);
  auto f1 = r.raw(7);
  REQUIRE(f1.ok());
  CHECK(same(*f1, small));
  CHECK(f1->data() == out.data());  // a view into the input, not a copy
  auto f2 = r.var8();
  REQUIRE(f2.ok());
  CHECK(same(*f2, small));
  auto f3 = r.var8();
  REQUIRE(f3.ok());
  CHECK(f3->empty());
  auto f4 = r.var16(300);  // exactly at the limit is fine
  REQUIRE(f4.ok());
  CHECK(same(*f4, payload));
  auto f5 = r.var32(1u << 20);
  REQUIRE(f5.ok());
  CHECK(same(*f5, payload));
  auto f6 = r.fixed<Hash256>();
  REQUIRE(f6.ok());
  CHECK(*f6 == h);
  auto f7 = r.var16();
  REQUIRE(f7.ok());
  CHECK(f7->empty());
  CHECK(r.finish().ok());

  SECTION("take() hands over the buffer") {
    WireWriter t;
    t.u16(0xbeef);
    auto taken = t.take();
    CHECK(to_hex(taken) == "beef");
  }
  SECTION("rest() returns everything left and consumes it") {
    WireReader rr(out);
    REQUIRE(rr.raw(7).ok());
    Bytes rest = rr.rest();
    CHECK(rest.size() == out.size() - 7);
    CHECK(rest.data() == out.data() + 7);
    CHECK(rr.remaining() == 0u);
    CHECK(rr.finish().ok());
    CHECK(rr.rest().empty());
  }
}

TEST_CASE("truncated integers fail at every length and do not advance", "[wire]") {
  const auto buf = seq(8, 1);
  for (std::size_t len = 0; len < 8; ++len) {
    CAPTURE(len);
    Bytes in = Bytes(buf).first(len);
    if (len < 1) {
      WireReader r(in);
      auto v = r.u8();
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
    if (len < 2) {
      WireReader r(in);
      auto v = r.u16();
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
    if (len < 4) {
      WireReader r(in);
      auto v = r.u32();
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
    {
      WireReader r(in);
      auto v = r.u64();
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
    {
      WireReader r(in);
      auto v = r.fixed<Hash256>();
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
  }

  SECTION("a truncated read after good ones keeps the position") {
    WireReader r(Bytes(buf).first(5));
    REQUIRE(r.u16().ok());
    auto v = r.u32();
    REQUIRE_FALSE(v.ok());
    CHECK(v.error() == WireError::truncated);
    CHECK(r.position() == 2u);
    CHECK(r.remaining() == 3u);
    // The reader is still usable after the failure.
    auto w = r.u16();
    REQUIRE(w.ok());
    CHECK(*w == 0x0304u);
  }
}

TEST_CASE("truncated length prefixes fail", "[wire]") {
  const std::array<std::uint8_t, 3> three{0, 0, 0};
  for (std::size_t len = 0; len < 4; ++len) {
    CAPTURE(len);
    Bytes in = Bytes(three.data(), len < 3 ? len : 3);
    if (len < 1) {
      WireReader r(in);
      auto v = r.var8();
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
    if (len < 2) {
      WireReader r(in);
      auto v = r.var16();
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
    if (len < 4) {
      WireReader r(in);
      auto v = r.var32(100);
      REQUIRE_FALSE(v.ok());
      CHECK(v.error() == WireError::truncated);
      CHECK(r.position() == 0u);
    }
  }
}

TEST_CASE("a length prefix over the maximum fails with too_long", "[wire]") {
  WireWriter w;
  w.u8(0xaa).var16(Bytes(seq(10)));
  const auto& in = w.bytes();

  WireReader r(in);
  REQUIRE(r.u8().ok());
  auto v = r.var16(9);
  REQUIRE_FALSE(v.ok());
  CHECK(v.error() == WireError::too_long);
  CHECK(r.position() == 1u);  // unchanged by the failed read
  CHECK(r.remaining() == in.size() - 1);
  // The same field reads fine with a large enough limit.
  auto ok = r.var16(10);
  REQUIRE(ok.ok());
  CHECK(ok->size() == 10u);
  CHECK(r.finish().ok());

  SECTION("the limit is checked before the remaining length") {
    // Prefix 0xffff with no body: over the limit and truncated; too_long wins.
    const std::array<std::uint8_t, 2> huge{0xff, 0xff};
    WireReader rr(huge);
    auto h = rr.var16(1000);
    REQUIRE_FALSE(h.ok());
    CHECK(h.error() == WireError::too_long);
    CHECK(rr.position() == 0u);
  }
  SECTION("var8 and var32 limits") {
    WireWriter w8;
    w8.var8(Bytes(seq(5)));
    WireReader r8(w8.bytes());
    auto e8 = r8.var8(4);
    REQUIRE_FALSE(e8.ok());
    CHECK(e8.error() == WireError::too_long);
    CHECK(r8.position() == 0u);

    const std::array<std::uint8_t, 4> big32{0xff, 0xff, 0xff, 0xff};
    WireReader r32(big32);
    auto e32 = r32.var32(1u << 20);
    REQUIRE_FALSE(e32.ok());
    CHECK(e32.error() == WireError::too_long);
    CHECK(r32.position() == 0u);

    WireReader r0(big32);
    auto z = r0.var32(0);  // max 0 allows only empty fields
    REQUIRE_FALSE(z.ok());
    CHECK(z.error() == WireError::too_long);
  }
}

TEST_CASE("a length prefix over the remaining bytes fails with truncated", "[wire]") {
  // var16 claiming 10 bytes with only 9 present.
  WireWriter w;
  w.u8(0x01).u16(10).raw(Bytes(seq(9)));
  WireReader r(w.bytes());
  REQUIRE(r.u8().ok());
  auto v = r.var16();
  REQUIRE_FALSE(v.ok());
  CHECK(v.error() == WireError::truncated);
  CHECK(r.position() == 1u);  // the prefix is not consumed either
  CHECK(r.remaining() == 11u);

  SECTION("var8 and var32") {
    const std::array<std::uint8_t, 3> in8{0x03, 0xaa, 0xbb};
    WireReader r8(in8);
    auto e8 = r8.var8();
    REQUIRE_FALSE(e8.ok());
    CHECK(e8.error() == WireError::truncated);
    CHECK(r8.position() == 0u);

    const std::array<std::uint8_t, 5> in32{0x00, 0x00, 0x00, 0x02, 0xaa};
    WireReader r32(in32);
    auto e32 = r32.var32(100);
    REQUIRE_FALSE(e32.ok());
    CHECK(e32.error() == WireError::truncated);
    CHECK(r32.position() == 0u);
  }
  SECTION("raw longer than the input") {
    const std::array<std::uint8_t, 3> in{1, 2, 3};
    WireReader rr(in);
    auto e = rr.raw(4);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error() == WireError::truncated);
    CHECK(rr.position() == 0u);
    auto huge = rr.raw(std::numeric_limits<std::size_t>::max());
    REQUIRE_FALSE(huge.ok());
    CHECK(huge.error() == WireError::truncated);
    CHECK(rr.position() == 0u);
    auto all = rr.raw(3);
    REQUIRE(all.ok());
    CHECK(rr.finish().ok());
  }
}

TEST_CASE("finish() rejects trailing bytes", "[wire]") {
  const std::array<std::uint8_t, 3> in{1, 2, 3};
  WireReader r(in);
  auto f0 = r.finish();
  REQUIRE_FALSE(f0.ok());
  CHECK(f0.error() == WireError::trailing_bytes);
  REQUIRE(r.u16().ok());
  auto f1 = r.finish();
  REQUIRE_FALSE(f1.ok());
  CHECK(f1.error() == WireError::trailing_bytes);
  CHECK(r.position() == 2u);  // finish() does not consume
  REQUIRE(r.u8().ok());
  CHECK(r.finish().ok());
}

TEST_CASE("empty input", "[wire]") {
  WireReader r(Bytes{});
  CHECK(r.remaining() == 0u);
  CHECK(r.finish().ok());
  CHECK(r.u8().error() == WireError::truncated);
  CHECK(r.u16().error() == WireError::truncated);
  CHECK(r.u32().error() == WireError::truncated);
  CHECK(r.u64().error() == WireError::truncated);
  CHECK(r.var8().error() == WireError::truncated);
  CHECK(r.var16().error() == WireError::truncated);
  CHECK(r.var32(10).error() == WireError::truncated);
  CHECK(r.fixed<Hash256>().error() == WireError::truncated);
  CHECK(r.raw(1).error() == WireError::truncated);
  auto zero = r.raw(0);
  REQUIRE(zero.ok());
  CHECK(zero->empty());
  CHECK(r.rest().empty());
  CHECK(r.position() == 0u);
  CHECK(r.finish().ok());
}

TEST_CASE("WireWriter throws length_error for oversized variable fields", "[wire]") {
  WireWriter w;
  w.u8(0x55);
  const auto max8 = seq(255);
  const auto over8 = seq(256);
  CHECK_NOTHROW(w.var8(Bytes(max8)));
  CHECK(w.size() == 1u + 1u + 255u);
  CHECK_THROWS_AS(w.var8(Bytes(over8)), std::length_error);
  CHECK(w.size() == 1u + 1u + 255u);  // nothing written by the failed call

  const std::vector<std::uint8_t> max16(0xffff, 0x42);
  const std::vector<std::uint8_t> over16(0x10000, 0x42);
  WireWriter w16;
  CHECK_NOTHROW(w16.var16(Bytes(max16)));
  CHECK(w16.size() == 2u + 0xffffu);
  CHECK_THROWS_AS(w16.var16(Bytes(over16)), std::length_error);
  CHECK(w16.size() == 2u + 0xffffu);

  WireReader r(w16.bytes());
  auto back = r.var16();  // default max is 0xffff
  REQUIRE(back.ok());
  CHECK(back->size() == 0xffffu);
  CHECK(r.finish().ok());
}

TEST_CASE("store_/load_ helpers round-trip big-endian", "[wire]") {
  std::array<std::uint8_t, 8> buf{};

  nightjar::store_u16(buf.data(), 0xa1b2);
  CHECK(to_hex(Bytes(buf).first(2)) == "a1b2");
  CHECK(nightjar::load_u16(buf.data()) == 0xa1b2u);

  nightjar::store_u32(buf.data(), 0xa1b2c3d4u);
  CHECK(to_hex(Bytes(buf).first(4)) == "a1b2c3d4");
  CHECK(nightjar::load_u32(buf.data()) == 0xa1b2c3d4u);

  nightjar::store_u64(buf.data(), 0xa1b2c3d4e5f60718ull);
  CHECK(to_hex(Bytes(buf)) == "a1b2c3d4e5f60718");
  CHECK(nightjar::load_u64(buf.data()) == 0xa1b2c3d4e5f60718ull);

  // Agrees with WireWriter, for values that exercise the sign bit of each byte.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t v = rng();
    const auto v16 = static_cast<std::uint16_t>(v);
    const auto v32 = static_cast<std::uint32_t>(v);
    WireWriter w;
    w.u16(v16).u32(v32).u64(v);
    std::array<std::uint8_t, 14> mine{};
    nightjar::store_u16(mine.data(), v16);
    nightjar::store_u32(mine.data() + 2, v32);
    nightjar::store_u64(mine.data() + 6, v);
    CHECK(same(mine, w.bytes()));
    CHECK(nightjar::load_u16(mine.data()) == v16);
    CHECK(nightjar::load_u32(mine.data() + 2) == v32);
    CHECK(nightjar::load_u64(mine.data() + 6) == v);
  }
}

TEST_CASE("WireError has a name for every value", "[wire]") {
  CHECK(std::string(nightjar::to_string(WireError::truncated)) == "truncated");
  CHECK(std::string(nightjar::to_string(WireError::too_long)) == "length over limit");
  CHECK(std::string(nightjar::to_string(WireError::trailing_bytes)) == "trailing bytes");
  CHECK(std::string(nightjar::to_string(WireError::bad_value)) == "bad value");
}

namespace {

enum class Kind { u8, u16, u32, u64, raw, var8, var16, var32, hash };
constexpr int kind_count = 9;

struct Field {
  Kind kind;
  std::uint64_t value = 0;
  std::vector<std::uint8_t> data;
  Hash256 hash;
};

Field random_field(std::mt19937& rng) {
  std::uniform_int_distribution<int> kind_dist(0, kind_count - 1);
  std::uniform_int_distribution<std::uint64_t> u64_dist;
  std::uniform_int_distribution<unsigned> byte_dist(0, 255);
  Field f{static_cast<Kind>(kind_dist(rng)), 0, {}, {}};
  auto fill = [&](std::size_t max_len) {
    std::uniform_int_distribution<std::size_t> len_dist(0, max_len);
    f.data.resize(len_dist(rng));
    for (auto& b : f.data)
      b = static_cast<std::uint8_t>(byte_dist(rng));
  };
  switch (f.kind) {
    case Kind::u8:
      f.value = u64_dist(rng) & 0xffu;
      break;
    case Kind::u16:
      f.value = u64_dist(rng) & 0xffffu;
      break;
    case Kind::u32:
      f.value = u64_dist(rng) & 0xffffffffu;
      break;
    case Kind::u64:
      f.value = u64_dist(rng);
      break;
    case Kind::raw:
      fill(40);
      break;
    case Kind::var8:
      fill(255);
      break;
    case Kind::var16:
      fill(300);
      break;
    case Kind::var32:
      fill(300);
      break;
    case Kind::hash:
      for (auto& b : f.hash.bytes)
        b = static_cast<std::uint8_t>(byte_dist(rng));
      break;
  }
  return f;
}

void write_field(WireWriter& w, const Field& f) {
  switch (f.kind) {
    case Kind::u8:
      w.u8(static_cast<std::uint8_t>(f.value));
      break;
    case Kind::u16:
      w.u16(static_cast<std::uint16_t>(f.value));
      break;
    case Kind::u32:
      w.u32(static_cast<std::uint32_t>(f.value));
      break;
    case Kind::u64:
      w.u64(f.value);
      break;
    case Kind::raw:
      w.raw(f.data);
      break;
    case Kind::var8:
      w.var8(f.data);
      break;
    case Kind::var16:
      w.var16(f.data);
      break;
    case Kind::var32:
      w.var32(f.data);
      break;
    case Kind::hash:
      w.fixed(f.hash);
      break;
  }
}

// Reads one field as described by `f`. Returns the error if the read fails,
// and reports a mismatch through `matches`.
std::optional<WireError> read_field(WireReader& r, const Field& f, bool& matches) {
  matches = true;
  auto check_int = [&](auto res) -> std::optional<WireError> {
    if (!res) return res.error();
    matches = static_cast<std::uint64_t>(*res) == f.value;
    return std::nullopt;
  };
  auto check_bytes = [&](nightjar::Result<Bytes, WireError> res) -> std::optional<WireError> {
    if (!res) return res.error();
    matches = same(*res, f.data);
    return std::nullopt;
  };
  switch (f.kind) {
    case Kind::u8:
      return check_int(r.u8());
    case Kind::u16:
      return check_int(r.u16());
    case Kind::u32:
      return check_int(r.u32());
    case Kind::u64:
      return check_int(r.u64());
    case Kind::raw:
      return check_bytes(r.raw(f.data.size()));
    case Kind::var8:
      return check_bytes(r.var8());
    case Kind::var16:
      return check_bytes(r.var16(300));
    case Kind::var32:
      return check_bytes(r.var32(300));
    case Kind::hash: {
      auto res = r.fixed<Hash256>();
      if (!res) return res.error();
      matches = *res == f.hash;
      return std::nullopt;
    }
  }
  matches = false;
  return std::nullopt;
}

}  // namespace

TEST_CASE("randomized round trip of field sequences", "[wire]") {
  std::mt19937 rng(20240611u);
  std::uniform_int_distribution<int> count_dist(0, 12);
  int mismatches = 0;
  int unexpected_errors = 0;
  int truncation_not_detected = 0;

  for (int iter = 0; iter < 1000; ++iter) {
    std::vector<Field> fields;
    const int n = count_dist(rng);
    for (int i = 0; i < n; ++i)
      fields.push_back(random_field(rng));

    WireWriter w;
    for (const auto& f : fields)
      write_field(w, f);
    const std::vector<std::uint8_t> encoded = w.take();

    // Full input: every field reads back, nothing is left over.
    {
      WireReader r(encoded);
      for (const auto& f : fields) {
        bool matches = false;
        if (read_field(r, f, matches)) {
          ++unexpected_errors;
          break;
        }
        if (!matches) ++mismatches;
      }
      if (!r.finish()) ++unexpected_errors;
    }

    // A strict prefix: some read must fail, with truncated, and a failed read
    // must not move the reader.
    if (!encoded.empty()) {
      std::uniform_int_distribution<std::size_t> cut_dist(0, encoded.size() - 1);
      const std::size_t cut = cut_dist(rng);
      WireReader r(Bytes(encoded).first(cut));
      bool failed = false;
      for (const auto& f : fields) {
        const std::size_t before = r.position();
        bool matches = false;
        if (auto err = read_field(r, f, matches)) {
          failed = true;
          if (*err != WireError::truncated || r.position() != before) ++unexpected_errors;
          break;
        }
        if (!matches) ++mismatches;
      }
      // Every field has a positive length except empty raw/var data; a cut
      // inside the encoding must always be caught by one of the reads
      // (prefixes are at least one byte long, and raw fields are read with
      // their exact length).
      if (!failed) ++truncation_not_detected;
    }

    // One extra byte: the fields still read, and finish() reports it.
    {
      std::vector<std::uint8_t> longer = encoded;
      longer.push_back(0x99);
      WireReader r(longer);
      for (const auto& f : fields) {
        bool matches = false;
        if (read_field(r, f, matches)) {
          ++unexpected_errors;
          break;
        }
        if (!matches) ++mismatches;
      }
      auto end = r.finish();
      if (end.ok() || end.error() != WireError::trailing_bytes) ++unexpected_errors;
    }
  }
  CHECK(mismatches == 0);
  CHECK(unexpected_errors == 0);
  CHECK(truncation_not_detected == 0);
}
