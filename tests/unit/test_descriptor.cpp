// Tests of swarm/descriptor.hpp: the canonical encoding of node descriptors
// (round trips, the documented layout, every class of bad input), their
// signatures, and the Endpoint helpers the address encoding uses.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "routing/bytes.hpp"
#include "swarm/descriptor.hpp"
#include "tests/support/directory_samples.hpp"

using namespace nightjar;
using nightjar::test::identity_from;
using nightjar::test::make_descriptor;

namespace {

// Offsets of the IPv4 layout (docs/PROTOCOL.md, "Node descriptor").
constexpr std::size_t off_version = 1;
constexpr std::size_t off_family = 67;
constexpr std::size_t off_port_v4 = 72;
constexpr std::size_t off_count_v4 = 82;
constexpr std::size_t off_key0_v4 = 83;
// In the IPv6 layout with two keys.
constexpr std::size_t off_key0_v6 = 95;
constexpr std::size_t off_key1_v6 = 95 + 56;

DescriptorError decode_error(const std::vector<std::uint8_t>& bytes) {
  auto d = NodeDescriptor::decode(bytes);
  REQUIRE_FALSE(d.ok());
  return d.error();
}

void put_u64(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v) {
  store_u64(b.data() + at, v);
}

}  // namespace

TEST_CASE("descriptors round trip through their canonical encoding", "[directory]") {
  for (bool ipv6 : {false, true}) {
    INFO("ipv6 " << ipv6);
    const auto id = identity_from(1);
    const NodeDescriptor d = make_descriptor(id, ipv6);
    const auto bytes = d.encode();
    CHECK(bytes.size() == d.encoded_size());
    CHECK(bytes.size() ==
          (ipv6 ? NodeDescriptor::largest_encoded_bytes : NodeDescriptor::min_encoded_bytes));
    CHECK(d.verify());

    auto back = NodeDescriptor::decode(bytes);
    REQUIRE(back.ok());
    CHECK(*back == d);
    CHECK(back->encode() == bytes);
    CHECK(back->verify());
    CHECK(back->address.to_string() == (ipv6 ? "[::1]:9000" : "127.0.0.1:9000"));

    // The reader form leaves the reader just past the descriptor.
    std::vector<std::uint8_t> more = bytes;
    more.push_back(0x5a);
    WireReader r(more);
    auto again = NodeDescriptor::decode(r);
    REQUIRE(again.ok());
    CHECK(r.remaining() == 1u);
  }
}

TEST_CASE("descriptor bytes follow the documented layout", "[directory]") {
  const auto id = identity_from(2);
  const NodeDescriptor d = make_descriptor(id, false, 0x2345);
  const auto b = d.encode();
  REQUIRE(b.size() == 203u);
  CHECK(b[0] == 0x01);
  CHECK(load_u16(&b[off_version]) == 1);
  CHECK(to_hex(Bytes{b}.subspan(3, 32)) == id.pub.hex());
  CHECK(to_hex(Bytes{b}.subspan(35, 32)) == d.link_key.hex());
  CHECK(b[off_family] == 4);
  CHECK(to_hex(Bytes{b}.subspan(68, 4)) == "7f000001");
  CHECK(load_u16(&b[off_port_v4]) == 0x2345);
  CHECK(load_u64(&b[74]) == d.published);
  CHECK(b[off_count_v4] == 1);
  CHECK(load_u64(&b[off_key0_v4]) == d.onion_keys[0].epoch);
  CHECK(to_hex(Bytes{b}.subspan(91, 32)) == d.onion_keys[0].key.hex());
  CHECK(load_u64(&b[123]) == d.onion_keys[0].valid_from);
  CHECK(load_u64(&b[131]) == d.onion_keys[0].valid_until);
  CHECK(to_hex(Bytes{b}.subspan(139, 64)) == d.signature.hex());

  // The signature covers the label and every byte before the signature.
  const Bytes label = as_bytes(NodeDescriptor::signature_label);
  REQUIRE(label.size() == 22u);
  WireWriter expected;
  expected.raw(label).raw(Bytes{b}.first(139));
  const std::vector<std::uint8_t> signed_input = expected.take();
  CHECK(d.signed_bytes() == signed_input);
  CHECK(crypto::verify(id.pub, signed_input, d.signature));

  const auto b6 = make_descriptor(id, true).encode();
  CHECK(b6[off_family] == 6);
  CHECK(to_hex(Bytes{b6}.subspan(68, 16)) == "00000000000000000000000000000001");
  CHECK(b6[94] == 2);
}

