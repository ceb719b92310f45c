// Tests of FieldReader (routing/wire.hpp): fields read into their variables,
// the first failure kept and later calls ignored, checks, flags, finish(), and
// a comparison with reading field by field through WireReader on every
// truncation and on random corruptions of one layout.
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "routing/bytes.hpp"
#include "routing/crypto.hpp"
#include "routing/wire.hpp"

using nightjar::Bytes;
using nightjar::FieldReader;
using nightjar::Hash256;
using nightjar::Result;
using nightjar::WireError;
using nightjar::WireReader;
using nightjar::WireWriter;

namespace {

// One of every kind of field, as a parser would keep them.
struct Record {
  std::uint8_t a = 0;
  std::uint16_t b = 0;
  std::uint32_t c = 0;
  std::uint64_t d = 0;
  bool on = false;
  Hash256 h;
  std::string name;
  std::vector<std::uint8_t> body;
  std::vector<std::uint8_t> blob;
};

constexpr std::size_t body_max = 40;
constexpr std::size_t blob_max = 300;

Record sample() {
  Record r;
  r.a = 0xa1;
  r.b = 0xb2b3;
  r.c = 0xc4c5c6c7;
  r.d = 0xd8d9dadbdcdddedfull;
  r.on = true;
  r.h = nightjar::crypto::blake2b_256(nightjar::as_bytes("field reader"));
  r.name = "nightjar";
  r.body.assign(body_max, 0x42);
  r.blob.assign(7, 0x17);
  return r;
}

std::vector<std::uint8_t> encode(const Record& r) {
  WireWriter w;
  w.u8(r.a)
      .u16(r.b)
      .u32(r.c)
      .u64(r.d)
      .u8(r.on ? 1 : 0)
      .fixed(r.h)
      .var8(nightjar::as_bytes(r.name))
      .var16(r.body)
      .var32(r.blob);
  return w.take();
}

// The parser under test: one line per field, plus a range check on `a`.
Result<Record, WireError> decode(Bytes bytes) {
  FieldReader f(bytes);
  Record r;
  f.u8(r.a)
      .check(r.a != 0)
      .u16(r.b)
      .u32(r.c)
      .u64(r.d)
      .flag(r.on)
      .fixed(r.h)
      .var8(r.name)
      .var16(r.body, body_max)
      .var32(r.blob, blob_max);
  return f.finish(std::move(r));
}

// The same parser written field by field with WireReader, as the codecs were
// before FieldReader: the reference for which error each input gives.
Result<Record, WireError> decode_step_by_step(Bytes bytes) {
  WireReader rd(bytes);
  Record r;
  auto a = rd.u8();
  if (!a) return a.failure();
  if (*a == 0) return nightjar::fail(WireError::bad_value);
  r.a = *a;
  auto b = rd.u16();
  if (!b) return b.failure();
  r.b = *b;
  auto c = rd.u32();
  if (!c) return c.failure();
  r.c = *c;
  auto d = rd.u64();
  if (!d) return d.failure();
  r.d = *d;
  auto on = rd.u8();
  if (!on) return on.failure();
  if (*on > 1) return nightjar::fail(WireError::bad_value);
  r.on = *on == 1;
  auto h = rd.fixed<Hash256>();
  if (!h) return h.failure();
  r.h = *h;
  auto name = rd.var8();
  if (!name) return name.failure();
  r.name.assign(name->begin(), name->end());
  auto body = rd.var16(body_max);
  if (!body) return body.failure();
  r.body.assign(body->begin(), body->end());
  auto blob = rd.var32(blob_max);
  if (!blob) return blob.failure();
  r.blob.assign(blob->begin(), blob->end());
  if (auto end = rd.finish(); !end) return end.failure();
  return r;
}

bool same_record(const Record& x, const Record& y) {
  return x.a == y.a && x.b == y.b && x.c == y.c && x.d == y.d && x.on == y.on && x.h == y.h &&
         x.name == y.name && x.body == y.body && x.blob == y.blob;
}

// Both decoders agree: the same record, or the same error.
bool agree(Bytes bytes) {
  auto mine = decode(bytes);
  auto ref = decode_step_by_step(bytes);
  if (mine.ok() != ref.ok()) return false;
  return mine.ok() ? same_record(*mine, *ref) : mine.error() == ref.error();
}

}  // namespace

TEST_CASE("FieldReader reads every kind of field into its variable", "[wire]") {
  const Record want = sample();
  const auto bytes = encode(want);
  auto got = decode(bytes);
  REQUIRE(got.ok());
  CHECK(same_record(*got, want));

  // Empty byte strings and a false flag.
  Record empty = want;
  empty.on = false;
  empty.name.clear();
  empty.body.clear();
  empty.blob.clear();
  auto back = decode(encode(empty));
  REQUIRE(back.ok());
  CHECK(same_record(*back, empty));
}

TEST_CASE("FieldReader keeps the first failure and ignores every later call", "[wire]") {
  // u16 then u32 with only 4 bytes: the u32 is truncated.
  const std::vector<std::uint8_t> in = {0x01, 0x02, 0x03, 0x04};
  FieldReader f(in);
  std::uint16_t x = 0;
  std::uint32_t y = 7;
  std::uint16_t z = 9;
  f.u16(x).u32(y);
  REQUIRE_FALSE(f.ok());
  CHECK_FALSE(static_cast<bool>(f));
  CHECK(f.error() == WireError::truncated);
  CHECK(x == 0x0102u);
  CHECK(y == 7u);  // the failed read leaves its variable alone
  CHECK(f.remaining() == 2u);

  // A u16 would fit in what is left, but nothing is read after a failure,
  // and later checks cannot replace the first error.
  f.u16(z).check(false, WireError::too_long).reject(WireError::trailing_bytes);
  CHECK(z == 9u);
  CHECK(f.remaining() == 2u);
  CHECK(f.error() == WireError::truncated);
  auto end = f.finish(1);
  REQUIRE_FALSE(end.ok());
  CHECK(end.error() == WireError::truncated);
  Result<int, WireError> forwarded = f.failure();
  CHECK(forwarded.error() == WireError::truncated);
}

