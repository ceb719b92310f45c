// The link layer over real TCP on loopback.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "routing/frame.hpp"
#include "routing/link.hpp"
#include "routing/wire.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace std::chrono_literals;
using nightjar::test::TestLoop;

namespace {

std::shared_ptr<const X25519KeyPair> make_key() {
  return std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
}

LinkConfig test_config() {
  LinkConfig c;
  c.prologue = {'t', 'e', 's', 't'};
  c.log = test::capture_logger("link");
  c.handshake_timeout = 2000ms;
  return c;
}

Endpoint loopback() {
  return *Endpoint::parse("127.0.0.1:0");
}

Endpoint at_port(std::uint16_t port) {
  return *Endpoint::parse("127.0.0.1:" + std::to_string(port));
}

// A listener that echoes every frame back and records what it has seen.
struct EchoServer {
  std::shared_ptr<const X25519KeyPair> key = make_key();
  std::vector<std::shared_ptr<Link>> accepted;
  std::vector<CloseReason> closes;
  std::size_t frames = 0;
  bool echo = true;
  bool pause_on_established = false;
  std::unique_ptr<LinkListener> listener;

  EchoServer(TestLoop& loop, LinkConfig config, ListenerOptions opts = {}) {
    listener = std::make_unique<LinkListener>(loop.get(), key, config, opts, [this](Link& l) {
      accepted.push_back(l.shared_from_this());
      Link::Handlers h;
      h.on_established = [this](Link& link) {
        if (pause_on_established) link.pause_reading();
      };
      h.on_frame = [this](Link& link, Bytes f) {
        ++frames;
        if (echo) (void)link.send(f);
      };
      h.on_closed = [this](Link&, CloseReason r) { closes.push_back(r); };
      return h;
    });
    auto r = listener->listen(loopback());
    REQUIRE(r.ok());
  }
  ~EchoServer() {
    // Handlers point at this object, which dies before the close callbacks run.
    for (auto& l : accepted)
      l->set_handlers({});
    listener->close_links();
    listener->close();
  }
  std::uint16_t port() const { return listener->port(); }
};

// A dialer that records events.
struct Client {
  std::shared_ptr<Link> link;
  bool established = false;
  std::optional<CloseReason> closed;
  std::vector<std::vector<std::uint8_t>> frames;
  std::size_t writable = 0;

  Client(TestLoop& loop, std::uint16_t port, const X25519PublicKey& expected,
         std::shared_ptr<const X25519KeyPair> own, LinkConfig config) {
    Link::Handlers h;
    h.on_established = [this](Link&) { established = true; };
    h.on_frame = [this](Link&, Bytes f) { frames.emplace_back(f.begin(), f.end()); };
    h.on_writable = [this](Link&) { ++writable; };
    h.on_closed = [this](Link&, CloseReason r) { closed = r; };
    link = Link::dial(loop.get(), at_port(port), expected, std::move(own), std::move(config), h);
  }
  ~Client() {
    if (link) {
      link->set_handlers({});
      link->close();
    }
  }
};

// Sends one frame and waits for its echo.
bool ping(TestLoop& loop, Client& c, std::uint8_t tag) {
  std::size_t before = c.frames.size();
  std::vector<std::uint8_t> f = {tag, 1, 2, 3};
  if (c.link->send(f) != SendStatus::ok) return false;
  return loop.run_until([&] { return c.frames.size() > before; }, 5s) && c.frames.back() == f;
}

}  // namespace