TEST_CASE("a descriptor truncated at any length is malformed", "[directory]") {
  for (bool ipv6 : {false, true}) {
    const auto bytes = make_descriptor(identity_from(3), ipv6).encode();
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      INFO("length " << n);
      CHECK(decode_error({bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)}) ==
            DescriptorError::malformed);
    }
  }
}

TEST_CASE("descriptor decode rejects trailing bytes and oversize input", "[directory]") {
  auto bytes = make_descriptor(identity_from(4)).encode();
  bytes.push_back(0);
  CHECK(decode_error(bytes) == DescriptorError::malformed);
  std::vector<std::uint8_t> huge(NodeDescriptor::max_encoded_bytes + 1, 0x01);
  CHECK(decode_error(huge) == DescriptorError::malformed);
  CHECK(decode_error({}) == DescriptorError::malformed);
}

TEST_CASE("descriptor decode rejects each bad field", "[directory]") {
  const auto v4 = make_descriptor(identity_from(5)).encode();
  const auto v6 = make_descriptor(identity_from(5), true).encode();

  SECTION("format byte") {
    for (std::uint8_t f : std::initializer_list<std::uint8_t>{0x00, 0x02, 0xff}) {
      auto b = v4;
      b[0] = f;
      CHECK(decode_error(b) == DescriptorError::bad_format);
    }
  }
  SECTION("protocol version 0") {
    auto b = v4;
    b[off_version] = 0;
    b[off_version + 1] = 0;
    CHECK(decode_error(b) == DescriptorError::bad_format);
  }
  SECTION("address family") {
    for (std::uint8_t f : std::initializer_list<std::uint8_t>{0, 1, 2, 5, 10, 255}) {
      auto b = v4;
      b[off_family] = f;
      CHECK(decode_error(b) == DescriptorError::bad_address);
    }
    // A family byte that disagrees with the address length misreads the rest.
    auto b = v4;
    b[off_family] = 6;
    CHECK_FALSE(NodeDescriptor::decode(b).ok());
  }
  SECTION("port 0") {
    auto b = v4;
    b[off_port_v4] = 0;
    b[off_port_v4 + 1] = 0;
    CHECK(decode_error(b) == DescriptorError::bad_address);
  }
  SECTION("onion key count 0 or over 2") {
    for (std::uint8_t n : std::initializer_list<std::uint8_t>{0, 3, 255}) {
      auto b = v4;
      b[off_count_v4] = n;
      CHECK(decode_error(b) == DescriptorError::bad_onion_keys);
    }
    auto one_less = v6;  // says 1 key but holds 2: trailing bytes
    one_less[94] = 1;
    CHECK(decode_error(one_less) == DescriptorError::malformed);
  }
  SECTION("onion keys not in increasing epoch order") {
    auto equal = v6;
    put_u64(equal, off_key1_v6, load_u64(&equal[off_key0_v6]));
    CHECK(decode_error(equal) == DescriptorError::bad_onion_keys);
    auto swapped = v6;
    std::swap_ranges(swapped.begin() + off_key0_v6, swapped.begin() + off_key1_v6,
                     swapped.begin() + off_key1_v6);
    CHECK(decode_error(swapped) == DescriptorError::bad_onion_keys);
  }
  SECTION("validity window empty or reversed") {
    auto empty = v4;
    put_u64(empty, off_key0_v4 + 48, load_u64(&empty[off_key0_v4 + 40]));
    CHECK(decode_error(empty) == DescriptorError::bad_onion_keys);
    auto reversed = v4;
    put_u64(reversed, off_key0_v4 + 48, load_u64(&reversed[off_key0_v4 + 40]) - 1);
    CHECK(decode_error(reversed) == DescriptorError::bad_onion_keys);
    auto second = v6;
    put_u64(second, off_key1_v6 + 40, load_u64(&second[off_key1_v6 + 48]));
    CHECK(decode_error(second) == DescriptorError::bad_onion_keys);
  }
}

TEST_CASE("random bytes never decode into a descriptor that re-encodes differently",
          "[directory]") {
  std::mt19937_64 rng(7);
  const auto valid = make_descriptor(identity_from(6)).encode();
  int decoded = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> b;
    if (i % 2 == 0) {
      b.resize(rng() % 300);
      for (auto& x : b)
        x = static_cast<std::uint8_t>(rng());
    } else {  // a valid descriptor with a few random bytes changed
      b = valid;
      for (int k = 0; k < 3; ++k)
        b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    }
    auto d = NodeDescriptor::decode(b);
    if (!d) continue;
    ++decoded;
    CHECK(d->encode() == b);
    (void)d->verify();
  }
  CHECK(decoded > 0);
}

