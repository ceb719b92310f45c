// Tests of swarm/storage_messages.hpp: round trips of every request and
// response, their exact layouts, every class of bad input, the request
// signatures (tampering, another key, another method), and the size of a
// store request against one onion cell.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/onion_cell.hpp"
#include "routing/wire.hpp"
#include "swarm/storage_messages.hpp"

using nightjar::Bytes;
using nightjar::Ed25519PublicKey;
using nightjar::Ed25519Signature;
using nightjar::MessageId;
using nightjar::NodeId;
using nightjar::StoredMessage;
using nightjar::to_hex;
using nightjar::WireError;
namespace crypto = nightjar::crypto;
namespace onion = nightjar::onion;
using namespace nightjar::storage;

namespace {

template <class Fixed>
Fixed filled(std::uint8_t b) {
  Fixed f;
  for (std::size_t i = 0; i < Fixed::size_bytes; ++i)
    f.bytes[i] = static_cast<std::uint8_t>(b + i);
  return f;
}

std::vector<std::uint8_t> seq(std::size_t n, std::uint8_t start = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::uint8_t>(start + i * 7);
  return v;
}

std::vector<std::uint8_t> concat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

StoreRequest store_request(std::size_t body_bytes) {
  return StoreRequest{filled<Ed25519PublicKey>(0x10), 86'400, seq(body_bytes, 3)};
}
RetrieveRequest retrieve_request() {
  RetrieveRequest r;
  r.recipient = filled<Ed25519PublicKey>(0x20);
  r.since = {0x0102030405060708, 0x1112131415161718};
  r.floor = {1'700'000'000'123, filled<MessageId>(0x30)};
  r.limit = 17;
  r.wait_ms = 25'000;
  r.timestamp_ms = 1'700'000'001'000;
  r.signature = filled<Ed25519Signature>(0x40);
  return r;
}
DeleteRequest delete_request() {
  return DeleteRequest{filled<Ed25519PublicKey>(0x50), filled<MessageId>(0x60), 1'700'000'002'000,
                       filled<Ed25519Signature>(0x70)};
}
DeleteAllRequest delete_all_request() {
  return DeleteAllRequest{filled<Ed25519PublicKey>(0x80), 1'700'000'003'000,
                          filled<Ed25519Signature>(0x90)};
}

Request round_trip(const Request& r) {
  auto decoded = decode_request(encode(r));
  REQUIRE(decoded.ok());
  REQUIRE(decoded->index() == r.index());
  CHECK(encode(*decoded) == encode(r));
  return *decoded;
}

void check_same(const StoreRequest& a, const StoreRequest& b) {
  CHECK(a.recipient == b.recipient);
  CHECK(a.ttl_seconds == b.ttl_seconds);
  CHECK(a.body == b.body);
}
void check_same(const RetrieveRequest& a, const RetrieveRequest& b) {
  CHECK(a.recipient == b.recipient);
  CHECK(a.since == b.since);
  CHECK(a.floor == b.floor);
  CHECK(a.limit == b.limit);
  CHECK(a.wait_ms == b.wait_ms);
  CHECK(a.stream == b.stream);
  CHECK(a.timestamp_ms == b.timestamp_ms);
  CHECK(a.signature == b.signature);
}
void check_same(const DeleteRequest& a, const DeleteRequest& b) {
  CHECK(a.recipient == b.recipient);
  CHECK(a.id == b.id);
  CHECK(a.timestamp_ms == b.timestamp_ms);
  CHECK(a.signature == b.signature);
}
void check_same(const DeleteAllRequest& a, const DeleteAllRequest& b) {
  CHECK(a.recipient == b.recipient);
  CHECK(a.timestamp_ms == b.timestamp_ms);
  CHECK(a.signature == b.signature);
}

template <class R>
void check_round_trip(const R& r) {
  const Request back = round_trip(Request{r});
  check_same(std::get<R>(back), r);
}

void check_request_fails(const std::vector<std::uint8_t>& bytes, WireError want) {
  auto decoded = decode_request(bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error() == want);
}

// Every strict prefix of a valid encoding is truncated.
void check_request_truncations(const std::vector<std::uint8_t>& bytes) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    check_request_fails({bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)},
                        WireError::truncated);
  }
}

