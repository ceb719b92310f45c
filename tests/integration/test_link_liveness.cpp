// The link liveness check over real TCP on loopback: a link that awaits a
// reply probes a silent peer and closes when the probes go unanswered; a
// peer that answers keeps it open however long the application is quiet; an
// idle link is never probed; pings and pongs never reach the application and
// never keep a link open for the idle timeout.
//
// Bounds on time are generous (the feature closes a dead link in about a
// second here; without it the link would stay open for its 300 s idle
// timeout), so the tests do not depend on the machine's speed.
#include <catch2/catch.hpp>
#include <thread>

#include "routing/frame.hpp"
#include "routing/link.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace std::chrono_literals;
using nightjar::test::TestLoop;

namespace {

// Drops every frame, both ways, while `silent` is set: a partition that
// leaves the TCP connection up.
struct SilencePolicy final : LinkFaults {
  bool silent = false;
  FrameFate decide(FrameDirection, const std::optional<X25519PublicKey>&, std::uint8_t) override {
    return FrameFate{silent, 0ms};
  }
};

// Probes every 200 ms, dead after 1 s of silence (5 silent ticks).
LinkConfig fast_config(std::shared_ptr<LinkFaults> faults = nullptr) {
  LinkConfig c;
  c.prologue = {'l', 'i', 'v', 'e'};
  c.log = test::capture_logger("liveness");
  c.handshake_timeout = 2000ms;
  c.liveness_probe = 200ms;
  c.liveness_timeout = 1000ms;
  c.faults = std::move(faults);
  return c;
}

// A listener whose links record application frames and closes, and one
// dialer to it.
struct Pair {
  std::shared_ptr<const X25519KeyPair> server_key =
      std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  std::unique_ptr<LinkListener> listener;
  std::shared_ptr<Link> server;  // the accepted link
  std::shared_ptr<Link> client;
  std::vector<std::vector<std::uint8_t>> at_server, at_client;
  std::optional<CloseReason> server_closed, client_closed;
  bool established = false;
  std::size_t throttle = 0;  // the server pauses reading after this many frames (0: never)
  std::size_t server_frames = 0;

  Pair(TestLoop& loop, LinkConfig client_config, LinkConfig server_config = fast_config()) {
    listener = std::make_unique<LinkListener>(
        loop.get(), server_key, std::move(server_config), ListenerOptions{}, [this](Link& l) {
          server = l.shared_from_this();
          Link::Handlers h;
          h.on_frame = [this](Link& link, Bytes f) {
            if (throttle == 0)
              at_server.emplace_back(f.begin(), f.end());
            else if (++server_frames % throttle == 0)
              link.pause_reading();
          };
          h.on_closed = [this](Link&, CloseReason r) { server_closed = r; };
          return h;
        });
    REQUIRE(listener->listen(*Endpoint::parse("127.0.0.1:0")).ok());
    Link::Handlers h;
    h.on_established = [this](Link&) { established = true; };
    h.on_frame = [this](Link&, Bytes f) { at_client.emplace_back(f.begin(), f.end()); };
    h.on_closed = [this](Link&, CloseReason r) { client_closed = r; };
    client =
        Link::dial(loop.get(), *Endpoint::parse("127.0.0.1:" + std::to_string(listener->port())),
                   server_key->pub, nullptr, std::move(client_config), h);
    REQUIRE(loop.run_until([&] { return established && server && server->established(); }));
  }
  ~Pair() {
    client->set_handlers({});
    client->close();
    if (server) server->set_handlers({});
    listener->close_links();
    listener->close();
  }
};

}  // namespace

