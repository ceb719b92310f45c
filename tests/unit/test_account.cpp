// Account IDs (client/account.hpp): the text form round-trips, every class of
// bad input gets its own error, every single-character typo is caught, and the
// fingerprint is stable and key-specific.
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>

#include "client/account.hpp"
#include "routing/crypto.hpp"

using namespace nightjar;
using namespace nightjar::client;

namespace {

constexpr std::string_view base32_alphabet = "abcdefghijklmnopqrstuvwxyz234567";

AccountKey key_from(std::uint8_t seed_byte) {
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i)
    seed.data()[i] = static_cast<std::uint8_t>(seed_byte * 31 + i);
  return crypto::ed25519_from_seed(seed).pub;
}

AccountIdProblem problem_of(std::string_view text) {
  auto r = parse_account_id(text);
  REQUIRE_FALSE(r.ok());
  return r.error().problem;
}

}  // namespace

TEST_CASE("an account ID round-trips through its text form", "[client][unit]") {
  for (std::uint8_t i = 0; i < 50; ++i) {
    const AccountKey key = key_from(i);
    const std::string id = format_account_id(key);
    CHECK(id.size() == account_id_chars);
    CHECK(id.substr(0, 2) == "nj");
    for (char c : id.substr(2))
      CHECK(base32_alphabet.find(c) != std::string_view::npos);
    auto parsed = parse_account_id(id);
    REQUIRE(parsed.ok());
    CHECK(*parsed == key);
  }
}

TEST_CASE("the account ID and fingerprint are pinned by known answers", "[client][unit]") {
  // Seed 00 01 .. 1f. Both strings were computed independently (Python's
  // hashlib.blake2b and base64.b32encode) from the layout in docs/ENVELOPE.md.
  Ed25519Seed seed;
  for (std::size_t i = 0; i < seed.size(); ++i)
    seed.data()[i] = static_cast<std::uint8_t>(i);
  const AccountKey key = crypto::ed25519_from_seed(seed).pub;
  REQUIRE(key.hex() == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
  CHECK(format_account_id(key) == "njaoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4i2q3d7y");
  CHECK(fingerprint(key) == "24362 63706 19163 61806 17301 75040 68240 55624");
}

TEST_CASE("account IDs accept surrounding whitespace and any letter case", "[client][unit]") {
  const AccountKey key = key_from(7);
  const std::string id = format_account_id(key);
  std::string upper = id;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string mixed = id;
  for (std::size_t i = 0; i < mixed.size(); i += 2)
    mixed[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[i])));
  for (const std::string& text : {upper, mixed, "  " + id + "\n", "\t" + upper + " \r\n"}) {
    auto parsed = parse_account_id(text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == key);
  }
}

TEST_CASE("each class of bad account ID gets its own error", "[client][unit]") {
  const std::string id = format_account_id(key_from(3));

  CHECK(problem_of("") == AccountIdProblem::wrong_prefix);
  CHECK(problem_of("n") == AccountIdProblem::wrong_prefix);
  CHECK(problem_of("xx" + id.substr(2)) == AccountIdProblem::wrong_prefix);
  CHECK(problem_of(id.substr(2)) == AccountIdProblem::wrong_prefix);

  std::string bad = id;
  bad[17] = '0';
  auto r = parse_account_id(bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().problem == AccountIdProblem::bad_character);
  CHECK(r.error().position == 17);
  CHECK_THAT(to_string(r.error()), Catch::Contains("position 18"));
  CHECK(problem_of(id.substr(0, 30) + " " + id.substr(30)) == AccountIdProblem::bad_character);
  CHECK(problem_of(id + "1") == AccountIdProblem::bad_character);

  auto shorter = parse_account_id(id.substr(0, account_id_chars - 1));
  REQUIRE_FALSE(shorter.ok());
  CHECK(shorter.error().problem == AccountIdProblem::wrong_length);
  CHECK(shorter.error().position == account_id_chars - 1);
  CHECK_THAT(to_string(shorter.error()), Catch::Contains("wrong length"));
  CHECK(problem_of(id + "a") == AccountIdProblem::wrong_length);
  CHECK(problem_of("nj") == AccountIdProblem::wrong_length);

  // Two neighbouring characters swapped.
  std::string swapped = id;
  std::size_t at = 10;
  while (swapped[at] == swapped[at + 1])
    ++at;
  std::swap(swapped[at], swapped[at + 1]);
  auto sw = parse_account_id(swapped);
  REQUIRE_FALSE(sw.ok());
  CHECK(sw.error().problem == AccountIdProblem::checksum_mismatch);
  CHECK(to_string(sw.error()) == "checksum mismatch: a character is mistyped");

  // A correct checksum over bytes that are not an Ed25519 key.
  AccountKey not_a_point;
  not_a_point.bytes.fill(0);  // the identity point: small order
  CHECK(problem_of(format_account_id(not_a_point)) == AccountIdProblem::not_a_key);
}

TEST_CASE("every single-character substitution of an account ID is caught", "[client][unit]") {
  std::size_t substitutions = 0;
  for (std::uint8_t k = 0; k < 40; ++k) {
    const std::string id = format_account_id(key_from(static_cast<std::uint8_t>(100 + k)));
    for (std::size_t pos = 2; pos < id.size(); ++pos) {
      for (char c : base32_alphabet) {
        if (c == id[pos]) continue;
        std::string typo = id;
        typo[pos] = c;
        auto r = parse_account_id(typo);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().problem == AccountIdProblem::checksum_mismatch);
        ++substitutions;
      }
    }
  }
  CHECK(substitutions == 40 * 58 * 31);
}

TEST_CASE("the last character's spare bits must be zero", "[client][unit]") {
  const std::string id = format_account_id(key_from(9));
  const std::size_t last = id.size() - 1;
  const auto value = base32_alphabet.find(id[last]);
  REQUIRE((value & 3u) == 0);
  for (unsigned low = 1; low < 4; ++low) {
    std::string typo = id;
    typo[last] = base32_alphabet[value | low];
    CHECK(problem_of(typo) == AccountIdProblem::checksum_mismatch);
  }
}

TEST_CASE("a fingerprint is stable and differs between keys", "[client][unit]") {
  const AccountKey key = key_from(1);
  const std::string fp = fingerprint(key);
  CHECK(fp == fingerprint(key));
  REQUIRE(fp.size() == fingerprint_groups * 6 - 1);
  for (std::size_t i = 0; i < fp.size(); ++i) {
    if (i % 6 == 5)
      CHECK(fp[i] == ' ');
    else
      CHECK(std::isdigit(static_cast<unsigned char>(fp[i])));
  }

  std::set<std::string> seen;
  std::set<std::string> first_groups;
  for (std::uint8_t i = 0; i < 64; ++i) {
    const std::string f = fingerprint(key_from(i));
    seen.insert(f);
    first_groups.insert(f.substr(0, 5));
  }
  CHECK(seen.size() == 64);
  // Every group depends on the key, the first one included.
  CHECK(first_groups.size() > 60);

  AccountKey flipped = key;
  flipped.bytes[31] ^= 1;
  CHECK(fingerprint(flipped) != fp);
}