StoredMessage message(std::uint8_t seed, std::size_t body_bytes) {
  StoredMessage m;
  m.id = filled<MessageId>(seed);
  m.timestamp_ms = std::uint64_t{1'700'000'000'000} + seed;
  m.expiry_ms = std::uint64_t{1'700'100'000'000} + seed;
  m.body = seq(body_bytes, seed);
  return m;
}

Response round_trip(Method method, const Response& r) {
  const auto bytes = encode(r);
  auto decoded = decode_response(method, bytes);
  REQUIRE(decoded.ok());
  CHECK(decoded->status == r.status);
  REQUIRE(decoded->body.index() == r.body.index());
  CHECK(encode(*decoded) == bytes);
  return *decoded;
}

void check_response_fails(Method method, const std::vector<std::uint8_t>& bytes, WireError want) {
  auto decoded = decode_response(method, bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error() == want);
}

void check_response_truncations(Method method, const std::vector<std::uint8_t>& bytes) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    check_response_fails(method, {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)},
                         WireError::truncated);
  }
}

constexpr Method all_methods[] = {Method::store, Method::retrieve, Method::erase, Method::erase_all,
                                  Method::info, Method::lookup};

}  // namespace

// --- Requests ----------------------------------------------------------------

TEST_CASE("Storage requests round-trip at their edge sizes", "[storage]") {
  check_round_trip(store_request(0));
  check_round_trip(store_request(1));
  check_round_trip(store_request(0xffff));
  StoreRequest no_ttl = store_request(5);
  no_ttl.ttl_seconds = 0xffffffffu;
  check_round_trip(no_ttl);

  RetrieveRequest r = retrieve_request();
  check_round_trip(r);
  r.limit = 1;
  r.wait_ms = 0;
  r.floor = {};
  r.since = {};
  check_round_trip(r);
  r.since = {~std::uint64_t{0}, ~std::uint64_t{0}};
  check_round_trip(r);
  r.limit = max_retrieve_limit;
  r.wait_ms = max_wait_ms;
  r.timestamp_ms = ~std::uint64_t{0};
  check_round_trip(r);

  check_round_trip(delete_request());
  check_round_trip(delete_all_request());
  const Request info = round_trip(Request{InfoRequest{}});
  CHECK(std::holds_alternative<InfoRequest>(info));

  // Every request that names a mailbox carries its namespace.
  StoreRequest publish = store_request(7);
  publish.ns = nightjar::Namespace::records;
  CHECK(std::get<StoreRequest>(round_trip(Request{publish})).ns == nightjar::Namespace::records);
  r.ns = nightjar::Namespace::records;
  CHECK(std::get<RetrieveRequest>(round_trip(Request{r})).ns == nightjar::Namespace::records);
  DeleteRequest d = delete_request();
  d.ns = nightjar::Namespace::records;
  CHECK(std::get<DeleteRequest>(round_trip(Request{d})).ns == nightjar::Namespace::records);
  DeleteAllRequest a = delete_all_request();
  a.ns = nightjar::Namespace::records;
  CHECK(std::get<DeleteAllRequest>(round_trip(Request{a})).ns == nightjar::Namespace::records);
  const Request lookup = round_trip(Request{LookupRequest{filled<Ed25519PublicKey>(9), 0xfe}});
  CHECK(std::get<LookupRequest>(lookup).owner == filled<Ed25519PublicKey>(9));
  CHECK(std::get<LookupRequest>(lookup).type == 0xfe);
}

