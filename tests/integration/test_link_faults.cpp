// The link fault shim on real links over loopback: dropped frames never
// arrive, delayed frames arrive whole and in order, handshakes are untouched,
// and a link closed with frames held frees everything.
#include <catch2/catch.hpp>

#include "routing/link.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace std::chrono_literals;
using nightjar::test::TestLoop;

namespace {

// A scripted policy: a fate per direction, and a count of what it was asked.
struct ScriptedFaults final : LinkFaults {
  FrameFate in, out;
  std::size_t asked_in = 0, asked_out = 0;
  std::optional<X25519PublicKey> last_peer;
  FrameFate decide(FrameDirection d, const std::optional<X25519PublicKey>& peer,
                   std::uint8_t) override {
    last_peer = peer;
    if (d == FrameDirection::in) {
      ++asked_in;
      return in;
    }
    ++asked_out;
    return out;
  }
};

LinkConfig config_with(std::shared_ptr<LinkFaults> faults) {
  LinkConfig c;
  c.prologue = {'f', 'a', 'u', 'l', 't'};
  c.log = test::capture_logger("link-faults");
  c.handshake_timeout = 2000ms;
  c.faults = std::move(faults);
  return c;
}

// A listener (with the policy) that records frames, and a plain dialer.
struct Pair {
  std::shared_ptr<ScriptedFaults> faults = std::make_shared<ScriptedFaults>();
  std::shared_ptr<const X25519KeyPair> server_key =
      std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  std::shared_ptr<const X25519KeyPair> client_key =
      std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  std::unique_ptr<LinkListener> listener;
  std::vector<std::shared_ptr<Link>> accepted;
  std::vector<std::vector<std::uint8_t>> at_server, at_client;
  std::shared_ptr<Link> dialer;
  bool established = false;

  explicit Pair(TestLoop& loop) {
    listener = std::make_unique<LinkListener>(
        loop.get(), server_key, config_with(faults), ListenerOptions{}, [this](Link& l) {
          accepted.push_back(l.shared_from_this());
          Link::Handlers h;
          h.on_frame = [this](Link&, Bytes f) { at_server.emplace_back(f.begin(), f.end()); };
          return h;
        });
    REQUIRE(listener->listen(*Endpoint::parse("127.0.0.1:0")).ok());
    Link::Handlers h;
    h.on_established = [this](Link&) { established = true; };
    h.on_frame = [this](Link&, Bytes f) { at_client.emplace_back(f.begin(), f.end()); };
    dialer =
        Link::dial(loop.get(), *Endpoint::parse("127.0.0.1:" + std::to_string(listener->port())),
                   server_key->pub, client_key, config_with(nullptr), h);
    REQUIRE(loop.run_until([&] { return established && !accepted.empty(); }));
    REQUIRE(loop.run_until([&] { return accepted[0]->established(); }));
  }
  ~Pair() {
    dialer->set_handlers({});
    dialer->close();
    for (auto& l : accepted)
      l->set_handlers({});
    listener->close_links();
    listener->close();
  }
};

std::vector<std::uint8_t> numbered(std::uint32_t i) {
  return {static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 0xAB, 0xCD};
}

}  // namespace

TEST_CASE("frames the policy drops never arrive, on the way in or out",
          "[link-faults][integration]") {
  TestLoop loop;
  {
    Pair p(loop);
    p.faults->in.drop = true;
    for (std::uint32_t i = 0; i < 20; ++i)
      REQUIRE(p.dialer->send(numbered(i)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.faults->asked_in == 20; }));
    CHECK(p.at_server.empty());
    CHECK(p.accepted[0]->stats().fault_drops == 20);
    REQUIRE(p.faults->last_peer.has_value());
    CHECK(*p.faults->last_peer == p.client_key->pub);  // the policy sees who the peer is

    // The stream is intact: with the policy relaxed, frames flow again.
    p.faults->in.drop = false;
    p.faults->out.drop = true;
    REQUIRE(p.dialer->send(numbered(99)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.at_server.size() == 1; }));
    CHECK(p.at_server[0] == numbered(99));
    CHECK(p.accepted[0]->send(numbered(7)) == SendStatus::ok);  // dropped on the way out
    p.faults->out.drop = false;
    CHECK(p.accepted[0]->send(numbered(8)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return !p.at_client.empty(); }));
    CHECK(p.at_client == std::vector<std::vector<std::uint8_t>>{numbered(8)});
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("delayed frames arrive whole and in the order they were sent",
          "[link-faults][integration]") {
  TestLoop loop;
  {
    Pair p(loop);
    p.faults->in.delay = 30ms;
    p.faults->out.delay = 10ms;
    constexpr std::uint32_t n = 200;
    for (std::uint32_t i = 0; i < n; ++i) {
      // Alternate the delay so that later frames would overtake earlier ones
      // if the queue did not keep the order.
      p.faults->in.delay = (i % 2) ? 1ms : 30ms;
      REQUIRE(p.dialer->send(numbered(i)) == SendStatus::ok);
      loop.run_for(0ms);
    }
    REQUIRE(loop.run_until([&] { return p.at_server.size() == n; }));
    for (std::uint32_t i = 0; i < n; ++i)
      CHECK(p.at_server[i] == numbered(i));
    CHECK(p.accepted[0]->stats().fault_delays == n);

    for (std::uint32_t i = 0; i < 10; ++i)
      REQUIRE(p.accepted[0]->send(numbered(i)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.at_client.size() == 10; }));
    for (std::uint32_t i = 0; i < 10; ++i)
      CHECK(p.at_client[i] == numbered(i));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a frame with no delay of its own waits behind frames held back", "[link-faults][integration]") {
  TestLoop loop;
  {
    // A partition holds frames until it heals; frames after the heal must
    // not overtake them (TCP keeps the order).
    Pair p(loop);
    p.faults->in.delay = 300ms;
    for (std::uint32_t i = 0; i < 5; ++i) REQUIRE(p.dialer->send(numbered(i)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.faults->asked_in == 5; }));
    p.faults->in.delay = 0ms;  // healed
    for (std::uint32_t i = 5; i < 10; ++i) REQUIRE(p.dialer->send(numbered(i)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.at_server.size() == 10; }));
    for (std::uint32_t i = 0; i < 10; ++i) CHECK(p.at_server[i] == numbered(i));
    // Once nothing is held, frames go straight through again.
    const auto held = p.accepted[0]->stats().fault_delays;
    REQUIRE(p.dialer->send(numbered(10)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.at_server.size() == 11; }));
    CHECK(p.accepted[0]->stats().fault_delays == held);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a link closed with frames held back frees its handles", "[link-faults][integration]") {
  TestLoop loop;
  {
    Pair p(loop);
    p.faults->in.delay = 60'000ms;
    for (std::uint32_t i = 0; i < 5; ++i)
      REQUIRE(p.dialer->send(numbered(i)) == SendStatus::ok);
    REQUIRE(loop.run_until([&] { return p.accepted[0]->stats().fault_delays == 5; }));
    p.accepted[0]->close();
    loop.run_for(20ms);
    CHECK(p.at_server.empty());
  }
  CHECK(loop.drain_and_close());  // the delay timer was closed with the link
}