TEST_CASE("mutual and anonymous links handshake over loopback", "[link][integration]") {
  TestLoop loop;
  {
    EchoServer server(loop, test_config());
    auto own = make_key();
    Client node(loop, server.port(), server.key->pub, own, test_config());
    Client anon(loop, server.port(), server.key->pub, nullptr, test_config());
    REQUIRE(loop.run_until([&] { return node.established && anon.established; }));
    REQUIRE(loop.run_until([&] { return server.accepted.size() == 2; }));
    CHECK(*node.link->peer_static() == server.key->pub);
    REQUIRE(loop.run_until(
        [&] { return server.accepted[0]->established() && server.accepted[1]->established(); }));
    int mutual = 0, anonymous = 0;
    for (auto& l : server.accepted) {
      if (l->peer_static() && *l->peer_static() == own->pub) ++mutual;
      if (!l->peer_static()) ++anonymous;
    }
    CHECK(mutual == 1);
    CHECK(anonymous == 1);
    CHECK(ping(loop, node, 1));
    CHECK(ping(loop, anon, 2));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a dialer expecting the wrong static key fails over TCP", "[link][integration]") {
  TestLoop loop;
  {
    EchoServer server(loop, test_config());
    auto wrong = make_key();
    Client c(loop, server.port(), wrong->pub, make_key(), test_config());
    REQUIRE(loop.run_until([&] { return c.closed.has_value(); }));
    CHECK_FALSE(c.established);
    CHECK(*c.closed == CloseReason::peer_closed);
    CHECK(test::log_contains("handshake authentication failed"));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("dialing a port with no listener reports connect_failed", "[link][integration]") {
  TestLoop loop;
  std::uint16_t port;
  {
    // Find a free port by binding and closing a listener.
    EchoServer tmp(loop, test_config());
    port = tmp.port();
  }
  loop.run_for(20ms);
  Client c(loop, port, make_key()->pub, nullptr, test_config());
  REQUIRE(loop.run_until([&] { return c.closed.has_value(); }));
  CHECK(*c.closed == CloseReason::connect_failed);
  c.link.reset();
  CHECK(loop.drain_and_close());
}

TEST_CASE("a dial without a file descriptor fails as connect_failed and is counted",
          "[link][integration]") {
  TestLoop loop;
  {
    EchoServer server(loop, test_config());
    // Warm-up: a dial that works and one that fails, before the window. The
    // sanitizers' vptr check opens a pipe the first time it meets a type
    // (to see that the memory is readable); out of descriptors, that check
    // would fail and be reported as undefined behaviour.
    std::uint16_t closed_port;
    {
      EchoServer tmp(loop, test_config());
      closed_port = tmp.port();
    }
    {
      Client ok(loop, server.port(), server.key->pub, make_key(), test_config());
      REQUIRE(loop.run_until([&] { return ok.established; }));
      Client refused(loop, closed_port, make_key()->pub, make_key(), test_config());
      REQUIRE(loop.run_until([&] { return refused.closed.has_value(); }));
    }
    const std::uint64_t before = link_descriptor_failures();
    std::optional<Client> c;
    {
      // Out of descriptors for a moment: a soft limit a few above the open
      // ones, every free number below it taken by /dev/null.
      rlimit saved{};
      REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
      const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      REQUIRE(probe >= 0);
      rlimit low = saved;
      low.rlim_cur = static_cast<rlim_t>(probe) + 8;
      REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
      std::vector<int> fillers{probe};
      for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
        fillers.push_back(fd);
      const int why = errno;
      c.emplace(loop, server.port(), server.key->pub, make_key(), test_config());
      for (int fd : fillers)
        ::close(fd);
      REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
      REQUIRE(why == EMFILE);
    }
    REQUIRE(loop.run_until([&] { return c->closed.has_value(); }));
    CHECK(*c->closed == CloseReason::connect_failed);
    CHECK_FALSE(c->established);
    CHECK(link_descriptor_failures() == before + 1);
    // With descriptors again, the same dial works.
    Client again(loop, server.port(), server.key->pub, make_key(), test_config());
    REQUIRE(loop.run_until([&] { return again.established; }));
    CHECK(link_descriptor_failures() == before + 1);
    c.reset();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("10,000 frames of random sizes arrive intact and in order", "[link][integration]") {
  TestLoop loop;
  {
    auto config = test_config();
    EchoServer server(loop, config);
    server.echo = false;
    std::vector<std::vector<std::uint8_t>> received;
    std::size_t mismatches = 0;

    // Frame i is generated from i alone, so the receiver can check it without
    // the sender keeping a copy.
    auto make_frame = [&](std::uint32_t i) {
      std::mt19937 rng(i * 2654435761u + 1);
      std::size_t len = std::uniform_int_distribution<std::size_t>(0, config.max_frame)(rng);
      if (i % 1000 == 0) len = config.max_frame;
      if (i % 1000 == 1) len = 0;
      std::vector<std::uint8_t> f(len);
      for (std::size_t k = 0; k < len; k += 4) {
        auto v = static_cast<std::uint32_t>(rng());
        for (std::size_t b = 0; b < 4 && k + b < len; ++b)
          f[k + b] = static_cast<std::uint8_t>(v >> (8 * b));
      }
      // Frame types 04 and 05 belong to the link itself (frame.hpp).
      if (len > 0 && is_link_internal(f[0])) f[0] = 0xff;
      return f;
    };

    constexpr std::uint32_t total = 10'000;
    std::uint32_t next_expected = 0;
    server.listener = std::make_unique<LinkListener>(
        loop.get(), server.key, config, ListenerOptions{}, [&](Link&) {
          Link::Handlers h;
          h.on_frame = [&](Link&, Bytes f) {
            auto want = make_frame(next_expected++);
            if (!std::equal(f.begin(), f.end(), want.begin(), want.end())) ++mismatches;
          };
          return h;
        });
    REQUIRE(server.listener->listen(loopback()).ok());

    Client c(loop, server.port(), server.key->pub, make_key(), config);
    REQUIRE(loop.run_until([&] { return c.established; }));
    std::uint32_t sent = 0;
    std::size_t max_queue = 0;
    auto pump = [&] {
      while (sent < total) {
        auto f = make_frame(sent);
        auto st = c.link->send(f);
        if (st == SendStatus::queue_full) return;
        REQUIRE(st == SendStatus::ok);
        ++sent;
        max_queue = std::max(max_queue, c.link->write_queue_bytes());
      }
    };
    c.link->set_handlers(
        {nullptr, nullptr, [&](Link&) { pump(); }, [&](Link&, CloseReason r) { c.closed = r; }});
    pump();
    REQUIRE(loop.run_until([&] { return next_expected == total || c.closed; }, 120s));
    CHECK(sent == total);
    CHECK(next_expected == total);
    CHECK(mismatches == 0);
    CHECK(max_queue <= config.write_queue_limit);
    CHECK_FALSE(c.closed.has_value());
    server.listener->close_links();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("misbehaving connections are dropped with a reason, and a good one keeps working",
          "[link][integration]") {
  TestLoop loop;
  {
    auto config = test_config();
    config.handshake_timeout = 300ms;
    EchoServer server(loop, config);
    auto good_config = test_config();
    Client good(loop, server.port(), server.key->pub, make_key(), good_config);
    REQUIRE(loop.run_until([&] { return good.established; }));
    REQUIRE(ping(loop, good, 0));

    SECTION("garbage bytes") {
      auto raw = test::RawClient::connect(loop.get(), server.port());
      const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      raw->write(as_bytes(junk));
      REQUIRE(loop.run_until([&] { return raw->closed_by_peer(); }));
      CHECK(test::log_contains("not a Nightjar link handshake"));
    }
    SECTION("an oversized frame") {
      auto big_config = test_config();
      big_config.max_frame = config.max_frame * 2;
      Client big(loop, server.port(), server.key->pub, make_key(), big_config);
      REQUIRE(loop.run_until([&] { return big.established; }));
      std::vector<std::uint8_t> f(config.max_frame + 1, 7);
      REQUIRE(big.link->send(f) == SendStatus::ok);
      REQUIRE(loop.run_until([&] { return big.closed.has_value(); }));
      CHECK(test::log_contains("frame too large"));
      CHECK(server.frames == 1);  // only the good client's ping got through
    }
    SECTION("a truncated handshake followed by a close") {
      auto session = LinkSession::dialer(server.key->pub, make_key(), config.prologue);
      std::vector<std::uint8_t> req;
      session.start(req);
      auto raw = test::RawClient::connect(loop.get(), server.port());
      raw->write(Bytes{req.data(), req.size() / 2});
      loop.run_for(50ms);
      raw->close();
      REQUIRE(loop.run_until([&] { return test::log_contains("end of stream during handshake"); }));
    }
    SECTION("a truncated handshake that then stalls") {
      auto session = LinkSession::dialer(server.key->pub, make_key(), config.prologue);
      std::vector<std::uint8_t> req;
      session.start(req);
      auto raw = test::RawClient::connect(loop.get(), server.port());
      raw->write(Bytes{req.data(), req.size() - 1});
      REQUIRE(loop.run_until([&] { return raw->closed_by_peer(); }));
      CHECK(test::log_contains("handshake timed out"));
    }
    SECTION("a stalled handshake (connect, send nothing)") {
      auto raw = test::RawClient::connect(loop.get(), server.port());
      REQUIRE(loop.run_until([&] { return raw->closed_by_peer(); }));
      CHECK(test::log_contains("handshake timed out"));
      CHECK(raw->bytes_received() == 0);
    }
    // The well-behaved link survived all of it.
    CHECK_FALSE(good.closed.has_value());
    CHECK(ping(loop, good, 9));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a reader that stops reading does not make the writer's memory grow",
          "[link][integration]") {
  TestLoop loop;
  {
    auto config = test_config();
    config.read_pause_bytes = 256 * 1024;
    config.write_queue_limit = 1024 * 1024;

    SECTION("the receiver stops reading: the sender's queue is bounded") {
      EchoServer server(loop, config);
      server.pause_on_established = true;
      Client c(loop, server.port(), server.key->pub, make_key(), config);
      REQUIRE(loop.run_until([&] { return c.established; }));
      std::vector<std::uint8_t> f(16 * 1024, 1);
      std::size_t refused = 0, max_queue = 0;
      // Bounded: at most 2,000 attempts (32 MB offered), each followed by a loop turn.
      for (int i = 0; i < 2000 && refused < 50; ++i) {
        if (c.link->send(f) == SendStatus::queue_full) ++refused;
        max_queue = std::max(max_queue, c.link->write_queue_bytes());
        loop.run_for(0ms);
      }
      CHECK(refused >= 50);
      CHECK(max_queue <= config.write_queue_limit);
      CHECK(c.link->stats().sends_refused == refused);
      CHECK(c.link->is_open());

      // Once the reader resumes, everything queued is delivered and sends work again.
      std::size_t accepted = c.link->stats().frames_out;
      REQUIRE(server.accepted.size() == 1);
      server.accepted[0]->resume_reading();
      REQUIRE(loop.run_until([&] { return server.frames == accepted; }, 20s));
      CHECK(c.link->send(f) == SendStatus::ok);
    }
    SECTION("an echo server stops reading from a peer that does not read its replies") {
      EchoServer server(loop, config);
      Client c(loop, server.port(), server.key->pub, make_key(), config);
      REQUIRE(loop.run_until([&] { return c.established; }));
      c.link->pause_reading();
      std::vector<std::uint8_t> f(16 * 1024, 2);
      std::size_t refused = 0, server_max = 0;
      bool server_paused = false;
      for (int i = 0; i < 4000 && refused < 50; ++i) {
        if (c.link->send(f) == SendStatus::queue_full) ++refused;
        loop.run_for(0ms);
        if (!server.accepted.empty()) {
          server_max = std::max(server_max, server.accepted[0]->write_queue_bytes());
          server_paused = server_paused || !server.accepted[0]->reading();
        }
      }
      CHECK(server_paused);
      CHECK(refused >= 50);
      CHECK(server_max <= config.write_queue_limit);
      CHECK(server.accepted[0]->stats().sends_refused == 0);  // it paused before it had to refuse
    }
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("idle links are closed", "[link][integration]") {
  TestLoop loop;
  {
    auto config = test_config();
    config.idle_timeout = 200ms;
    EchoServer server(loop, config);
    Client c(loop, server.port(), server.key->pub, make_key(), config);
    REQUIRE(loop.run_until([&] { return c.established; }));
    REQUIRE(loop.run_until([&] { return c.closed.has_value(); }, 5s));
    CHECK(*c.closed == CloseReason::idle_timeout);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("shutdown delivers queued frames before closing", "[link][integration]") {
  TestLoop loop;
  {
    EchoServer server(loop, test_config());
    server.echo = false;
    Client c(loop, server.port(), server.key->pub, make_key(), test_config());
    REQUIRE(loop.run_until([&] { return c.established; }));
    std::vector<std::uint8_t> f(40'000, 3);
    for (int i = 0; i < 50; ++i)
      REQUIRE(c.link->send(f) == SendStatus::ok);
    c.link->shutdown();
    CHECK(c.link->send(f) == SendStatus::not_open);
    REQUIRE(loop.run_until([&] { return c.closed.has_value() && !server.closes.empty(); }));
    CHECK(*c.closed == CloseReason::local);
    CHECK(server.frames == 50);
    CHECK(server.closes[0] == CloseReason::peer_closed);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a listener over its connection limit refuses more links", "[link][integration]") {
  TestLoop loop;
  {
    ListenerOptions opts;
    opts.max_links = 1;
    EchoServer server(loop, test_config(), opts);
    Client a(loop, server.port(), server.key->pub, make_key(), test_config());
    REQUIRE(loop.run_until([&] { return a.established; }));
    Client b(loop, server.port(), server.key->pub, make_key(), test_config());
    REQUIRE(loop.run_until([&] { return b.closed.has_value(); }));
    CHECK_FALSE(b.established);
    CHECK(test::log_contains("over connection limit"));
    CHECK(ping(loop, a, 3));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("frames sent in one turn leave in one write and arrive intact and in order",
          "[link][integration][batching]") {
  TestLoop loop;
  {
    EchoServer server(loop, test_config());
    Client c(loop, server.port(), server.key->pub, make_key(), test_config());
    REQUIRE(loop.run_until([&] { return c.established; }));
    REQUIRE(loop.run_until(
        [&] { return server.accepted.size() == 1 && server.accepted[0]->established(); }));
    Link& echo = *server.accepted[0];
    constexpr std::size_t frame_bytes = 1000;
    constexpr std::size_t wire_bytes = frame_bytes + LinkSession::frame_overhead;
    // Frame i is made from i alone: an application type, its index, a pattern.
    auto frame_of = [](std::uint32_t i) {
      std::vector<std::uint8_t> f(frame_bytes);
      f[0] = 0x80;
      store_u32(f.data() + 1, i);
      for (std::size_t k = 5; k < f.size(); ++k)
        f[k] = static_cast<std::uint8_t>(i * 7 + k);
      return f;
    };

    // One frame: it waits for the end of the turn, then leaves in one write.
    LinkStats before = c.link->stats();
    REQUIRE(c.link->send(frame_of(0)) == SendStatus::ok);
    CHECK(c.link->stats().writes == before.writes);
    CHECK(c.link->stats().bytes_out == before.bytes_out);
    CHECK(c.link->write_queue_bytes() == wire_bytes);
    loop.run_for(0ms);  // one turn
    CHECK(c.link->stats().writes == before.writes + 1);
    CHECK(c.link->stats().bytes_out == before.bytes_out + wire_bytes);
    REQUIRE(loop.run_until([&] { return c.frames.size() == 1; }));
    CHECK(c.frames[0] == frame_of(0));

    // 100 frames in one turn: nothing leaves while they are sent; then one
    // try_write of all of them (and one uv_write of what the socket did not
    // take), not one write each.
    constexpr std::uint32_t total = 100;
    c.frames.clear();
    before = c.link->stats();
    const LinkStats echo_before = echo.stats();
    for (std::uint32_t i = 1; i <= total; ++i)
      REQUIRE(c.link->send(frame_of(i)) == SendStatus::ok);
    CHECK(c.link->stats().writes == before.writes);
    CHECK(c.link->stats().bytes_out == before.bytes_out);
    CHECK(c.link->write_queue_bytes() == total * wire_bytes);
    REQUIRE(loop.run_until([&] { return c.frames.size() == total; }));
    std::size_t mismatches = 0;
    for (std::uint32_t i = 1; i <= total; ++i)
      if (c.frames[i - 1] != frame_of(i)) ++mismatches;
    CHECK(mismatches == 0);
    const LinkStats& after = c.link->stats();
    CHECK(after.frames_out - before.frames_out == total);
    CHECK(after.bytes_out - before.bytes_out == total * wire_bytes);
    CHECK(after.writes - before.writes >= 1);
    CHECK(after.writes - before.writes <= 2);
    CHECK(c.link->write_queue_bytes() == 0);
    // The echoes: each read took many frames, and the echoes one turn's reads
    // produced left together.
    CHECK(echo.stats().frames_in - echo_before.frames_in == total);
    CHECK(echo.stats().frames_out - echo_before.frames_out == total);
    CHECK(echo.stats().writes - echo_before.writes < total / 4);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("shutdown closes as soon as the last write completes", "[link][integration][batching]") {
  TestLoop loop;
  {
    EchoServer server(loop, test_config());  // its handshake timeout bounds a shutdown: 2 s
    server.echo = false;
    auto config = test_config();
    config.write_queue_limit = 32u << 20;
    Client c(loop, server.port(), server.key->pub, make_key(), config);
    REQUIRE(loop.run_until([&] { return c.established; }));
    REQUIRE(loop.run_until([&] { return server.accepted.size() == 1; }));
    // The server stops reading, and 16 MB is more than the two sockets hold
    // (at most 4 MB of send buffer here, and a receive window that does not
    // grow while nothing is read): the rest waits in a uv_write, and the
    // shutdown can only be sent when that write completes.
    server.accepted[0]->pause_reading();
    std::vector<std::uint8_t> f(60'000, 3);  // an application frame type
    std::size_t sent = 0;
    const std::uint64_t writes_before = c.link->stats().writes;
    for (int i = 0; i < 270; ++i)
      if (c.link->send(f) == SendStatus::ok) ++sent;
    CHECK(sent == 270);
    loop.run_for(20ms);
    // A try_write that took part, a uv_write of the rest.
    CHECK(c.link->stats().writes - writes_before == 2);
    REQUIRE(c.link->write_queue_bytes() > 0);
    const auto start = std::chrono::steady_clock::now();
    c.link->shutdown();
    server.accepted[0]->resume_reading();
    REQUIRE(loop.run_until([&] { return c.closed.has_value() && !server.closes.empty(); }));
    CHECK(*c.closed == CloseReason::local);
    CHECK(server.frames == sent);
    CHECK(server.closes[0] == CloseReason::peer_closed);
    // Not the shutdown's time limit (the handshake timeout, 2 s): the shutdown
    // went as soon as the queue was empty.
    CHECK(std::chrono::steady_clock::now() - start < 1000ms);
  }
  CHECK(loop.drain_and_close());
}