TEST_CASE("Storage requests have the documented layouts", "[storage]") {
  CHECK(to_hex(encode(Request{InfoRequest{}})) == "0405");

  StoreRequest s{filled<Ed25519PublicKey>(0), 0x01020304, {0xaa, 0xbb}};
  CHECK(to_hex(encode(Request{s})) ==
        "0401" "00"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "01020304"
        "0002aabb");
  s.ns = nightjar::Namespace::records;
  CHECK(encode(Request{s})[2] == 1);

  const auto retrieve = encode(Request{retrieve_request()});
  REQUIRE(retrieve.size() == 170);
  REQUIRE(retrieve.size() == 2 + 1 + 32 + 8 + 8 + 8 + 32 + 2 + 4 + 1 + 8 + 64);
  CHECK(retrieve[1] == 2);
  CHECK(retrieve[2] == 0);
  // since: incarnation, seq; floor: timestamp (then the ID); limit 17, wait 25,000, not streamed.
  CHECK(to_hex(Bytes(retrieve).subspan(35, 24)) ==
        "01020304050607081112131415161718" "0000018bcfe5687b");
  CHECK(to_hex(Bytes(retrieve).subspan(91, 7)) == "0011000061a800");
  RetrieveRequest streamed = retrieve_request();
  streamed.stream = true;
  CHECK(encode(Request{streamed})[97] == 1);

  const auto del = encode(Request{delete_request()});
  CHECK(del.size() == 2 + 1 + 32 + 32 + 8 + 64);
  CHECK(del[1] == 3);
  const auto del_all = encode(Request{delete_all_request()});
  CHECK(del_all.size() == 2 + 1 + 32 + 8 + 64);
  CHECK(del_all[1] == 4);

  CHECK(to_hex(encode(Request{LookupRequest{filled<Ed25519PublicKey>(0), 1}})) ==
        "0406"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "01");
}

// With the default 1032-byte cell a request may be 526 bytes; a store request
// spends 41 of them (version, method, namespace, recipient, TTL, length), so a
// body of up to 485 bytes fits in one cell.
TEST_CASE("A store request with a 440-byte body fits in one onion cell", "[storage]") {
  const std::size_t room = onion::max_request_data(onion::default_cell_bytes);
  CHECK(room == 526);
  CHECK(encode(Request{store_request(440)}).size() == 481);
  CHECK(encode(Request{store_request(440)}).size() <= room);
  CHECK(encode(Request{store_request(485)}).size() == room);
  CHECK(encode(Request{store_request(486)}).size() > room);
  // Every other request fits with room to spare.
  CHECK(encode(Request{retrieve_request()}).size() <= room);
  CHECK(encode(Request{delete_request()}).size() <= room);
}

TEST_CASE("Storage request decoding rejects truncation at every length", "[storage]") {
  check_request_truncations(encode(Request{store_request(9)}));
  check_request_truncations(encode(Request{store_request(0)}));
  check_request_truncations(encode(Request{retrieve_request()}));
  check_request_truncations(encode(Request{delete_request()}));
  check_request_truncations(encode(Request{delete_all_request()}));
  check_request_truncations(encode(Request{InfoRequest{}}));
  check_request_truncations(encode(Request{LookupRequest{filled<Ed25519PublicKey>(1), 1}}));
}

TEST_CASE("Storage request decoding rejects trailing bytes", "[storage]") {
  for (const Request& r :
       {Request{store_request(3)}, Request{retrieve_request()}, Request{delete_request()},
        Request{delete_all_request()}, Request{InfoRequest{}}, Request{LookupRequest{}}}) {
    check_request_fails(concat(encode(r), {0x00}), WireError::trailing_bytes);
  }
  // A body length prefix shorter than the bytes that follow leaves some over.
  auto store = encode(Request{store_request(4)});
  store[store.size() - 5] = 3;
  check_request_fails(store, WireError::trailing_bytes);
}

TEST_CASE("Storage request decoding rejects a bad version or method", "[storage]") {
  auto bytes = encode(Request{delete_request()});
  for (int v : {0, 1, 2, 3, 5, 0xff}) {
    auto bad = bytes;
    bad[0] = static_cast<std::uint8_t>(v);
    check_request_fails(bad, WireError::bad_value);
  }
  // An unknown namespace (3 is the first after group mailboxes).
  for (const Request& r : {Request{store_request(3)}, Request{retrieve_request()},
                           Request{delete_request()}, Request{delete_all_request()}}) {
    for (int ns : {3, 0x80, 0xff}) {
      auto bad = encode(r);
      bad[2] = static_cast<std::uint8_t>(ns);
      check_request_fails(bad, WireError::bad_value);
    }
  }
  for (int m : {0, 8, 0x80, 0xff}) {
    auto bad = bytes;
    bad[1] = static_cast<std::uint8_t>(m);
    check_request_fails(bad, WireError::bad_value);
  }
  // A method byte naming another method misreads the fields and fails.
  auto other = bytes;
  other[1] = static_cast<std::uint8_t>(Method::erase_all);
  check_request_fails(other, WireError::trailing_bytes);
}

