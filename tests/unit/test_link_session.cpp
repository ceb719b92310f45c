#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "routing/link_session.hpp"

using namespace nightjar;

namespace {

struct Collect : FrameSink {
  std::vector<std::vector<std::uint8_t>> frames;
  bool on_frame(Bytes f) override {
    frames.emplace_back(f.begin(), f.end());
    return true;
  }
};

std::shared_ptr<const X25519KeyPair> make_key() {
  return std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
}

const std::vector<std::uint8_t> prologue = {'n', 'e', 't', '1'};

struct Pair {
  LinkSession dialer;
  LinkSession responder;
  Collect at_dialer, at_responder;

  // Runs the handshake by passing bytes back and forth; returns the first error.
  std::optional<LinkError> handshake() {
    std::vector<std::uint8_t> to_resp, to_dial;
    dialer.start(to_resp);
    for (int round = 0; round < 4; ++round) {
      std::vector<std::uint8_t> out;
      if (!to_resp.empty()) {
        auto r = responder.receive(to_resp, out, at_responder);
        if (!r) return r.error();
        to_resp.clear();
        to_dial.insert(to_dial.end(), out.begin(), out.end());
        out.clear();
      }
      if (!to_dial.empty()) {
        auto r = dialer.receive(to_dial, out, at_dialer);
        if (!r) return r.error();
        to_dial.clear();
        to_resp.insert(to_resp.end(), out.begin(), out.end());
      }
    }
    return std::nullopt;
  }
};

Pair linked_pair(const std::shared_ptr<const X25519KeyPair>& server,
                 std::shared_ptr<const X25519KeyPair> client, bool allow_anonymous = true) {
  return Pair{LinkSession::dialer(server->pub, std::move(client), prologue),
              LinkSession::responder(server, prologue, allow_anonymous),
              {},
              {}};
}

}  // namespace

TEST_CASE("mutual handshake authenticates both ends", "[link]") {
  auto server = make_key();
  auto client = make_key();
  auto p = linked_pair(server, client);
  REQUIRE_FALSE(p.handshake().has_value());
  REQUIRE(p.dialer.established());
  REQUIRE(p.responder.established());
  CHECK(*p.responder.peer_static() == client->pub);
  CHECK(*p.dialer.peer_static() == server->pub);
  CHECK(p.dialer.handshake_hash() == p.responder.handshake_hash());
}

TEST_CASE("anonymous handshake leaves the dialer unidentified", "[link]") {
  auto server = make_key();
  auto p = linked_pair(server, nullptr);
  REQUIRE_FALSE(p.handshake().has_value());
  REQUIRE(p.responder.established());
  CHECK_FALSE(p.responder.peer_static().has_value());
}

TEST_CASE("a responder that requires mutual authentication refuses anonymous dialers", "[link]") {
  auto server = make_key();
  auto p = linked_pair(server, nullptr, /*allow_anonymous=*/false);
  auto err = p.handshake();
  REQUIRE(err.has_value());
  CHECK(*err == LinkError::anonymous_not_allowed);
}

TEST_CASE("a dialer expecting the wrong static key fails", "[link]") {
  auto server = make_key();
  auto impostor = make_key();
  for (auto client : {make_key(), std::shared_ptr<const X25519KeyPair>()}) {
    Pair p{LinkSession::dialer(impostor->pub, client, prologue),
           LinkSession::responder(server, prologue, true),
           {},
           {}};
    auto err = p.handshake();
    REQUIRE(err.has_value());
    CHECK(*err == LinkError::handshake_auth_failed);
    CHECK_FALSE(p.dialer.established());
  }
}

TEST_CASE("different prologues (networks) cannot link", "[link]") {
  auto server = make_key();
  const std::vector<std::uint8_t> other = {'n', 'e', 't', '2'};
  Pair p{LinkSession::dialer(server->pub, make_key(), prologue),
         LinkSession::responder(server, other, true),
         {},
         {}};
  auto err = p.handshake();
  REQUIRE(err.has_value());
  CHECK(*err == LinkError::handshake_auth_failed);
}

TEST_CASE("a tampered reply fails at the dialer", "[link]") {
  auto server = make_key();
  auto p = linked_pair(server, make_key());
  std::vector<std::uint8_t> req, reply;
  p.dialer.start(req);
  REQUIRE(p.responder.receive(req, reply, p.at_responder).ok());
  REQUIRE(reply.size() == LinkSession::reply_bytes + LinkSession::stream_header_bytes);
  reply[40] ^= 1;
  std::vector<std::uint8_t> out;
  auto r = p.dialer.receive(reply, out, p.at_dialer);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == LinkError::handshake_auth_failed);
  CHECK(p.dialer.failed());
}

