// Onion cells relayed over real TCP links on loopback: a client, three
// relays and a destination, each a LinkListener + OnionRelay in one loop.
#include <catch2/catch.hpp>

#include <set>

#include "routing/onion_relay.hpp"
#include "routing/wire.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace std::chrono_literals;
using nightjar::test::TestLoop;

namespace {

const EpochSchedule schedule{3600, 600};

struct MapDirectory final : PeerDirectory {
  std::unordered_map<NodeId, PeerInfo, NodeIdHash> peers;
  std::optional<PeerInfo> lookup(const NodeId& n) const override {
    auto it = peers.find(n);
    if (it == peers.end()) return std::nullopt;
    return it->second;
  }
};

LinkConfig link_config() {
  LinkConfig c;
  c.prologue = {'o', 'n', 'i', 'o', 'n'};
  c.log = test::capture_logger("onion");
  return c;
}

// One service node: listener + relay. The destination answers "re: <request>",
// or holds the responder when `hold` is set.
struct TestNode {
  NodeId id = crypto::ed25519_generate().pub;
  std::shared_ptr<const X25519KeyPair> link_key =
      std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  std::unique_ptr<OnionRelay> relay;
  std::unique_ptr<LinkListener> listener;
  std::vector<std::shared_ptr<Link>> accepted;
  std::vector<std::vector<std::uint8_t>> cells_seen;
  std::vector<std::vector<std::uint8_t>> delivered;
  std::vector<Responder> held;
  bool hold = false;
  std::size_t reply_size = 0;  // 0: echo; else a reply of this many bytes

  TestNode(TestLoop& loop, MapDirectory& dir, RelayConfig config) {
    config.link = link_config();
    relay = std::make_unique<OnionRelay>(
        loop.get(), link_key, OnionKeyring(schedule), dir, config,
        [this](Bytes req, Responder r) {
          delivered.emplace_back(req.begin(), req.end());
          if (hold) {
            held.push_back(std::move(r));
            return;
          }
          std::vector<std::uint8_t> answer;
          if (reply_size) {
            answer.resize(reply_size);
            for (std::size_t i = 0; i < reply_size; ++i) answer[i] = static_cast<std::uint8_t>(i * 7);
          } else {
            std::string s = "re: ";
            answer.assign(s.begin(), s.end());
            answer.insert(answer.end(), req.begin(), req.end());
          }
          r.reply(answer);
        });
    listener = std::make_unique<LinkListener>(
        loop.get(), link_key, link_config(), ListenerOptions{}, [this](Link& l) {
          accepted.push_back(l.shared_from_this());
          Link::Handlers h;
          h.on_frame = [this](Link& link, Bytes f) {
            if (f.size() > onion_frame_header &&
                f[0] == static_cast<std::uint8_t>(FrameType::onion_cell))
              cells_seen.emplace_back(f.begin() + onion_frame_header, f.end());
            relay->handle_frame(link, f);
          };
          return h;
        });
    REQUIRE(listener->listen(*Endpoint::parse("127.0.0.1:0")).ok());
    dir.peers[id] = PeerInfo{*Endpoint::parse("127.0.0.1:" + std::to_string(listener->port())),
                             link_key->pub};
  }
  ~TestNode() {
    for (auto& l : accepted) l->set_handlers({});
    listener->close_links();
    listener->close();
    relay->close();
  }
  OnionHop hop(std::uint64_t now) const {
    const std::uint64_t e = schedule.epoch_at(now);
    return OnionHop{id, relay->keyring().find(e)->keys.pub, e};
  }
};

// A client with one anonymous link to its first hop.
struct TestClient {
  std::shared_ptr<Link> link;
  bool established = false;
  std::unordered_map<std::uint64_t, std::vector<ReplyKey>> keys;
  struct Got {
    std::uint64_t id;
    OpenedReply reply;
    bool last;
  };
  std::vector<Got> replies;
  std::vector<std::vector<std::uint8_t>> raw_replies;
  std::size_t unreadable = 0;