TEST_CASE("Cover requests are three bytes, a loop flag of 0 or 1, and a loop's answer is a status",
          "[storage]") {
  for (bool loop : {false, true}) {
    const auto bytes = encode(Request{CoverRequest{loop}});
    REQUIRE(bytes == std::vector<std::uint8_t>{version, 7, static_cast<std::uint8_t>(loop)});
    auto back = decode_request(bytes);
    REQUIRE(back.ok());
    REQUIRE(std::holds_alternative<CoverRequest>(*back));
    CHECK(std::get<CoverRequest>(*back).loop == loop);
  }
  for (int flag : {2, 0x80, 0xff}) {
    std::vector<std::uint8_t> bad{version, 7, static_cast<std::uint8_t>(flag)};
    check_request_fails(bad, WireError::bad_value);
  }
  check_request_fails({version, 7}, WireError::truncated);
  check_request_fails({version, 7, 1, 0}, WireError::trailing_bytes);
  const auto ok = encode(Response{Status::ok, {}});
  CHECK(ok == std::vector<std::uint8_t>{0});
  auto answer = decode_response(Method::cover, ok);
  REQUIRE(answer.ok());
  CHECK(answer->status == Status::ok);
  CHECK_FALSE(decode_response(Method::cover, std::vector<std::uint8_t>{0, 1}).ok());
}

TEST_CASE("Storage request decoding rejects out-of-range limits and waits", "[storage]") {
  RetrieveRequest r = retrieve_request();
  for (int limit : {0, max_retrieve_limit + 1, 0xffff}) {
    r.limit = static_cast<std::uint16_t>(limit);
    check_request_fails(encode(Request{r}), WireError::bad_value);
  }
  r.limit = max_retrieve_limit;
  r.wait_ms = max_wait_ms + 1;
  check_request_fails(encode(Request{r}), WireError::bad_value);
  r.wait_ms = 0xffffffffu;
  check_request_fails(encode(Request{r}), WireError::bad_value);
  r.wait_ms = max_wait_ms;
  CHECK(decode_request(encode(Request{r})).ok());
}

TEST_CASE("Storage request decoding accepts a streamed retrieve only with a wait, flag 0 or 1",
          "[storage]") {
  RetrieveRequest r = retrieve_request();
  r.stream = true;
  r.wait_ms = 1;
  auto ok = decode_request(encode(Request{r}));
  REQUIRE(ok.ok());
  CHECK(std::get<RetrieveRequest>(*ok).stream);
  check_round_trip(r);
  // Streaming without a wait means nothing: refused, not silently a plain retrieve.
  r.wait_ms = 0;
  check_request_fails(encode(Request{r}), WireError::bad_value);
  // The flag byte is 00 or 01.
  r.wait_ms = 1000;
  auto bytes = encode(Request{r});
  for (int v : {2, 0x80, 0xff}) {
    auto bad = bytes;
    bad[97] = static_cast<std::uint8_t>(v);
    check_request_fails(bad, WireError::bad_value);
  }
}

TEST_CASE("Storage request bodies are limited to 65535 bytes", "[storage]") {
  // The length prefix cannot say more; a prefix past the end is truncated.
  std::vector<std::uint8_t> bytes = encode(Request{store_request(0)});
  bytes[bytes.size() - 2] = 0xff;
  bytes[bytes.size() - 1] = 0xff;
  bytes.resize(bytes.size() + 100, 0);
  check_request_fails(bytes, WireError::truncated);
  CHECK_THROWS_AS(encode(Request{store_request(0x10000)}), std::length_error);
}

// --- Signatures --------------------------------------------------------------

