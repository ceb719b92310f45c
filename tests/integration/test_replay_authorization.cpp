// Replays and requests signed by the wrong key, on a real network on loopback
// (one authority and a swarm of five Nodes in one process, real onion paths):
// each is refused, has no effect, and is counted in the node's metrics — the
// Prometheus text a scrape would get (register_node_metrics + render), read
// before and after, so the operator's view is what is tested.
//
//   - A cell sent again by its sender, or by its first hop to the second,
//     is dropped by that hop's replay cache (nightjar_replay_hits_total).
//   - A signed retrieve outside the ±60 s window — stale, from the future, or
//     replayed 61 s after it was accepted — is answered clock_skew with the
//     node's time (nightjar_storage_rejected_total{status="clock_skew"}).
//   - A retrieve, delete or delete_all signed by anyone but the recipient is
//     answered bad_signature, and the message stays (status="bad_signature").
//
// The nodes' clocks are the system clock plus an offset the test moves, so a
// replay can arrive "61 s later" without the test waiting. Every wait is
// bounded.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>

#include "node/metrics.hpp"
#include "node/node_metrics.hpp"
#include "routing/frame.hpp"
#include "routing/wire.hpp"
#include "tests/integration/daemon_process.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/storage_client.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace std::chrono_literals;
using storage::Status;

namespace {

std::uint64_t system_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A node's metrics as a scrape would see them.
class Scraper {
 public:
  explicit Scraper(Node& node) { register_node_metrics(registry_, node); }
  double value(const std::string& series) const {
    auto v = metric_value(registry_.render(), series);
    return v ? *v : -1.0;
  }

 private:
  MetricsRegistry registry_;
};

// An anonymous link to one node, as a client (or a hostile first hop
// pretending to be one) holds it; counts the reply frames that come back.
class RawSender {
 public:
  RawSender(TestLoop& loop, const NetworkConfig& network, const DirectoryEntry& to) {
    LinkConfig cfg;
    cfg.prologue.assign(network.network_id.bytes.begin(), network.network_id.bytes.end());
    cfg.log = capture_logger("raw-sender");
    Link::Handlers h;
    h.on_frame = [this](Link&, Bytes f) {
      if (!f.empty() && static_cast<FrameType>(f[0]) == FrameType::onion_reply_last) ++replies;
    };
    link_ = Link::dial(loop.get(), to.node.address, to.node.link_key, nullptr, cfg, std::move(h));
    REQUIRE(loop.run_until([&] { return link_->established(); }, 10s));
  }
  ~RawSender() { link_->close(); }
  void send_cell(std::uint64_t request_id, Bytes cell) {
    std::vector<std::uint8_t> frame(onion_frame_header + cell.size());
    frame[0] = static_cast<std::uint8_t>(FrameType::onion_cell);
    store_u64(frame.data() + 1, request_id);
    std::memcpy(frame.data() + onion_frame_header, cell.data(), cell.size());
    REQUIRE(link_->send(frame) == SendStatus::ok);
  }
  int replies = 0;

 private:
  std::shared_ptr<Link> link_;
};

}  // namespace