  TestClient(TestLoop& loop, const TestNode& first) {
    Link::Handlers h;
    h.on_established = [this](Link&) { established = true; };
    h.on_frame = [this](Link&, Bytes f) {
      REQUIRE(f.size() > onion_frame_header);
      const std::uint64_t id = load_u64(f.data() + 1);
      std::vector<std::uint8_t> cell(f.begin() + onion_frame_header, f.end());
      raw_replies.push_back(cell);
      auto it = keys.find(id);
      REQUIRE(it != keys.end());
      auto opened = open_reply(it->second, cell);
      if (!opened) {
        ++unreadable;
        return;
      }
      replies.push_back({id, std::move(*opened),
                         f[0] == static_cast<std::uint8_t>(FrameType::onion_reply_last)});
    };
    link = Link::dial(loop.get(),
                      *Endpoint::parse("127.0.0.1:" + std::to_string(first.listener->port())),
                      first.link_key->pub, nullptr, link_config(), h);
    REQUIRE(loop.run_until([&] { return established; }));
  }
  ~TestClient() {
    link->set_handlers({});
    link->close();
  }
  void send(std::uint64_t id, BuiltCell built) {
    std::vector<std::uint8_t> f(onion_frame_header + built.cell.size());
    f[0] = static_cast<std::uint8_t>(FrameType::onion_cell);
    store_u64(f.data() + 1, id);
    std::memcpy(f.data() + onion_frame_header, built.cell.data(), built.cell.size());
    keys[id] = std::move(built.reply_keys);
    REQUIRE(link->send(f) == SendStatus::ok);
  }
  void send_raw(Bytes f) { REQUIRE(link->send(f) == SendStatus::ok); }
};

std::vector<std::uint8_t> text(const std::string& s) { return {s.begin(), s.end()}; }

struct Network {
  std::uint64_t now = 1'800'000'000;
  MapDirectory dir;
  std::vector<std::unique_ptr<TestNode>> nodes;
  Network(TestLoop& loop, std::size_t n, RelayConfig config = {}) {
    config.clock = [this] { return now; };
    for (std::size_t i = 0; i < n; ++i) nodes.push_back(std::make_unique<TestNode>(loop, dir, config));
  }
  std::vector<OnionHop> path(std::initializer_list<std::size_t> idx) const {
    std::vector<OnionHop> p;
    for (auto i : idx) p.push_back(nodes[i]->hop(now));
    return p;
  }
  BuiltCell build(std::initializer_list<std::size_t> idx, const std::string& msg) const {
    SystemRandom rng;
    auto b = build_cell(onion::default_cell_bytes, path(idx), text(msg), rng);
    REQUIRE(b.ok());
    return std::move(*b);
  }
};

std::size_t shared_windows(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  std::set<std::vector<std::uint8_t>> w;
  for (std::size_t i = 0; i + 16 <= a.size(); ++i) w.emplace(a.begin() + long(i), a.begin() + long(i + 16));
  std::size_t n = 0;
  for (std::size_t i = 0; i + 16 <= b.size(); ++i) n += w.count({b.begin() + long(i), b.begin() + long(i + 16)});
  return n;
}

}  // namespace

