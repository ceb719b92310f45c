// Tests of swarm/directory.hpp: the canonical encoding (round trips, layout,
// every class of bad input), the authority signatures that check_directory
// counts, and the lookups (find, swarms, members, swarm_for) that nodes and
// clients place messages by.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "routing/bytes.hpp"
#include "swarm/directory.hpp"
#include "tests/support/directory_samples.hpp"

using namespace nightjar;
using namespace nightjar::test;

namespace {

constexpr std::size_t off_count = 137;
constexpr std::size_t off_entries = 141;
constexpr std::size_t entry_bytes = 8 + 2 + NodeDescriptor::min_encoded_bytes;  // IPv4, one key

DirectoryError decode_error(const std::vector<std::uint8_t>& bytes) {
  auto d = Directory::decode(bytes);
  REQUIRE_FALSE(d.ok());
  return d.error();
}

struct Authorities {
  Ed25519KeyPair a = identity_from(0xa0, 1);
  Ed25519KeyPair b = identity_from(0xb0, 1);
  Ed25519KeyPair c = identity_from(0xc0, 1);
  Ed25519KeyPair stranger = identity_from(0xd0, 1);
  NetworkConfig config(std::uint32_t threshold = 0) const {
    return make_config({&a, &b, &c}, threshold);
  }
};

DirectoryError check_error(const Directory& d, const NetworkConfig& c,
                           std::optional<std::uint64_t> held = std::nullopt) {
  auto r = check_directory(d, c, held);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("directories of 0, 1 and many entries round trip", "[directory]") {
  const Authorities auth;
  for (std::size_t n : {0u, 1u, 2u, 250u}) {
    INFO(n << " entries");
    Directory d = make_directory(n, n + 1);
    if (n == 1) d.entries[0].node = make_descriptor(identity_from(1), true);  // IPv6, two keys
    d.params.swarm = {1, 2, 3};
    d.sign(auth.b);
    d.sign(auth.a);
    const auto bytes = d.encode();
    auto back = Directory::decode(bytes);
    REQUIRE(back.ok());
    CHECK(*back == d);
    CHECK(back->encode() == bytes);
    CHECK(back->digest() == d.digest());
    CHECK(back->encode_body().size() + 1 + 2 * 96 == bytes.size());
    CHECK(check_directory(*back, auth.config(), std::nullopt).ok());
  }
}

TEST_CASE("directory bytes follow the documented layout", "[directory]") {
  const Authorities auth;
  Directory d = make_directory(2);
  d.sign(auth.a);
  const auto b = d.encode();
  REQUIRE(b.size() == off_entries + 2 * entry_bytes + 1 + 96);
  CHECK(b[0] == 0x02);
  CHECK(to_hex(Bytes{b}.subspan(1, 32)) == d.network_id.hex());
  CHECK(load_u64(&b[33]) == d.epoch);
  CHECK(load_u64(&b[41]) == d.valid_after);
  CHECK(load_u64(&b[49]) == d.valid_until);
  WireWriter params;
  d.params.encode(params);
  CHECK(params.size() == 80u);
  CHECK(std::equal(params.bytes().begin(), params.bytes().end(), b.begin() + 57));
  CHECK(load_u32(&b[off_count]) == 2);
  CHECK(load_u64(&b[off_entries]) == d.entries[0].swarm);
  CHECK(load_u16(&b[off_entries + 8]) == NodeDescriptor::min_encoded_bytes);
  const auto first = d.entries[0].node.encode();
  CHECK(std::equal(first.begin(), first.end(), b.begin() + off_entries + 10));
  const std::size_t sigs = off_entries + 2 * entry_bytes;
  CHECK(b[sigs] == 1);
  CHECK(to_hex(Bytes{b}.subspan(sigs + 1, 32)) == auth.a.pub.hex());
  CHECK(to_hex(Bytes{b}.subspan(sigs + 33, 64)) == d.signatures[0].signature.hex());

  // The digest is BLAKE2b-256 of the label and the body, and that is signed.
  const Bytes label = as_bytes(Directory::digest_label);
  REQUIRE(label.size() == 21u);
  WireWriter input;
  input.raw(label).raw(Bytes{b}.first(sigs));
  CHECK(crypto::blake2b_256(input.bytes()) == d.digest());
  CHECK(crypto::verify(auth.a.pub, d.digest(), d.signatures[0].signature));
}

TEST_CASE("a directory truncated at any length is malformed", "[directory]") {
  const Authorities auth;
  Directory d = make_directory(2);
  d.sign(auth.a);
  d.sign(auth.b);
  const auto bytes = d.encode();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("length " << n);
    CHECK(decode_error({bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)}) ==
          DirectoryError::malformed);
  }
}