TEST_CASE("a link awaiting a reply from a peer that answers pings stays open",
          "[link][liveness][integration]") {
  TestLoop loop;
  {
    Pair p(loop, fast_config());
    ReplyWait wait(p.client);
    CHECK(p.client->awaiting() == 1);
    // Four liveness timeouts without a single application frame.
    loop.run_for(4000ms);
    CHECK_FALSE(p.client_closed.has_value());
    CHECK(p.client->is_open());
    CHECK(p.client->stats().pings_sent >= 2);
    CHECK(p.server->stats().pongs_sent >= 1);
    // Neither end's application saw a ping or a pong.
    CHECK(p.at_server.empty());
    CHECK(p.at_client.empty());
    // The link still carries application frames.
    const std::vector<std::uint8_t> hello = {0x42, 1, 2, 3};
    REQUIRE(p.client->send(hello) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.at_server.size() == 1; }));
    CHECK(p.at_server[0] == hello);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a link awaiting a reply from a silent peer closes with liveness_timeout",
          "[link][liveness][integration]") {
  TestLoop loop;
  {
    auto policy = std::make_shared<SilencePolicy>();
    Pair p(loop, fast_config(policy));
    policy->silent = true;  // partitioned from here on; TCP stays up
    ReplyWait wait(p.client);
    // About 1 s (the timeout) plus up to one probe; 20 s is far from both
    // that and the 300 s idle timeout that would close it otherwise.
    REQUIRE(loop.run_until([&] { return p.client_closed.has_value(); }, 20s));
    CHECK(*p.client_closed == CloseReason::liveness_timeout);
    CHECK(p.client->stats().pings_sent >= 3);  // pings sent, dropped on the way out
    CHECK(p.client->stats().fault_drops >= p.client->stats().pings_sent);
    CHECK(test::log_contains("peer silent while awaited"));
    // The peer sees an ordinary close.
    REQUIRE(loop.run_until([&] { return p.server_closed.has_value(); }));
    CHECK(*p.server_closed == CloseReason::peer_closed);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a link awaiting a reply behind its own slowly draining data stays open",
          "[link][liveness][integration]") {
  TestLoop loop;
  {
    // The client keeps reading however much it has queued, so only the
    // draining of its queue tells it that the peer is there: its pings wait
    // behind megabytes the peer reads slowly, and no pong comes in time.
    // (A 2 s timeout: a slow reader's TCP window opens in bursts.)
    auto config = fast_config();
    config.liveness_timeout = 2000ms;
    config.read_pause_bytes = 64u << 20;
    config.write_queue_limit = 64u << 20;
    Pair p(loop, config);
    p.throttle = 8;
    p.server->pause_reading();
    const std::vector<std::uint8_t> big(64'000, 0x42);
    for (int i = 0; i < 512; ++i)
      REQUIRE(p.client->send(big) == SendStatus::ok);  // 32 MB
    ReplyWait wait(p.client);
    // The server reads 8 frames (512 kB) every 100 ms, for one and a half
    // liveness timeouts.
    for (int i = 0; i < 30; ++i) {
      p.server->resume_reading();
      loop.run_for(100ms);
    }
    CHECK_FALSE(p.client_closed.has_value());
    CHECK(p.server_frames > 0);
    CHECK(p.client->reading());
    // Still behind its own data: the premise held to the end.
    CHECK(p.client->write_queue_bytes() > 0);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a link that awaits nothing is never probed", "[link][liveness][integration]") {
  TestLoop loop;
  {
    auto policy = std::make_shared<SilencePolicy>();
    Pair p(loop, fast_config(policy));
    policy->silent = true;
    const auto out_before = p.client->stats().frames_out;

    SECTION("never awaited") {
      loop.run_for(2500ms);  // two and a half liveness timeouts of silence
      CHECK(p.client->stats().frames_out == out_before);
      CHECK(p.client->stats().pings_sent == 0);
      CHECK(p.client->is_open());
    }
    SECTION("the wait ended") {
      {
        ReplyWait wait(p.client);
        REQUIRE(loop.run_until([&] { return p.client->stats().pings_sent >= 1; }, 5s));
      }
      CHECK(p.client->awaiting() == 0);
      const auto pings = p.client->stats().pings_sent;
      const auto out = p.client->stats().frames_out;
      loop.run_for(2500ms);
      CHECK(p.client->stats().pings_sent == pings);
      CHECK(p.client->stats().frames_out == out);
      CHECK(p.client->is_open());
    }
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("link pings and pongs never reach the application", "[link][liveness][integration]") {
  TestLoop loop;
  {
    Pair p(loop, fast_config());
    // Both ends await, so both probe and both answer.
    ReplyWait client_wait(p.client), server_wait(p.server);
    REQUIRE(loop.run_until(
        [&] { return p.client->stats().pongs_sent >= 2 && p.server->stats().pongs_sent >= 2; },
        10s));
    // A malformed ping (the format has no payload) is neither delivered nor
    // answered. (Probing stops first, so no genuine ping is in flight.)
    client_wait.reset();
    server_wait.reset();
    loop.run_for(500ms);
    const auto pongs = p.server->stats().pongs_sent;
    const std::vector<std::uint8_t> odd_ping = {static_cast<std::uint8_t>(FrameType::link_ping), 9};
    REQUIRE(p.client->send(odd_ping) == SendStatus::ok);
    const std::vector<std::uint8_t> marker = {0x42};
    REQUIRE(p.client->send(marker) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return !p.at_server.empty(); }));
    CHECK(p.at_server == std::vector<std::vector<std::uint8_t>>{marker});
    CHECK(p.at_client.empty());
    CHECK(p.server->stats().pongs_sent == pongs);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("pings do not keep a link open past its idle timeout", "[link][liveness][integration]") {
  TestLoop loop;
  {
    // A wait that is never ended (a bug in the application) must not keep an
    // otherwise idle link open forever: only application frames count as
    // activity for the idle timeout, on the side that pings and on the side
    // that answers.
    auto short_idle = fast_config();
    short_idle.idle_timeout = 1500ms;
    SECTION("the pinging side") {
      Pair p(loop, short_idle);
      ReplyWait forgotten(p.client);
      REQUIRE(loop.run_until([&] { return p.client_closed.has_value(); }, 20s));
      CHECK(*p.client_closed == CloseReason::idle_timeout);
      CHECK(p.server->stats().pongs_sent >= 1);
    }
    SECTION("the answering side") {
      Pair p(loop, fast_config(), short_idle);
      ReplyWait forgotten(p.client);
      REQUIRE(loop.run_until([&] { return p.server_closed.has_value(); }, 20s));
      CHECK(*p.server_closed == CloseReason::idle_timeout);
      CHECK(p.server->stats().pongs_sent >= 1);
    }
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a loop thread blocked for longer than the liveness timeout does not close a link",
          "[link][liveness][integration]") {
  TestLoop loop;
  {
    Pair p(loop, fast_config());
    ReplyWait wait(p.client);
    REQUIRE(loop.run_until([&] { return p.server->stats().pongs_sent >= 1; }, 5s));
    // Nothing runs on the loop for three liveness timeouts. When it runs
    // again, the link's timer may fire before the pong waiting in the socket
    // is read; that must count as one silent probe interval, not three
    // seconds of silence.
    std::this_thread::sleep_for(3000ms);
    loop.run_for(2000ms);
    CHECK_FALSE(p.client_closed.has_value());
    CHECK(p.client->is_open());
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a zero liveness timeout turns the check off", "[link][liveness][integration]") {
  TestLoop loop;
  {
    auto policy = std::make_shared<SilencePolicy>();
    auto config = fast_config(policy);
    config.liveness_timeout = 0ms;
    Pair p(loop, config);
    policy->silent = true;
    ReplyWait wait(p.client);
    loop.run_for(2500ms);
    CHECK(p.client->is_open());
    CHECK(p.client->stats().pings_sent == 0);
  }
  CHECK(loop.drain_and_close());
}