TEST_CASE("a request crosses 3 relays to its destination and the reply comes back",
          "[onion][integration]") {
  TestLoop loop;
  {
    Network net(loop, 4);
    TestClient client(loop, *net.nodes[0]);
    client.send(1, net.build({0, 1, 2, 3}, "hello swarm"));
    REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
    const auto& got = client.replies[0];
    CHECK(got.last);
    CHECK(got.reply.hop == 3);
    CHECK(got.reply.kind == ReplyKind::response);
    CHECK(got.reply.data == text("re: hello swarm"));
    REQUIRE(net.nodes[3]->delivered.size() == 1);
    CHECK(net.nodes[3]->delivered[0] == text("hello swarm"));
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(net.nodes[i]->relay->stats().cells_forwarded == 1);
      CHECK(net.nodes[i]->relay->stats().replies_forwarded == 1);
      CHECK(net.nodes[i]->relay->entries() == 0);  // removed by the last reply cell
    }

    // Every hop saw a cell of the same length, and consecutive hops share no
    // 16-byte window.
    std::vector<std::vector<std::uint8_t>> seen;
    for (auto& n : net.nodes) {
      REQUIRE(n->cells_seen.size() == 1);
      seen.push_back(n->cells_seen[0]);
      CHECK(seen.back().size() == onion::default_cell_bytes);
    }
    for (std::size_t i = 0; i + 1 < seen.size(); ++i) CHECK(shared_windows(seen[i], seen[i + 1]) == 0);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a large reply arrives as several fixed-size cells", "[onion][integration]") {
  TestLoop loop;
  {
    Network net(loop, 4);
    net.nodes[3]->reply_size = 3000;
    TestClient client(loop, *net.nodes[0]);
    client.send(9, net.build({0, 1, 2, 3}, "big please"));
    REQUIRE(loop.run_until([&] { return !client.replies.empty() && client.replies.back().last; }));
    std::vector<std::uint8_t> all;
    for (auto& r : client.replies) all.insert(all.end(), r.reply.data.begin(), r.reply.data.end());
    REQUIRE(all.size() == 3000);
    for (std::size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == static_cast<std::uint8_t>(i * 7));
    CHECK(client.replies.size() == (3000 + onion::max_reply_data(onion::default_cell_bytes) - 1) /
                                       onion::max_reply_data(onion::default_cell_bytes));
    for (auto& raw : client.raw_replies) CHECK(raw.size() == onion::default_cell_bytes);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("replayed, expired and garbage cells are dropped, and other traffic is not affected",
          "[onion][integration]") {
  TestLoop loop;
  {
    Network net(loop, 4);
    TestClient client(loop, *net.nodes[0]);
    auto built = net.build({0, 1, 2, 3}, "once");
    auto copy = built.cell;
    client.send(1, std::move(built));
    REQUIRE(loop.run_until([&] { return client.replies.size() == 1; }));

    SECTION("a replayed cell") {
      std::vector<std::uint8_t> f(onion_frame_header + copy.size());
      f[0] = static_cast<std::uint8_t>(FrameType::onion_cell);
      store_u64(f.data() + 1, 2);
      std::memcpy(f.data() + onion_frame_header, copy.data(), copy.size());
      client.send_raw(f);
      REQUIRE(loop.run_until([&] {
        return net.nodes[0]->relay->stats().dropped[static_cast<int>(PeelDrop::replay)] == 1;
      }));
      CHECK(net.nodes[3]->delivered.size() == 1);
    }
    SECTION("a cell for an expired key epoch") {
      auto old = net.build({0, 1, 2, 3}, "late");
      net.now = schedule.valid_until(schedule.epoch_at(net.now)) + 1;
      for (auto& n : net.nodes) n->relay->maintain();
      client.send(3, std::move(old));
      REQUIRE(loop.run_until([&] {
        return net.nodes[0]->relay->stats().dropped[static_cast<int>(PeelDrop::expired_key)] == 1;
      }));
    }
    SECTION("garbage cells and frames") {
      std::vector<std::uint8_t> junk(onion_frame_header + onion::default_cell_bytes);
      crypto::random_bytes(junk);
      junk[0] = static_cast<std::uint8_t>(FrameType::onion_cell);
      for (int i = 0; i < 20; ++i) {
        junk[onion_frame_header + 31] ^= 0x80;  // both parities
        junk[onion_frame_header + 5] = static_cast<std::uint8_t>(i);
        client.send_raw(junk);
      }
      std::vector<std::uint8_t> shortf = {static_cast<std::uint8_t>(FrameType::onion_cell), 1, 2, 3};
      client.send_raw(shortf);
      std::vector<std::uint8_t> stray_reply(onion_frame_header + onion::default_cell_bytes, 0);
      stray_reply[0] = static_cast<std::uint8_t>(FrameType::onion_reply);
      client.send_raw(stray_reply);
      REQUIRE(loop.run_until([&] {
        const auto& s = net.nodes[0]->relay->stats();
        return s.dropped_bad_frame == 1 && s.replies_dropped == 1 && s.cells_in == 21;
      }));
      const auto& s = net.nodes[0]->relay->stats();
      CHECK(s.dropped[static_cast<int>(PeelDrop::bad_mac)] +
                s.dropped[static_cast<int>(PeelDrop::expired_key)] +
                s.dropped[static_cast<int>(PeelDrop::low_order_key)] ==
            20);
    }
    // The link and the path still work.
    client.send(7, net.build({0, 1, 2, 3}, "still here"));
    REQUIRE(loop.run_until([&] {
      return !client.replies.empty() && client.replies.back().id == 7;
    }));
    CHECK(client.replies.back().reply.data == text("re: still here"));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("cells for unknown or unreachable next hops get an error reply", "[onion][integration]") {
  TestLoop loop;
  {
    Network net(loop, 4);
    TestClient client(loop, *net.nodes[0]);

    SECTION("unknown next hop") {
      auto path = net.path({0, 1, 2, 3});
      path[2].node = crypto::ed25519_generate().pub;  // not in the directory
      SystemRandom rng;
      auto built = build_cell(onion::default_cell_bytes, path, text("x"), rng);
      REQUIRE(built.ok());
      client.send(5, std::move(*built));
      REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
      CHECK(client.replies[0].reply.kind == ReplyKind::relay_error);
      CHECK(client.replies[0].reply.hop == 1);
      CHECK(client.replies[0].reply.code == static_cast<std::uint8_t>(RelayErrorCode::unknown_next_hop));
    }
    SECTION("unreachable next hop") {
      // Node 2 stops listening; node 1 cannot connect to it.
      auto& n2 = *net.nodes[2];
      n2.listener->close();
      loop.run_for(20ms);
      client.send(6, net.build({0, 1, 2, 3}, "y"));
      REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
      CHECK(client.replies[0].reply.kind == ReplyKind::relay_error);
      CHECK(client.replies[0].reply.hop == 1);
      CHECK(client.replies[0].reply.code ==
            static_cast<std::uint8_t>(RelayErrorCode::next_hop_unreachable));
    }
    SECTION("next hop lost after the cell was forwarded") {
      // Node 3 holds the request unanswered; then it goes away, closing its
      // links. Node 2, which forwarded the cell, answers with an error at once.
      auto& n3 = *net.nodes[3];
      n3.hold = true;
      client.send(7, net.build({0, 1, 2, 3}, "z"));
      REQUIRE(loop.run_until([&] { return n3.held.size() == 1; }));
      for (auto& l : n3.accepted) l->set_handlers({});
      n3.listener->close_links();
      REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
      CHECK(client.replies[0].id == 7);
      CHECK(client.replies[0].reply.kind == ReplyKind::relay_error);
      CHECK(client.replies[0].reply.hop == 2);
      CHECK(client.replies[0].reply.code ==
            static_cast<std::uint8_t>(RelayErrorCode::next_hop_unreachable));
      CHECK(net.nodes[2]->relay->entries() == 0);
    }
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("the relay table is bounded and its entries expire", "[onion][integration]") {
  TestLoop loop;
  {
    RelayConfig config;
    config.max_entries = 2;
    config.entry_ttl = 1s;
    Network net(loop, 2, config);
    net.nodes[1]->hold = true;  // the destination never answers
    TestClient client(loop, *net.nodes[0]);
    for (std::uint64_t id = 1; id <= 3; ++id) client.send(id, net.build({0, 1}, "wait"));
    REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
    CHECK(client.replies[0].id == 3);
    CHECK(client.replies[0].reply.code == static_cast<std::uint8_t>(RelayErrorCode::overloaded));
    CHECK(net.nodes[0]->relay->entries() == 2);

    // After the TTL the entries are gone, and a late answer is dropped.
    REQUIRE(loop.run_until([&] {
      net.nodes[0]->relay->maintain();
      return net.nodes[0]->relay->entries() == 0;
    }, 5s));
    REQUIRE(net.nodes[1]->held.size() == 2);
    net.nodes[1]->held[0].reply(text("too late"));
    REQUIRE(loop.run_until([&] { return net.nodes[0]->relay->stats().replies_dropped == 1; }));
    CHECK(client.replies.size() == 1);
  }
  CHECK(loop.drain_and_close());
}