TEST_CASE("Signed storage requests verify and fail when tampered with", "[storage]") {
  REQUIRE(crypto::init());
  const auto key = crypto::ed25519_generate();
  const auto other = crypto::ed25519_generate();

  RetrieveRequest r = retrieve_request();
  r.recipient = key.pub;
  sign(r, key.sec);
  CHECK(verify(r));
  CHECK(verify(std::get<RetrieveRequest>(round_trip(Request{r}))));
  {
    auto t = r;
    t.floor.timestamp_ms += 1;
    CHECK_FALSE(verify(t));
    t = r;
    t.floor.id.bytes[31] ^= 1;
    CHECK_FALSE(verify(t));
    t = r;
    t.since.incarnation ^= 1;
    CHECK_FALSE(verify(t));
    t = r;
    t.since.seq += 1;
    CHECK_FALSE(verify(t));
    t = r;
    t.limit = 18;
    CHECK_FALSE(verify(t));
    t = r;
    t.wait_ms = 0;
    CHECK_FALSE(verify(t));
    t = r;
    t.timestamp_ms += 1;
    CHECK_FALSE(verify(t));
    t = r;
    t.signature.bytes[0] ^= 1;
    CHECK_FALSE(verify(t));
    t = r;
    t.recipient = other.pub;
    CHECK_FALSE(verify(t));
    // The namespace is signed: a read of the messages is not one of the records.
    t = r;
    t.ns = nightjar::Namespace::records;
    CHECK_FALSE(verify(t));
  }

  DeleteRequest d = delete_request();
  d.recipient = key.pub;
  sign(d, key.sec);
  CHECK(verify(d));
  CHECK(verify(std::get<DeleteRequest>(round_trip(Request{d}))));
  {
    auto t = d;
    t.id.bytes[0] ^= 0x80;
    CHECK_FALSE(verify(t));
    t = d;
    t.timestamp_ms -= 1;
    CHECK_FALSE(verify(t));
  }

  DeleteAllRequest a = delete_all_request();
  a.recipient = key.pub;
  sign(a, key.sec);
  CHECK(verify(a));
  CHECK(verify(std::get<DeleteAllRequest>(round_trip(Request{a}))));
  {
    auto t = a;
    t.timestamp_ms += 60'000;
    CHECK_FALSE(verify(t));
  }

  // Signed by another key than the recipient's.
  DeleteAllRequest forged = delete_all_request();
  forged.recipient = key.pub;
  sign(forged, other.sec);
  CHECK_FALSE(verify(forged));
}

TEST_CASE("A storage signature does not verify for another method", "[storage]") {
  REQUIRE(crypto::init());
  const auto key = crypto::ed25519_generate();
  const std::uint64_t now = 1'700'000'000'000;

  RetrieveRequest r = retrieve_request();
  r.recipient = key.pub;
  r.timestamp_ms = now;
  r.floor = {};
  r.since = {};
  sign(r, key.sec);
  DeleteRequest d{key.pub, MessageId{}, now, {}};
  sign(d, key.sec);
  DeleteAllRequest a{key.pub, now, {}};
  sign(a, key.sec);
  REQUIRE(verify(r));
  REQUIRE(verify(d));
  REQUIRE(verify(a));

  // The same key, recipient and timestamp, with another method's signature.
  DeleteAllRequest a_with_r{key.pub, now, r.signature};
  CHECK_FALSE(verify(a_with_r));
  DeleteAllRequest a_with_d{key.pub, now, d.signature};
  CHECK_FALSE(verify(a_with_d));
  DeleteRequest d_with_r{key.pub, MessageId{}, now, r.signature};
  CHECK_FALSE(verify(d_with_r));
  DeleteRequest d_with_a{key.pub, MessageId{}, now, a.signature};
  CHECK_FALSE(verify(d_with_a));
  RetrieveRequest r_with_a = r;
  r_with_a.signature = a.signature;
  CHECK_FALSE(verify(r_with_a));
}