TEST_CASE("replays and requests signed by another key are refused and counted in the metrics",
          "[integration][replay]") {
  TestLoop loop;
  {
    NetworkParams params = TestNetwork::small_params();
    params.swarm = SwarmSizes{5, 5, 9};  // the five nodes form one swarm
    TestNetwork net(loop, params);
    net.start_authorities(1);
    auto offset_ms = std::make_shared<std::atomic<std::int64_t>>(0);
    net.customize = [offset_ms](const std::string&, NodeOptions& o) {
      o.clock = [offset_ms] {
        return static_cast<std::uint64_t>(static_cast<std::int64_t>(system_ms()) + offset_ms->load());
      };
    };
    net.add_nodes(5);
    REQUIRE(loop.run_until([&] { return net.agree_on(5); }, 15s));
    auto dir = net.nodes()[0]->directory().current();
    std::vector<std::unique_ptr<Scraper>> metrics;
    for (auto& n : net.nodes()) metrics.push_back(std::make_unique<Scraper>(*n));

    StorageClient client(loop, net.config());
    client.set_directory(dir);
    const auto account = crypto::ed25519_generate();
    Node& dest = *net.nodes()[0];
    Scraper& dest_metrics = *metrics[0];
    const NodeId relays[3] = {net.nodes()[1]->id(), net.nodes()[2]->id(), net.nodes()[3]->id()};

    SECTION("a replayed cell is dropped by the hop that saw it, and counted there") {
      // A store request through nodes 1, 2, 3 to node 0, built by hand so
      // that its exact bytes can be sent again.
      storage::StoreRequest store;
      store.recipient = account.pub;
      store.ttl_seconds = 600;
      store.body = {'o', 'n', 'c', 'e'};
      std::vector<OnionHop> hops;
      for (const NodeId& id : {relays[0], relays[1], relays[2], dest.id()}) {
        const OnionKeyInfo* k = dir->find(id)->node.onion_key_at(system_ms() / 1000);
        REQUIRE(k);
        hops.push_back(OnionHop{id, k->key, k->epoch});
      }
      SystemRandom rng;
      auto built = build_cell(params.cell_bytes, hops, storage::encode(store), rng);
      REQUIRE(built.ok());
      const std::vector<std::uint8_t> cell = built->cell;

      RawSender to_first(loop, net.config(), *dir->find(relays[0]));
      const double hits_before = metrics[1]->value("nightjar_replay_hits_total");
      to_first.send_cell(1, cell);
      REQUIRE(loop.run_until([&] { return to_first.replies == 1; }, 15s));
      CHECK(dest_metrics.value("nightjar_stores_total") == 1);

      // The sender (or anyone who copied the cell off the first link) sends
      // it again, three times: the first hop drops each as a replay.
      for (std::uint64_t id = 2; id <= 4; ++id) to_first.send_cell(id, cell);
      REQUIRE(loop.run_until(
          [&] { return metrics[1]->value("nightjar_replay_hits_total") == hits_before + 3; }, 10s));
      CHECK(metrics[1]->value("nightjar_cells_dropped_total{reason=\"replay\"}") == 3);
      loop.run_for(300ms);  // nothing more arrives anywhere
      CHECK(to_first.replies == 1);
      CHECK(metrics[1]->value("nightjar_replay_hits_total") == hits_before + 3);
      CHECK(metrics[2]->value("nightjar_cells_received_total") == 1);
      CHECK(dest_metrics.value("nightjar_cells_delivered_total") == 1);
      CHECK(dest_metrics.value("nightjar_storage_requests_total") == 1);

      // A hostile first hop replays what it forwarded to the second hop: the
      // second hop's cache has the tag. (The test peels with node 1's keys,
      // as node 1 itself would, into a scratch replay cache.)
      std::vector<std::uint8_t> inner = cell;
      ReplayCache scratch;
      auto peeled =
          peel_cell(net.nodes()[1]->relay()->keyring(), scratch, inner, params.cell_bytes,
                    system_ms() / 1000);
      REQUIRE(peeled.ok());
      REQUIRE(peeled->next_hop == relays[1]);
      RawSender to_second(loop, net.config(), *dir->find(relays[1]));
      to_second.send_cell(9, inner);
      REQUIRE(loop.run_until(
          [&] { return metrics[2]->value("nightjar_replay_hits_total") == 1; }, 10s));
      CHECK(metrics[2]->value("nightjar_cells_received_total") == 2);
      CHECK(metrics[3]->value("nightjar_cells_received_total") == 1);
      CHECK(dest_metrics.value("nightjar_stores_total") == 1);
    }

    SECTION("retrieve signatures outside the 60 s window get clock_skew, and are counted") {
      const std::string skew = "nightjar_storage_rejected_total{status=\"clock_skew\"}";
      const double before = dest_metrics.value(skew);
      REQUIRE(before == 0);
      const std::uint64_t now = system_ms();
      auto stale = client.retrieve(dest.id(), account, Cursor{}, 10, 0, now - 61'000);
      REQUIRE(stale.ok());
      CHECK(stale->status == Status::clock_skew);
      auto future = client.retrieve(dest.id(), account, Cursor{}, 10, 0, now + 61'000);
      REQUIRE(future.ok());
      CHECK(future->status == Status::clock_skew);
      CHECK(dest_metrics.value(skew) == before + 2);

      // A retrieve accepted now, replayed when the node's clock is 61 s on.
      storage::RetrieveRequest r;
      r.recipient = account.pub;
      r.limit = 10;
      r.timestamp_ms = system_ms();
      storage::sign(r, account.sec);
      auto first = client.call(dest.id(), r, storage::Method::retrieve);
      REQUIRE(first.ok());
      CHECK(first->status == Status::ok);
      offset_ms->store(61'000);
      auto replayed = client.call(dest.id(), r, storage::Method::retrieve);
      offset_ms->store(0);
      REQUIRE(replayed.ok());
      REQUIRE(replayed->status == Status::clock_skew);
      // The answer carries the node's clock, so an honest client corrects its offset.
      CHECK(std::get<storage::ClockSkew>(replayed->body).server_time_ms >= r.timestamp_ms + 61'000);
      CHECK(dest_metrics.value(skew) == before + 3);
      CHECK(dest_metrics.value("nightjar_retrieves_total") == 1);
      CHECK(dest_metrics.value("nightjar_storage_rejected_total{status=\"bad_signature\"}") == 0);
    }

    SECTION("retrieves and deletes signed by someone else get bad_signature, and are counted") {
      const std::string bad = "nightjar_storage_rejected_total{status=\"bad_signature\"}";
      auto stored = client.store(dest.id(), account.pub, as_bytes(std::string_view("keep me")));
      REQUIRE(stored.ok());
      REQUIRE(stored->status == Status::ok);
      const MessageId id = std::get<storage::StoreResult>(stored->body).id;
      const double before = dest_metrics.value(bad);
      REQUIRE(before == 0);

      const auto mallory = crypto::ed25519_generate();
      storage::RetrieveRequest read;
      read.recipient = account.pub;
      read.limit = 10;
      read.timestamp_ms = system_ms();
      storage::sign(read, mallory.sec);
      storage::DeleteRequest del;
      del.recipient = account.pub;
      del.id = id;
      del.timestamp_ms = system_ms();
      storage::sign(del, mallory.sec);
      storage::DeleteAllRequest wipe;
      wipe.recipient = account.pub;
      wipe.timestamp_ms = system_ms();
      storage::sign(wipe, mallory.sec);
      // The recipient's own signature over other arguments does not carry over.
      storage::DeleteRequest moved = del;
      storage::sign(moved, account.sec);
      moved.id.bytes[0] ^= 1;

      CHECK(client.call(dest.id(), read, storage::Method::retrieve)->status == Status::bad_signature);
      CHECK(client.call(dest.id(), del, storage::Method::erase)->status == Status::bad_signature);
      CHECK(client.call(dest.id(), wipe, storage::Method::erase_all)->status == Status::bad_signature);
      CHECK(client.call(dest.id(), moved, storage::Method::erase)->status == Status::bad_signature);
      CHECK(dest_metrics.value(bad) == before + 4);
      CHECK(dest_metrics.value("nightjar_deletes_total") == 0);
      CHECK(dest_metrics.value("nightjar_retrieves_total") == 0);

      // Nothing was deleted, on any member.
      CHECK(dest.store()->message_count() == 1);
      auto all = client.retrieve_all(dest.id(), account);
      REQUIRE(all.size() == 1);
      CHECK(all[0].id == id);
    }
  }
  CHECK(loop.drain_and_close());
}