TEST_CASE("directory decode rejects each bad field", "[directory]") {
  const Authorities auth;
  Directory d = make_directory(3);
  d.sign(auth.a);
  d.sign(auth.b);
  const auto good = d.encode();
  const std::size_t sigs = off_entries + 3 * entry_bytes;
  REQUIRE(Directory::decode(good).ok());

  SECTION("format byte") {
    for (std::uint8_t f : std::initializer_list<std::uint8_t>{0x00, 0x01, 0x03, 0xff}) {
      auto b = good;
      b[0] = f;
      CHECK(decode_error(b) == DirectoryError::bad_format);
    }
  }
  SECTION("validity window") {
    auto equal = good;
    store_u64(&equal[49], load_u64(&equal[41]));
    CHECK(decode_error(equal) == DirectoryError::bad_validity);
    auto reversed = good;
    store_u64(&reversed[49], load_u64(&reversed[41]) - 1);
    CHECK(decode_error(reversed) == DirectoryError::bad_validity);
  }
  SECTION("network parameters") {
    auto b = good;
    store_u32(&b[57], 0);  // swarm.min 0
    CHECK(decode_error(b) == DirectoryError::bad_params);
    auto mix = good;
    store_u32(&mix[57 + 60], 100);  // a mixing delay of 100 ms with a bound of 0
    CHECK(decode_error(mix) == DirectoryError::bad_params);
    store_u32(&mix[57 + 64], 500);  // and now a bound of 500 ms: valid
    auto back = Directory::decode(mix);
    REQUIRE(back.ok());
    CHECK(back->params.defences.mix_delay_ms == 100);
    CHECK(back->params.defences.mix_delay_max_ms == 500);
    auto padding = good;
    store_u32(&padding[57 + 76], 10);  // poll padding under 50 ms
    CHECK(decode_error(padding) == DirectoryError::bad_params);
  }
  SECTION("entry count") {
    auto over = good;
    store_u32(&over[off_count], Directory::max_entries + 1);
    CHECK(decode_error(over) == DirectoryError::malformed);
    auto more = good;
    store_u32(&more[off_count], 4);
    CHECK(decode_error(more) == DirectoryError::malformed);
    auto fewer = good;
    store_u32(&fewer[off_count], 2);
    CHECK_FALSE(Directory::decode(fewer).ok());
    auto huge = good;
    store_u32(&huge[off_count], 0xffffffffu);
    CHECK(decode_error(huge) == DirectoryError::malformed);
  }
  SECTION("unsorted entries") {
    auto b = good;
    std::swap_ranges(b.begin() + off_entries, b.begin() + off_entries + entry_bytes,
                     b.begin() + off_entries + entry_bytes);
    CHECK(decode_error(b) == DirectoryError::bad_entry);
  }
  SECTION("duplicate entries") {
    auto b = good;
    std::copy(b.begin() + off_entries, b.begin() + off_entries + entry_bytes,
              b.begin() + off_entries + entry_bytes);
    CHECK(decode_error(b) == DirectoryError::bad_entry);
    // The same node in two swarms is a duplicate too.
    store_u64(&b[off_entries + entry_bytes], load_u64(&b[off_entries]) + 1);
    CHECK(decode_error(b) == DirectoryError::bad_entry);
  }
  SECTION("an entry whose descriptor does not decode") {
    auto port0 = good;
    const std::size_t desc = off_entries + 10;
    port0[desc + 72] = 0;
    port0[desc + 73] = 0;
    CHECK(decode_error(port0) == DirectoryError::bad_entry);
    auto too_long = good;
    store_u16(&too_long[off_entries + 8], NodeDescriptor::max_encoded_bytes + 1);
    CHECK(decode_error(too_long) == DirectoryError::bad_entry);
    auto short_prefix = good;  // the descriptor does not fit its length
    store_u16(&short_prefix[off_entries + 8], NodeDescriptor::min_encoded_bytes - 1);
    CHECK(decode_error(short_prefix) == DirectoryError::bad_entry);
  }
  SECTION("signatures unsorted, duplicated or too many") {
    auto swapped = good;
    std::swap_ranges(swapped.begin() + static_cast<std::ptrdiff_t>(sigs + 1),
                     swapped.begin() + static_cast<std::ptrdiff_t>(sigs + 97),
                     swapped.begin() + static_cast<std::ptrdiff_t>(sigs + 97));
    CHECK(decode_error(swapped) == DirectoryError::malformed);
    auto dup = good;
    std::copy(dup.begin() + static_cast<std::ptrdiff_t>(sigs + 1),
              dup.begin() + static_cast<std::ptrdiff_t>(sigs + 97),
              dup.begin() + static_cast<std::ptrdiff_t>(sigs + 97));
    CHECK(decode_error(dup) == DirectoryError::malformed);
    auto many =
        std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(sigs));
    many.push_back(Directory::max_signatures + 1);
    for (std::size_t i = 0; i <= Directory::max_signatures; ++i) {
      std::vector<std::uint8_t> sig(96, 0);
      sig[0] = static_cast<std::uint8_t>(i);
      many.insert(many.end(), sig.begin(), sig.end());
    }
    CHECK(decode_error(many) == DirectoryError::malformed);
  }
  SECTION("trailing bytes, oversize and garbage") {
    auto trailing = good;
    trailing.push_back(0);
    CHECK(decode_error(trailing) == DirectoryError::malformed);
    std::vector<std::uint8_t> huge(Directory::max_encoded_bytes + 1, 0);
    huge[0] = 1;
    CHECK(decode_error(huge) == DirectoryError::malformed);
    std::mt19937_64 rng(3);
    for (int i = 0; i < 500; ++i) {
      std::vector<std::uint8_t> g(rng() % 400);
      for (auto& x : g)
        x = static_cast<std::uint8_t>(rng());
      if (!g.empty() && i % 2 == 0) g[0] = 1;
      CHECK_FALSE(Directory::decode(g).ok());
    }
  }
}