TEST_CASE("Signed bytes are a method label and the request without its signature", "[storage]") {
  const std::vector<std::pair<std::string_view, std::vector<std::uint8_t>>> cases = {
      {"nightjar retrieve v4", signed_bytes(retrieve_request())},
      {"nightjar delete v2", signed_bytes(delete_request())},
      {"nightjar delete_all v2", signed_bytes(delete_all_request())},
  };
  const std::vector<std::vector<std::uint8_t>> requests = {encode(Request{retrieve_request()}),
                                                           encode(Request{delete_request()}),
                                                           encode(Request{delete_all_request()})};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [label, signed_input] = cases[i];
    const auto& request = requests[i];
    INFO(label);
    REQUIRE(signed_input.size() == label.size() + request.size() - 2 - 64);
    CHECK(std::string(signed_input.begin(),
                      signed_input.begin() + static_cast<std::ptrdiff_t>(label.size())) == label);
    CHECK(std::equal(signed_input.begin() + static_cast<std::ptrdiff_t>(label.size()),
                     signed_input.end(), request.begin() + 2));
    // No label is a prefix of another, so no two methods sign equal bytes.
    for (const auto& [other_label, unused] : cases) {
      if (other_label == label) continue;
      CHECK(other_label.substr(0, label.size()) != label);
    }
  }
}

// --- Responses ---------------------------------------------------------------

TEST_CASE("Storage responses round-trip for each method's result", "[storage]") {
  const auto store =
      round_trip(Method::store, {Status::ok, StoreResult{filled<MessageId>(1), 77, 5}});
  const auto& sr = std::get<StoreResult>(store.body);
  CHECK(sr.id == filled<MessageId>(1));
  CHECK(sr.timestamp_ms == 77);
  CHECK(sr.replicas == 5);

  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{480}}) {
    const auto lookup = round_trip(Method::lookup, {Status::ok, LookupResult{seq(n, 1)}});
    CHECK(std::get<LookupResult>(lookup.body).record == seq(n, 1));
  }
  CHECK(to_hex(encode(Response{Status::ok, LookupResult{{0xab}}})) == "00" "0001" "ab");
  check_response_truncations(Method::lookup, encode(Response{Status::ok, LookupResult{seq(3)}}));
  check_response_fails(Method::lookup,
                       concat(encode(Response{Status::ok, LookupResult{seq(3)}}), {0}),
                       WireError::trailing_bytes);

  const auto empty = round_trip(Method::retrieve, {Status::ok, RetrieveResult{}});
  CHECK(std::get<RetrieveResult>(empty.body).messages.empty());
  CHECK_FALSE(std::get<RetrieveResult>(empty.body).more);

  RetrieveResult full;
  for (std::size_t i = 0; i < max_retrieve_limit; ++i)
    full.messages.push_back(message(static_cast<std::uint8_t>(i), i % 5));
  full.more = true;
  full.server_time_ms = 1'700'000'000'555;
  full.cursor = {0xa1a2a3a4a5a6a7a8, 0xb1b2b3b4b5b6b7b8};
  const auto back = round_trip(Method::retrieve, {Status::ok, full});
  const auto& got = std::get<RetrieveResult>(back.body);
  CHECK(got.more);
  CHECK(got.server_time_ms == full.server_time_ms);
  CHECK(got.cursor == full.cursor);
  REQUIRE(got.messages.size() == max_retrieve_limit);
  for (std::size_t i = 0; i < got.messages.size(); ++i) {
    CHECK(got.messages[i].id == full.messages[i].id);
    CHECK(got.messages[i].timestamp_ms == full.messages[i].timestamp_ms);
    CHECK(got.messages[i].expiry_ms == full.messages[i].expiry_ms);
    CHECK(got.messages[i].body == full.messages[i].body);
  }

  RetrieveResult big;
  big.messages.push_back(message(9, 0xffff));
  const auto big_back = round_trip(Method::retrieve, {Status::ok, big});
  CHECK(std::get<RetrieveResult>(big_back.body).messages.at(0).body == big.messages[0].body);

  for (Method m : {Method::erase, Method::erase_all}) {
    const auto del = round_trip(m, {Status::ok, DeleteResult{0xfedcba98}});
    CHECK(std::get<DeleteResult>(del.body).deleted == 0xfedcba98);
  }

  const auto info =
      round_trip(Method::info, {Status::ok, InfoResult{"nightjar 0.1.0", 1'700'000'000'000, 42}});
  CHECK(std::get<InfoResult>(info.body).version == "nightjar 0.1.0");
  CHECK(std::get<InfoResult>(info.body).server_time_ms == 1'700'000'000'000);
  CHECK(std::get<InfoResult>(info.body).swarm == 42);
  round_trip(Method::info, {Status::ok, InfoResult{"", 0, 0}});
  round_trip(Method::info, {Status::ok, InfoResult{std::string(255, 'v'), 1, ~std::uint64_t{0}}});
}

