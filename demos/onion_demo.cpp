// nightjar-onion-demo: a small network in one process on loopback. Four
// service nodes (LinkListener + OnionRelay each) and one client: every request
// is a fresh onion cell through 3 relays to a destination node, which answers
// along the same path. Prints the round-trip times. The routing layer alone:
// nightjar-simnet (simnet/) runs whole networks.
#include <spdlog/spdlog.h>
#include <uv.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "routing/onion_relay.hpp"
#include "routing/runtime.hpp"
#include "routing/wire.hpp"

namespace po = boost::program_options;
using namespace nightjar;
using Steady = std::chrono::steady_clock;

namespace {

struct Directory final : PeerDirectory {
  std::unordered_map<NodeId, PeerInfo, NodeIdHash> peers;
  std::optional<PeerInfo> lookup(const NodeId& n) const override {
    auto it = peers.find(n);
    return it == peers.end() ? std::nullopt : std::optional<PeerInfo>(it->second);
  }
};

struct Node {
  NodeId id = crypto::ed25519_generate().pub;
  std::shared_ptr<const X25519KeyPair> link_key =
      std::make_shared<const X25519KeyPair>(crypto::x25519_generate());
  std::unique_ptr<OnionRelay> relay;
  std::unique_ptr<LinkListener> listener;
};

double ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

int run(std::size_t requests, std::size_t nodes_n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Directory dir;
  LinkConfig link;
  link.prologue = {'d', 'e', 'm', 'o'};
  const EpochSchedule schedule{3600, 600};
  const std::uint64_t now = static_cast<std::uint64_t>(std::time(nullptr));

  std::vector<std::unique_ptr<Node>> nodes;
  for (std::size_t i = 0; i < nodes_n; ++i) {
    auto n = std::make_unique<Node>();
    RelayConfig rc;
    rc.link = link;
    // The destination answers every request with "stored: <request>".
    n->relay = std::make_unique<OnionRelay>(&loop, n->link_key, OnionKeyring(schedule), dir, rc,
                                            [](Bytes req, Responder r) {
                                              std::string a = "stored: ";
                                              a.append(req.begin(), req.end());
                                              r.reply(as_bytes(a));
                                            });
    Node* raw = n.get();
    n->listener = std::make_unique<LinkListener>(&loop, n->link_key, link, ListenerOptions{},
                                                 [raw](Link&) {
                                                   Link::Handlers h;
                                                   h.on_frame = [raw](Link& l, Bytes f) {
                                                     raw->relay->handle_frame(l, f);
                                                   };
                                                   return h;
                                                 });
    if (auto r = n->listener->listen(*Endpoint::parse("127.0.0.1:0")); !r) {
      std::cerr << "error: " << r.error() << "\n";
      return 1;
    }
    dir.peers[n->id] = PeerInfo{
        *Endpoint::parse("127.0.0.1:" + std::to_string(n->listener->port())), n->link_key->pub};
    nodes.push_back(std::move(n));
  }
  std::printf("nightjar onion demo: %zu service nodes on loopback, cells of %zu bytes\n", nodes_n,
              onion::default_cell_bytes);

  std::vector<OnionHop> path;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto e = schedule.epoch_at(now);
    path.push_back(OnionHop{nodes[i]->id, nodes[i]->relay->keyring().find(e)->keys.pub, e});
  }
  std::printf("  path        client -> relay 1 -> relay 2 -> relay 3 -> destination\n");

  // The client: an anonymous link to the first relay; one request at a time,
  // each a fresh cell with fresh keys.
  SystemRandom rng;
  std::vector<ReplyKey> keys;
  std::vector<double> rtts;
  std::size_t sent = 0, good = 0, bad = 0;
  Steady::time_point sent_at;
  std::shared_ptr<Link> client;
  auto send_next = [&](Link& l) {
    std::string msg = "message " + std::to_string(sent);
    sent_at = Steady::now();
    auto built = build_cell(onion::default_cell_bytes, path, as_bytes(msg), rng);
    if (!built) {
      ++bad;
      l.shutdown();
      return;
    }
    keys = std::move(built->reply_keys);
    const auto f = make_onion_frame(FrameType::onion_cell, ++sent, built->cell);
    if (l.send(f) != SendStatus::ok) ++bad;
  };
  Link::Handlers h;
  h.on_established = [&](Link& l) { send_next(l); };
  h.on_frame = [&](Link& l, Bytes f) {
    rtts.push_back(ms(Steady::now() - sent_at));
    std::vector<std::uint8_t> cell(f.begin() + onion_frame_header, f.end());
    auto opened = open_reply(keys, cell);
    const std::string want = "stored: message " + std::to_string(sent - 1);
    if (opened && opened->hop == 3 &&
        std::string(opened->data.begin(), opened->data.end()) == want)
      ++good;
    else
      ++bad;
    if (sent < requests)
      send_next(l);
    else
      l.shutdown();
  };
  h.on_closed = [&](Link&, CloseReason) {
    for (auto& n : nodes) {
      n->listener->close_links();
      n->listener->close();
      n->relay->close();
    }
  };
  client = Link::dial(&loop, *Endpoint::parse("127.0.0.1:" + std::to_string(nodes[0]->listener->port())),
                      nodes[0]->link_key->pub, nullptr, link, h);

  // Bounded: the demo stops by itself after 60 s whatever happens.
  Timer guard(&loop, [&client] {
    std::cerr << "error: demo did not finish within 60 s\n";
    client->close();
  });
  guard.unref();
  guard.start(std::chrono::seconds(60));
  uv_run(&loop, UV_RUN_DEFAULT);
  guard.close();
  nodes.clear();
  uv_run(&loop, UV_RUN_DEFAULT);
  const bool clean = uv_loop_close(&loop) == 0;

  std::sort(rtts.begin(), rtts.end());
  auto pct = [&](double p) {
    if (rtts.empty()) return 0.0;
    return rtts[std::min(rtts.size() - 1, static_cast<std::size_t>(p * static_cast<double>(rtts.size())))];
  };
  std::printf("  delivered   %zu of %zu requests answered correctly (%zu errors)\n", good, requests, bad);
  std::printf("  round trip  p50 %.3f ms, p99 %.3f ms, max %.3f ms (build, 4 hops there, 4 back, open)\n",
              pct(0.5), pct(0.99), rtts.empty() ? 0.0 : rtts.back());
  std::printf("  shutdown    every libuv handle freed: %s\n", clean ? "yes" : "NO");
  return good == requests && bad == 0 && clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t requests = 1000;
  po::options_description desc(
      "nightjar-onion-demo: four service nodes on loopback; a client sends onion requests through\n"
      "3 relays to a destination node and checks every answer.\nUsage: nightjar-onion-demo [options]\n\nOptions");
  desc.add_options()("help,h", "print this help and exit")(
      "requests,n", po::value<std::size_t>(&requests)->default_value(1000), "requests to send (1..100000)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "nightjar-onion-demo: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (requests < 1 || requests > 100'000) {
    std::cerr << "nightjar-onion-demo: --requests must be 1..100000\n";
    return 2;
  }
  if (!crypto::init()) {
    std::cerr << "nightjar-onion-demo: libsodium failed to initialise\n";
    return 1;
  }
  spdlog::set_level(spdlog::level::warn);
  const int rc = run(requests, 4);
  std::printf("%s\n", rc == 0 ? "demo OK" : "demo FAILED");
  return rc;
}