TEST_CASE("directory encode refuses what decode would reject", "[directory]") {
  Directory d = make_directory(3);
  Directory unsorted = d;
  std::swap(unsorted.entries[0], unsorted.entries[1]);
  CHECK_THROWS_AS(unsorted.encode(), std::invalid_argument);
  Directory dup = d;
  dup.entries[1] = dup.entries[0];
  CHECK_THROWS_AS(dup.encode_body(), std::invalid_argument);
  Directory window = d;
  window.valid_until = window.valid_after;
  CHECK_THROWS_AS(window.digest(), std::invalid_argument);
  Directory params = d;
  params.params.swarm.min = 0;
  CHECK_THROWS_AS(params.encode(), std::invalid_argument);
  Directory sigs = d;
  sigs.signatures = {{identity_from(1).pub, {}}, {identity_from(1).pub, {}}};
  CHECK_THROWS_AS(sigs.encode(), std::invalid_argument);
}

TEST_CASE("a directory of 20,000 entries round trips and refuses one more", "[directory]") {
  Directory d = make_directory(Directory::max_entries, 99);
  const auto bytes = d.encode();
  CHECK(bytes.size() == off_entries + Directory::max_entries * entry_bytes + 1);
  auto back = Directory::decode(bytes);
  REQUIRE(back.ok());
  CHECK(*back == d);

  d.entries.push_back(d.entries.back());
  d.entries.back().node.id.bytes.fill(0xff);
  CHECK_THROWS_AS(d.encode(), std::invalid_argument);
}

