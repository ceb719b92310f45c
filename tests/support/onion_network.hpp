// Onion relays over real TCP links on loopback, for integration tests: a
// client with one anonymous link to its first hop, and service nodes that are
// each a LinkListener + OnionRelay in one loop, found through an in-memory
// PeerDirectory. The destination answers "re: <request>", or holds the
// Responder (a parked long poll) when told to. Used by test_onion_relay.cpp
// and test_relay_liveness.cpp.
#pragma once

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "routing/onion_relay.hpp"
#include "routing/random_source.hpp"
#include "routing/wire.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/uv_loop.hpp"

namespace nightjar::test {

inline const EpochSchedule onion_schedule{3600, 600};

struct MapDirectory final : PeerDirectory {
  std::unordered_map<NodeId, PeerInfo, NodeIdHash> peers;
  std::optional<PeerInfo> lookup(const NodeId& n) const override {
    auto it = peers.find(n);
    if (it == peers.end()) return std::nullopt;
    return it->second;
  }
};

inline LinkConfig relay_link_config() {
  LinkConfig c;
  c.prologue = {'o', 'n', 'i', 'o', 'n'};
  c.log = test::capture_logger("onion");
  return c;
}

// One service node: listener + relay. The destination answers "re: <request>",
// or holds the responder when `hold` is set.
struct RelayNode {
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

  RelayNode(TestLoop& loop, MapDirectory& dir, RelayConfig config,
            LinkConfig links = relay_link_config()) {
    config.link = links;
    relay = std::make_unique<OnionRelay>(loop.get(), link_key, OnionKeyring(onion_schedule), dir,
                                         config, [this](Bytes req, Responder r) {
                                           delivered.emplace_back(req.begin(), req.end());
                                           if (hold) {
                                             held.push_back(std::move(r));
                                             return;
                                           }
                                           std::vector<std::uint8_t> answer;
                                           if (reply_size) {
                                             answer.resize(reply_size);
                                             for (std::size_t i = 0; i < reply_size; ++i)
                                               answer[i] = static_cast<std::uint8_t>(i * 7);
                                           } else {
                                             std::string s = "re: ";
                                             answer.assign(s.begin(), s.end());
                                             answer.insert(answer.end(), req.begin(), req.end());
                                           }
                                           r.reply(answer);
                                         });
    listener = std::make_unique<LinkListener>(
        loop.get(), link_key, std::move(links), ListenerOptions{}, [this](Link& l) {
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
    dir.peers[id] =
        PeerInfo{*Endpoint::parse("127.0.0.1:" + std::to_string(listener->port())), link_key->pub};
  }
  ~RelayNode() {
    for (auto& l : accepted)
      l->set_handlers({});
    listener->close_links();
    listener->close();
    relay->close();
  }
  OnionHop hop(std::uint64_t now) const {
    const std::uint64_t e = onion_schedule.epoch_at(now);
    return OnionHop{id, relay->keyring().find(e)->keys.pub, e};
  }
};

// A client with one anonymous link to its first hop.
struct CellClient {
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

  CellClient(TestLoop& loop, const RelayNode& first) {
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
      replies.push_back(
          {id, std::move(*opened), f[0] == static_cast<std::uint8_t>(FrameType::onion_reply_last)});
    };
    link = Link::dial(loop.get(),
                      *Endpoint::parse("127.0.0.1:" + std::to_string(first.listener->port())),
                      first.link_key->pub, nullptr, relay_link_config(), h);
    REQUIRE(loop.run_until([&] { return established; }));
  }
  ~CellClient() {
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

inline std::vector<std::uint8_t> text(const std::string& s) {
  return {s.begin(), s.end()};
}

struct RelayNetwork {
  std::uint64_t now = 1'800'000'000;
  MapDirectory dir;
  std::vector<std::unique_ptr<RelayNode>> nodes;
  // `customize` may change node i's link config (both its outgoing links
  // and its listener's) before the node is made.
  RelayNetwork(TestLoop& loop, std::size_t n, RelayConfig config = {},
               const std::function<void(std::size_t, LinkConfig&)>& customize = {}) {
    config.clock = [this] { return now * 1000; };
    for (std::size_t i = 0; i < n; ++i) {
      LinkConfig link = relay_link_config();
      if (customize) customize(i, link);
      nodes.push_back(std::make_unique<RelayNode>(loop, dir, config, std::move(link)));
    }
  }
  std::vector<OnionHop> path(std::initializer_list<std::size_t> idx) const {
    std::vector<OnionHop> p;
    for (auto i : idx)
      p.push_back(nodes[i]->hop(now));
    return p;
  }
  BuiltCell build(std::initializer_list<std::size_t> idx, const std::string& msg) const {
    SystemRandom rng;
    auto b = build_cell(onion::default_cell_bytes, path(idx), text(msg), rng);
    REQUIRE(b.ok());
    return std::move(*b);
  }
};

}  // namespace nightjar::test