TEST_CASE("Retrieved messages decode without their recipient", "[storage]") {
  RetrieveResult result;
  result.messages.push_back(message(3, 10));
  result.messages[0].recipient = filled<Ed25519PublicKey>(0x55);
  const auto bytes = encode(Response{Status::ok, result});
  CHECK(bytes.size() == 1 + 2 + 1 + 8 + 16 + 32 + 8 + 8 + 2 + 10);
  auto decoded = decode_response(Method::retrieve, bytes);
  REQUIRE(decoded.ok());
  CHECK(std::get<RetrieveResult>(decoded->body).messages.at(0).recipient.is_zero());
}

TEST_CASE("Storage error responses round-trip for every status", "[storage]") {
  WrongSwarm none{7, {}};
  const auto ws0 = round_trip(Method::store, {Status::wrong_swarm, none});
  CHECK(std::get<WrongSwarm>(ws0.body).swarm == 7);
  WrongSwarm many{~std::uint64_t{0}, {}};
  for (std::size_t i = 0; i < max_listed_members; ++i)
    many.members.push_back(filled<NodeId>(static_cast<std::uint8_t>(i)));
  const auto ws = round_trip(Method::retrieve, {Status::wrong_swarm, many});
  CHECK(std::get<WrongSwarm>(ws.body).members.size() == max_listed_members);
  CHECK(std::get<WrongSwarm>(ws.body).members.back() == many.members.back());

  const auto skew = round_trip(Method::erase, {Status::clock_skew, ClockSkew{123456789}});
  CHECK(std::get<ClockSkew>(skew.body).server_time_ms == 123456789);

  // Every other status has no body, whatever the method.
  for (std::uint8_t s = 1; s < status_count; ++s) {
    const auto status = static_cast<Status>(s);
    if (status == Status::wrong_swarm || status == Status::clock_skew) continue;
    for (Method m : all_methods) {
      INFO("status " << to_string(status));
      const auto bytes = encode(Response{status, {}});
      CHECK(bytes == std::vector<std::uint8_t>{s});
      round_trip(m, {status, {}});
      check_response_fails(m, {s, 0}, WireError::trailing_bytes);
    }
  }
}

TEST_CASE("A retrieve answer has the documented layout", "[storage]") {
  RetrieveResult r;
  r.more = true;
  r.server_time_ms = 0x0102030405060708;
  r.cursor = {0x1112131415161718, 0x2122232425262728};
  StoredMessage m;
  m.id = filled<MessageId>(0x33);
  m.timestamp_ms = 5;
  m.expiry_ms = 6;
  m.body = {0xaa};
  r.messages = {m};
  const auto bytes = encode(Response{Status::ok, r});
  REQUIRE(bytes.size() == 1 + 2 + 1 + 8 + 8 + 8 + 32 + 8 + 8 + 2 + 1);
  CHECK(to_hex(Bytes(bytes).subspan(0, 28)) ==
        "00" "0001" "01" "0102030405060708" "1112131415161718" "2122232425262728");
  CHECK(to_hex(Bytes(bytes).subspan(60, 19)) == "0000000000000005" "0000000000000006" "0001aa");
}

TEST_CASE("Storage response decoding rejects truncation at every length", "[storage]") {
  RetrieveResult two;
  two.messages = {message(1, 3), message(2, 0)};
  check_response_truncations(Method::retrieve, encode(Response{Status::ok, two}));
  check_response_truncations(Method::store, encode(Response{Status::ok, StoreResult{}}));
  check_response_truncations(Method::erase_all, encode(Response{Status::ok, DeleteResult{3}}));
  check_response_truncations(Method::info, encode(Response{Status::ok, InfoResult{"v1", 5, 6}}));
  check_response_truncations(
      Method::store, encode(Response{Status::wrong_swarm, WrongSwarm{1, {NodeId{}, NodeId{}}}}));
  check_response_truncations(Method::retrieve, encode(Response{Status::clock_skew, ClockSkew{9}}));
  // An ok answer with no body.
  for (Method m : all_methods)
    check_response_fails(m, {0}, WireError::truncated);
}