TEST_CASE("sign and add_signature keep one signature per authority, sorted", "[directory]") {
  const Authorities auth;
  Directory d = make_directory(4);
  d.sign(auth.c);
  d.sign(auth.a);
  d.sign(auth.b);
  d.sign(auth.a);
  REQUIRE(d.signatures.size() == 3u);
  CHECK(std::is_sorted(d.signatures.begin(), d.signatures.end(),
                       [](const AuthoritySignature& x, const AuthoritySignature& y) {
                         return x.authority.bytes < y.authority.bytes;
                       }));
  AuthoritySignature replaced = d.signatures[1];
  replaced.signature.bytes.fill(7);
  d.add_signature(replaced);
  CHECK(d.signatures.size() == 3u);
  CHECK(d.signatures[1] == replaced);
  CHECK(Directory::decode(d.encode()).ok());
}

TEST_CASE("check_directory counts valid signatures of distinct configured authorities",
          "[directory]") {
  const Authorities auth;
  const NetworkConfig config = auth.config();  // 3 authorities: 2 needed
  REQUIRE(config.signatures_needed() == 2u);
  Directory d = make_directory(5);

  SECTION("3 of 3 and 2 of 3 are accepted, 1 of 3 and none are not") {
    CHECK(check_error(d, config) == DirectoryError::too_few_signatures);
    d.sign(auth.a);
    CHECK(check_error(d, config) == DirectoryError::too_few_signatures);
    d.sign(auth.c);
    CHECK(check_directory(d, config, std::nullopt).ok());
    d.sign(auth.b);
    CHECK(check_directory(d, config, std::nullopt).ok());
    // And after a trip through bytes.
    auto back = Directory::decode(d.encode());
    REQUIRE(back.ok());
    CHECK(check_directory(*back, config, std::nullopt).ok());
  }
  SECTION("a bad signature fails the check unless the threshold is met without it") {
    d.sign(auth.a);
    AuthoritySignature forged{auth.b.pub, crypto::sign(auth.b.sec, as_bytes("something else"))};
    d.add_signature(forged);
    CHECK(check_error(d, config) == DirectoryError::bad_signature);
    d.sign(auth.c);  // 2 valid: the bad one is ignored
    CHECK(check_directory(d, config, std::nullopt).ok());
  }
  SECTION("a body changed after signing fails every signature") {
    d.sign(auth.a);
    d.sign(auth.b);
    d.epoch += 1;
    CHECK(check_error(d, config) == DirectoryError::bad_signature);
    auto bytes = d.encode();
    bytes[off_entries + 20] ^= 0x40;  // inside the first descriptor's node ID
    auto back = Directory::decode(bytes);
    if (back) CHECK(check_error(*back, config) == DirectoryError::bad_signature);
  }
  SECTION("signatures by unknown keys are ignored") {
    d.sign(auth.a);
    d.sign(auth.stranger);
    CHECK(check_error(d, config) == DirectoryError::too_few_signatures);
    AuthoritySignature bad_stranger{identity_from(0xe0).pub, {}};
    d.add_signature(bad_stranger);
    CHECK(check_error(d, config) == DirectoryError::too_few_signatures);
    d.sign(auth.b);
    CHECK(check_directory(d, config, std::nullopt).ok());
  }
  SECTION("an authority that signs twice counts once") {
    d.sign(auth.a);
    d.signatures.push_back(d.signatures[0]);  // not encodable, but a caller may build it
    CHECK(check_error(d, config) == DirectoryError::too_few_signatures);
    d.signatures.push_back(d.signatures[0]);
    CHECK(check_error(d, config) == DirectoryError::too_few_signatures);
  }
  SECTION("an explicit threshold") {
    d.sign(auth.a);
    d.sign(auth.b);
    CHECK(check_error(d, auth.config(3)) == DirectoryError::too_few_signatures);
    CHECK(check_directory(d, auth.config(1), std::nullopt).ok());
    d.sign(auth.c);
    CHECK(check_directory(d, auth.config(3), std::nullopt).ok());
  }
  SECTION("one authority") {
    const NetworkConfig solo = make_config({&auth.a});
    CHECK(check_error(d, solo) == DirectoryError::too_few_signatures);
    d.sign(auth.b);
    CHECK(check_error(d, solo) == DirectoryError::too_few_signatures);
    d.sign(auth.a);
    CHECK(check_directory(d, solo, std::nullopt).ok());
  }
}