TEST_CASE("FieldReader checks and rejects", "[wire]") {
  const std::vector<std::uint8_t> in = {0x05, 0x06};
  SECTION("a check that holds changes nothing") {
    FieldReader f(in);
    std::uint8_t v = 0;
    f.u8(v).check(v == 5).u8(v);
    CHECK(f.ok());
    CHECK(v == 6u);
    CHECK(f.finish(v).ok());
  }
  SECTION("a failed check is bad_value by default and stops the reads after it") {
    FieldReader f(in);
    std::uint8_t v = 0;
    std::uint8_t w = 0;
    f.u8(v).check(v == 4).u8(w);
    CHECK(f.error() == WireError::bad_value);
    CHECK(w == 0u);
    CHECK(f.remaining() == 1u);
  }
  SECTION("a check can name its error") {
    FieldReader f(in);
    std::uint8_t v = 0;
    f.u8(v).check(v <= 4, WireError::too_long);
    CHECK(f.error() == WireError::too_long);
  }
  SECTION("reject fails outright") {
    FieldReader f(in);
    f.reject();
    CHECK(f.error() == WireError::bad_value);
    FieldReader g(in);
    g.reject(WireError::too_long).reject(WireError::truncated);
    CHECK(g.error() == WireError::too_long);
  }
}

TEST_CASE("FieldReader flags are 0 or 1", "[wire]") {
  for (int v = 0; v < 256; ++v) {
    CAPTURE(v);
    const std::vector<std::uint8_t> in = {static_cast<std::uint8_t>(v)};
    FieldReader f(in);
    bool out = v != 1;  // the opposite of what a good read gives
    f.flag(out);
    if (v <= 1) {
      REQUIRE(f.ok());
      CHECK(out == (v == 1));
    } else {
      CHECK(f.error() == WireError::bad_value);
    }
  }
  FieldReader empty(Bytes{});
  bool out = true;
  empty.flag(out);
  CHECK(empty.error() == WireError::truncated);
  CHECK(out);
}

TEST_CASE("FieldReader byte strings: limits, truncation, strings", "[wire]") {
  WireWriter w;
  w.var16(std::vector<std::uint8_t>(10, 0xee));
  const auto in = w.take();

  SECTION("over the limit is too_long") {
    FieldReader f(in);
    std::vector<std::uint8_t> out = {1};
    f.var16(out, 9);
    CHECK(f.error() == WireError::too_long);
    CHECK(out.size() == 1u);
  }
  SECTION("at the limit reads") {
    FieldReader f(in);
    std::vector<std::uint8_t> out;
    f.var16(out, 10);
    REQUIRE(f.ok());
    CHECK(out == std::vector<std::uint8_t>(10, 0xee));
  }
  SECTION("into a string") {
    FieldReader f(in);
    std::string out;
    f.var16(out);
    REQUIRE(f.ok());
    CHECK(out == std::string(10, '\xee'));
  }
  SECTION("a prefix longer than the bytes left is truncated") {
    FieldReader f(Bytes(in).first(in.size() - 1));
    std::vector<std::uint8_t> out;
    f.var16(out);
    CHECK(f.error() == WireError::truncated);
  }
}

TEST_CASE("FieldReader::finish rejects trailing bytes, after any earlier failure", "[wire]") {
  const std::vector<std::uint8_t> in = {0x01, 0x02};
  FieldReader f(in);
  std::uint8_t v = 0;
  f.u8(v);
  auto trailing = f.finish(v);
  REQUIRE_FALSE(trailing.ok());
  CHECK(trailing.error() == WireError::trailing_bytes);

  FieldReader g(in);
  g.u8(v).check(false);
  auto first = g.finish(v);
  REQUIRE_FALSE(first.ok());
  CHECK(first.error() == WireError::bad_value);  // not trailing_bytes
}

TEST_CASE("FieldReader gives the error WireReader does, field by field", "[wire]") {
  const auto good = encode(sample());
  REQUIRE(agree(good));

  SECTION("every truncation") {
    for (std::size_t len = 0; len <= good.size(); ++len) {
      CAPTURE(len);
      CHECK(agree(Bytes(good).first(len)));
    }
  }
  SECTION("trailing bytes") {
    auto longer = good;
    longer.push_back(0);
    CHECK(agree(longer));
    CHECK(decode(longer).error() == WireError::trailing_bytes);
  }
  SECTION("random corruptions") {
    std::mt19937 rng(16u);
    std::uniform_int_distribution<std::size_t> at(0, good.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> edits(1, 4);
    int disagreements = 0;
    int failures = 0;
    for (int i = 0; i < 5000; ++i) {
      auto bad = good;
      for (int e = edits(rng); e > 0; --e)
        bad[at(rng)] = static_cast<std::uint8_t>(byte(rng));
      if (i % 2 == 1) bad.resize(at(rng));
      if (!agree(bad)) ++disagreements;
      if (!decode(bad).ok()) ++failures;
    }
    CHECK(disagreements == 0);
    CHECK(failures > 1000);  // the corruptions do reach the error paths
  }
}