TEST_CASE("frames arrive intact and in order, whatever the read boundaries", "[link]") {
  auto server = make_key();
  auto p = linked_pair(server, make_key());
  REQUIRE_FALSE(p.handshake().has_value());

  std::mt19937 rng(7);
  std::vector<std::vector<std::uint8_t>> sent;
  std::vector<std::uint8_t> wire;
  for (int i = 0; i < 300; ++i) {
    std::size_t len = std::uniform_int_distribution<std::size_t>(0, 3000)(rng);
    if (i == 5) len = LinkSession::default_max_frame;
    std::vector<std::uint8_t> f(len);
    for (auto& b : f)
      b = static_cast<std::uint8_t>(rng());
    REQUIRE(p.dialer.seal(f, wire).ok());
    sent.push_back(std::move(f));
  }
  // Feed in random-sized chunks, including one-byte reads.
  std::size_t pos = 0;
  std::vector<std::uint8_t> out;
  while (pos < wire.size()) {
    std::size_t n = std::min<std::size_t>(wire.size() - pos,
                                          std::uniform_int_distribution<std::size_t>(1, 5000)(rng));
    REQUIRE(p.responder.receive({wire.data() + pos, n}, out, p.at_responder).ok());
    pos += n;
  }
  CHECK(out.empty());
  REQUIRE(p.at_responder.frames == sent);
  CHECK(p.responder.buffered() == 0);

  // And the other direction.
  std::vector<std::uint8_t> back;
  REQUIRE(p.responder.seal(sent[1], back).ok());
  REQUIRE(p.dialer.receive(back, out, p.at_dialer).ok());
  REQUIRE(p.at_dialer.frames.size() == 1);
  CHECK(p.at_dialer.frames[0] == sent[1]);
}

TEST_CASE("seal refuses frames over the maximum and before the handshake", "[link]") {
  auto server = make_key();
  auto p = linked_pair(server, make_key());
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> f(10);
  CHECK(p.dialer.seal(f, out).error() == LinkError::not_established);
  REQUIRE_FALSE(p.handshake().has_value());
  std::vector<std::uint8_t> big(LinkSession::default_max_frame + 1);
  CHECK(p.dialer.seal(big, out).error() == LinkError::frame_too_large);
  CHECK(out.empty());
}

TEST_CASE("bad handshake bytes are rejected with a specific error", "[link]") {
  auto server = make_key();
  Collect sink;
  std::vector<std::uint8_t> out;
  auto check = [&](std::vector<std::uint8_t> in, LinkError want) {
    auto resp = LinkSession::responder(server, prologue, true);
    auto r = resp.receive(in, out, sink);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == want);
    CHECK(resp.failed());
  };
  check({'G', 'E', 'T', ' ', '/'}, LinkError::bad_magic);
  check({'N', 'J', 'L', 9, 0}, LinkError::bad_version);
  check({'N', 'J', 'L', 1, 7}, LinkError::bad_mode);

  // A request whose ephemeral key is the all-zero (low-order) point.
  std::vector<std::uint8_t> low(LinkSession::request_anonymous_bytes, 0);
  low[0] = 'N', low[1] = 'J', low[2] = 'L', low[3] = 1, low[4] = 0;
  check(low, LinkError::low_order_key);

  // Random bytes after a valid header: the tag cannot verify.
  std::vector<std::uint8_t> rnd(LinkSession::request_mutual_bytes);
  crypto::random_bytes(rnd);
  rnd[0] = 'N', rnd[1] = 'J', rnd[2] = 'L', rnd[3] = 1, rnd[4] = 1;
  check(rnd, LinkError::handshake_auth_failed);
  CHECK(out.empty());
}

TEST_CASE("a truncated handshake waits for more bytes and emits nothing", "[link]") {
  auto server = make_key();
  auto dialer = LinkSession::dialer(server->pub, make_key(), prologue);
  std::vector<std::uint8_t> req, out;
  dialer.start(req);
  auto resp = LinkSession::responder(server, prologue, true);
  Collect sink;
  REQUIRE(resp.receive({req.data(), req.size() - 1}, out, sink).ok());
  CHECK(out.empty());
  CHECK_FALSE(resp.established());
  REQUIRE(resp.receive({req.data() + req.size() - 1, 1}, out, sink).ok());
  CHECK(out.size() == LinkSession::reply_bytes + LinkSession::stream_header_bytes);
}

TEST_CASE("bad frames after the handshake are rejected", "[link]") {
  auto server = make_key();
  std::vector<std::uint8_t> out;

  SECTION("oversized length is rejected before the body arrives") {
    auto p = linked_pair(server, make_key());
    REQUIRE_FALSE(p.handshake().has_value());
    std::vector<std::uint8_t> hdr = {0x7f, 0xff, 0xff, 0xff};
    auto r = p.responder.receive(hdr, out, p.at_responder);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == LinkError::frame_too_large);
  }
  SECTION("length below the AEAD overhead") {
    auto p = linked_pair(server, make_key());
    REQUIRE_FALSE(p.handshake().has_value());
    std::vector<std::uint8_t> hdr = {0, 0, 0, 3, 1, 2, 3};
    CHECK(p.responder.receive(hdr, out, p.at_responder).error() == LinkError::frame_too_small);
  }
  SECTION("a flipped bit in a frame") {
    auto p = linked_pair(server, make_key());
    REQUIRE_FALSE(p.handshake().has_value());
    std::vector<std::uint8_t> wire;
    std::vector<std::uint8_t> f(100, 0x42);
    REQUIRE(p.dialer.seal(f, wire).ok());
    wire[50] ^= 0x10;
    CHECK(p.responder.receive(wire, out, p.at_responder).error() == LinkError::frame_auth_failed);
    CHECK(p.at_responder.frames.empty());
  }
  SECTION("a replayed frame") {
    auto p = linked_pair(server, make_key());
    REQUIRE_FALSE(p.handshake().has_value());
    std::vector<std::uint8_t> wire;
    std::vector<std::uint8_t> f(100, 0x42);
    REQUIRE(p.dialer.seal(f, wire).ok());
    REQUIRE(p.responder.receive(wire, out, p.at_responder).ok());
    CHECK(p.responder.receive(wire, out, p.at_responder).error() == LinkError::frame_auth_failed);
    CHECK(p.at_responder.frames.size() == 1);
  }
}