TEST_CASE("a descriptor signature fails when any byte changes", "[directory]") {
  const auto id = identity_from(8);
  const auto bytes = make_descriptor(id, true).encode();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    INFO("byte " << i);
    auto b = bytes;
    b[i] ^= 0x01;
    auto d = NodeDescriptor::decode(b);
    if (d) CHECK_FALSE(d->verify());
  }

  NodeDescriptor d = make_descriptor(id);
  d.sign(identity_from(9).sec);  // not the key named by `id`
  CHECK_FALSE(d.verify());
  d.sign(id.sec);
  CHECK(d.verify());
  d.published += 1;
  CHECK_FALSE(d.verify());
}

TEST_CASE("a descriptor that fails check cannot be encoded or verified", "[directory]") {
  const auto id = identity_from(10);
  const NodeDescriptor good = make_descriptor(id);
  CHECK(good.check().ok());

  NodeDescriptor no_keys = good;
  no_keys.onion_keys.clear();
  CHECK(no_keys.check().error() == DescriptorError::bad_onion_keys);
  CHECK_THROWS_AS(no_keys.encode(), std::invalid_argument);
  CHECK_FALSE(no_keys.verify());

  NodeDescriptor no_address = good;
  no_address.address = Endpoint{};
  CHECK(no_address.check().error() == DescriptorError::bad_address);
  CHECK_THROWS_AS(no_address.encode(), std::invalid_argument);

  NodeDescriptor port0 = good;
  port0.address = Endpoint::from_ip(port0.address.ip_bytes(), 0);
  CHECK(port0.check().error() == DescriptorError::bad_address);

  NodeDescriptor version0 = good;
  version0.protocol_version = 0;
  CHECK(version0.check().error() == DescriptorError::bad_format);

  NodeDescriptor three = make_descriptor(id, true);
  three.onion_keys.push_back({three.onion_keys.back().epoch + 1, {}, 1, 2});
  CHECK(three.check().error() == DescriptorError::bad_onion_keys);
}

TEST_CASE("onion_key_at picks the latest epoch whose window holds now", "[directory]") {
  NodeDescriptor d = make_descriptor(identity_from(11), true);
  const OnionKeyInfo& current = d.onion_keys[0];  // [1'699'999'400, 1'700'004'200)
  const OnionKeyInfo& next = d.onion_keys[1];     // [1'700'002'800, 1'700'007'800)
  CHECK(d.onion_key_at(1'699'999'399) == nullptr);
  CHECK(d.onion_key_at(1'699'999'400) == &current);
  CHECK(d.onion_key_at(1'700'002'799) == &current);
  CHECK(d.onion_key_at(1'700'002'800) == &next);  // both valid: the later epoch
  CHECK(d.onion_key_at(1'700'007'799) == &next);
  CHECK(d.onion_key_at(1'700'007'800) == nullptr);
}

TEST_CASE("endpoints convert to and from raw address bytes", "[directory][endpoint]") {
  const std::uint8_t v4[] = {10, 1, 2, 3};
  const Endpoint a = Endpoint::from_ip(v4, 80);
  CHECK(a.to_string() == "10.1.2.3:80");
  CHECK(to_hex(a.ip_bytes()) == "0a010203");
  CHECK(a == *Endpoint::parse("10.1.2.3:80"));
  CHECK_FALSE(a == *Endpoint::parse("10.1.2.3:81"));
  CHECK_FALSE(a == *Endpoint::parse("10.1.2.4:80"));

  std::uint8_t v6[16] = {};
  v6[15] = 1;
  const Endpoint b = Endpoint::from_ip(v6, 443);
  CHECK(b.to_string() == "[::1]:443");
  CHECK(b.ip_bytes().size() == 16u);
  CHECK(b == *Endpoint::parse("[::1]:443"));
  CHECK_FALSE(b == a);

  const std::uint8_t odd[5] = {};
  CHECK(Endpoint::from_ip(odd, 1).ip_bytes().empty());
  CHECK(Endpoint{}.ip_bytes().empty());
  CHECK(Endpoint{} == Endpoint{});
}