TEST_CASE("Storage response decoding rejects bad statuses, counts and flags", "[storage]") {
  // Unknown status.
  for (int s : {17, 0x80, 0xff})
    check_response_fails(Method::info, {static_cast<std::uint8_t>(s)}, WireError::bad_value);

  // Trailing bytes after each kind of body.
  check_response_fails(Method::store, concat(encode(Response{Status::ok, StoreResult{}}), {0}),
                       WireError::trailing_bytes);
  check_response_fails(Method::retrieve,
                       concat(encode(Response{Status::ok, RetrieveResult{}}), {0}),
                       WireError::trailing_bytes);
  check_response_fails(Method::info,
                       concat(encode(Response{Status::ok, InfoResult{"x", 1, 2}}), {0}),
                       WireError::trailing_bytes);
  check_response_fails(Method::store,
                       concat(encode(Response{Status::wrong_swarm, WrongSwarm{}}), {0}),
                       WireError::trailing_bytes);
  check_response_fails(Method::store,
                       concat(encode(Response{Status::clock_skew, ClockSkew{}}), {0}),
                       WireError::trailing_bytes);
  // A store result read as an erase result leaves bytes over.
  check_response_fails(Method::erase, encode(Response{Status::ok, StoreResult{}}),
                       WireError::trailing_bytes);

  // Retrieve: count over the limit (checked before the messages), bad `more`.
  RetrieveResult one;
  one.messages = {message(1, 4)};
  auto bytes = encode(Response{Status::ok, one});
  auto over = bytes;
  over[1] = 0x01;
  over[2] = 0x01;  // 257
  check_response_fails(Method::retrieve, over, WireError::too_long);
  over[1] = 0xff;
  over[2] = 0xff;
  check_response_fails(Method::retrieve, over, WireError::too_long);
  auto more = bytes;
  more[3] = 2;
  check_response_fails(Method::retrieve, more, WireError::bad_value);
  // A count that claims more messages than follow.
  auto claims = bytes;
  claims[2] = 2;
  check_response_fails(Method::retrieve, claims, WireError::truncated);

  // Wrong swarm: more than max_listed_members.
  auto ws = encode(Response{Status::wrong_swarm, WrongSwarm{1, {}}});
  ws.back() = static_cast<std::uint8_t>(max_listed_members + 1);
  ws.resize(ws.size() + 32 * (max_listed_members + 1), 0);
  check_response_fails(Method::store, ws, WireError::too_long);

  // An ok answer to a method that does not exist.
  const auto ok_info = encode(Response{Status::ok, InfoResult{"x", 1, 2}});
  for (int m : {0, 8, 0xff})
    check_response_fails(static_cast<Method>(m), ok_info, WireError::bad_value);
}

TEST_CASE("Storage response encoding refuses counts over the limits", "[storage]") {
  RetrieveResult too_many;
  too_many.messages.resize(max_retrieve_limit + 1);
  CHECK_THROWS_AS(encode(Response{Status::ok, too_many}), std::length_error);
  WrongSwarm crowded{1, std::vector<NodeId>(max_listed_members + 1)};
  CHECK_THROWS_AS(encode(Response{Status::wrong_swarm, crowded}), std::length_error);
  CHECK_THROWS_AS(encode(Response{Status::ok, InfoResult{std::string(256, 'v'), 0, 0}}),
                  std::length_error);
}

TEST_CASE("Storage statuses have distinct names", "[storage]") {
  std::set<std::string> names;
  for (std::uint8_t s = 0; s < status_count; ++s) {
    const std::string name = to_string(static_cast<Status>(s));
    CHECK(name != "unknown status");
    names.insert(name);
  }
  CHECK(names.size() == status_count);
  CHECK(std::string(to_string(static_cast<Status>(status_count))) == "unknown status");
}