TEST_CASE("check_directory refuses other networks, old epochs and bad windows", "[directory]") {
  const Authorities auth;
  const NetworkConfig config = auth.config();
  Directory d = make_directory(3);
  d.epoch = 100;
  d.sign(auth.a);
  d.sign(auth.b);
  CHECK(check_directory(d, config, std::nullopt).ok());
  CHECK(check_directory(d, config, 99).ok());
  CHECK(check_error(d, config, 100) == DirectoryError::not_newer);
  CHECK(check_error(d, config, 101) == DirectoryError::not_newer);

  NetworkConfig other = config;
  other.network_id = network_id_from(0xcd);
  CHECK(check_error(d, other) == DirectoryError::wrong_network);

  // Hand-built directories that could not be encoded are refused with a
  // reason, not an exception.
  Directory window = d;
  window.valid_until = window.valid_after;
  CHECK(check_error(window, config) == DirectoryError::bad_validity);
  Directory unsorted = d;
  std::swap(unsorted.entries[0], unsorted.entries[2]);
  CHECK(check_error(unsorted, config) == DirectoryError::bad_entry);
  // The window is never compared with the clock: this one ended in 2023.
  CHECK(d.valid_until == 1'700'000'900u);
}

TEST_CASE("directory lookups: find, assignment, swarms, members", "[directory]") {
  const Directory d = make_directory(200, 5);
  for (const DirectoryEntry& e : d.entries) {
    const DirectoryEntry* found = d.find(e.node.id);
    REQUIRE(found != nullptr);
    CHECK(found == &e);
  }
  NodeId absent;
  absent.bytes.fill(0);
  CHECK(d.find(absent) == nullptr);
  absent.bytes.fill(0xff);
  CHECK(d.find(absent) == nullptr);
  CHECK(Directory{}.find(absent) == nullptr);

  const SwarmAssignment a = d.assignment();
  CHECK(a.size() == d.entries.size());
  for (const DirectoryEntry& e : d.entries)
    CHECK(a.at(e.node.id) == e.swarm);

  const std::vector<SwarmId> ids = d.swarms();
  CHECK(ids == swarm_ids(a));
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  std::size_t total = 0;
  for (SwarmId s : ids) {
    const auto members = d.members(s);
    CHECK_FALSE(members.empty());
    for (const DirectoryEntry* m : members)
      CHECK(m->swarm == s);
    total += members.size();
  }
  CHECK(total == d.entries.size());
  CHECK(d.members(ids.back() + 1).empty());
  CHECK(Directory{}.swarms().empty());
}

TEST_CASE("swarm_for agrees with nearest_swarm, before and after a trip through bytes",
          "[directory]") {
  CHECK_FALSE(Directory{}.swarm_for(identity_from(1).pub).has_value());

  const Directory d = make_directory(300, 11);
  auto back = Directory::decode(d.encode());
  REQUIRE(back.ok());
  const std::vector<SwarmId> ids = d.swarms();
  REQUIRE(ids.size() > 10u);

  // The sender's client holds one copy of the directory and the recipient's
  // swarm members another, decoded from the bytes they were sent: both must
  // place every recipient in the same swarm.
  std::mt19937_64 rng(12);
  std::set<SwarmId> used;
  for (int i = 0; i < 10'000; ++i) {
    Ed25519PublicKey recipient;
    for (auto& b : recipient.bytes)
      b = static_cast<std::uint8_t>(rng());
    const SwarmId expected = nearest_swarm(ids, ring_position(recipient));
    REQUIRE(d.swarm_for(recipient) == expected);
    REQUIRE(back->swarm_for(recipient) == expected);
    used.insert(expected);
  }
  CHECK(used.size() > ids.size() / 2);  // recipients spread over the swarms

  // A single swarm holds everyone.
  Directory one = make_directory(3, 13);
  for (auto& e : one.entries)
    e.swarm = 42;
  CHECK(one.swarm_for(identity_from(2).pub) == SwarmId{42});
}
