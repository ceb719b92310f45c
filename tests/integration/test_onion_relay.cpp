// Onion cells relayed over real TCP links on loopback: a client, three
// relays and a destination, each a LinkListener + OnionRelay in one loop.
#include <catch2/catch.hpp>

#include <set>

#include "tests/support/onion_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace std::chrono_literals;

namespace {

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
    RelayNetwork net(loop, 4);
    CellClient client(loop, *net.nodes[0]);
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
      CHECK(net.nodes[i]->relay->awaiting_replies() == 0);
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
    RelayNetwork net(loop, 4);
    net.nodes[3]->reply_size = 3000;
    CellClient client(loop, *net.nodes[0]);
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
    RelayNetwork net(loop, 4);
    CellClient client(loop, *net.nodes[0]);
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
      net.now = onion_schedule.valid_until(onion_schedule.epoch_at(net.now)) + 1;
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
    RelayNetwork net(loop, 4);
    CellClient client(loop, *net.nodes[0]);

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
      CHECK(net.nodes[2]->relay->awaiting_replies() == 1);
      for (auto& l : n3.accepted) l->set_handlers({});
      n3.listener->close_links();
      REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
      CHECK(client.replies[0].id == 7);
      CHECK(client.replies[0].reply.kind == ReplyKind::relay_error);
      CHECK(client.replies[0].reply.hop == 2);
      CHECK(client.replies[0].reply.code ==
            static_cast<std::uint8_t>(RelayErrorCode::next_hop_unreachable));
      CHECK(net.nodes[2]->relay->entries() == 0);
      CHECK(net.nodes[2]->relay->awaiting_replies() == 0);
      CHECK(net.nodes[1]->relay->awaiting_replies() == 0);
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
    RelayNetwork net(loop, 2, config);
    net.nodes[1]->hold = true;  // the destination never answers
    CellClient client(loop, *net.nodes[0]);
    for (std::uint64_t id = 1; id <= 3; ++id) client.send(id, net.build({0, 1}, "wait"));
    REQUIRE(loop.run_until([&] { return !client.replies.empty(); }));
    CHECK(client.replies[0].id == 3);
    CHECK(client.replies[0].reply.code == static_cast<std::uint8_t>(RelayErrorCode::overloaded));
    CHECK(net.nodes[0]->relay->entries() == 2);
    CHECK(net.nodes[0]->relay->awaiting_replies() == 2);  // not the refused one

    // After the TTL the entries are gone, and a late answer is dropped.
    REQUIRE(loop.run_until([&] {
      net.nodes[0]->relay->maintain();
      return net.nodes[0]->relay->entries() == 0;
    }, 5s));
    CHECK(net.nodes[0]->relay->awaiting_replies() == 0);
    REQUIRE(net.nodes[1]->held.size() == 2);
    net.nodes[1]->held[0].reply(text("too late"));
    REQUIRE(loop.run_until([&] { return net.nodes[0]->relay->stats().replies_dropped == 1; }));
    CHECK(client.replies.size() == 1);
  }
  CHECK(loop.drain_and_close());
}
