// Durability with real processes: an authority and a 5-member swarm of
// nightjar-node processes (each store synced to its write-ahead log by the
// node's writer, group commit), a client in this process storing through
// onion paths.
//  - kill -9 of every member right after the last acknowledgement: after a
//    restart, every acknowledged message is retrievable from every member.
//  - kill -9 of the member a stream of 10,000 concurrent stores goes to,
//    while hundreds are in flight: every store it acknowledged is in its
//    database (opened by the test while the node is dead, so no replica can
//    fill a gap), and it serves them after a restart.
// Processes are stopped by their PID only; every wait is bounded.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <set>
#include <string>
#include <vector>

#include "client/directory_fetcher.hpp"
#include "routing/runtime.hpp"
#include "swarm/message_store.hpp"
#include "tests/integration/daemon_process.hpp"
#include "tests/support/log_capture.hpp"
#include "tests/support/metrics_http.hpp"
#include "tests/support/storage_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace std::chrono_literals;

namespace {

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

struct Proc {
  std::string name;
  std::filesystem::path data;
  std::uint16_t port = 0, metrics = 0;
  std::unique_ptr<DaemonProcess> process;
};

// An authority and 5 nodes in one swarm, running; `dir` once fetched.
struct Swarm {
  TempDir root{"nightjar-durability"};
  std::vector<Proc> procs = std::vector<Proc>(6);  // the authority, then 5 nodes
  std::filesystem::path network_file;

  Swarm() {
    for (std::size_t i = 0; i < procs.size(); ++i) {
      procs[i].name = i == 0 ? "authority" : "node" + std::to_string(i);
      procs[i].data = root / procs[i].name;
      procs[i].port = free_loopback_port();
      procs[i].metrics = free_loopback_port();
    }
    network_file = procs[0].data / "network.conf";
  }
  void start(Proc& p, const std::string& run) {
    std::vector<std::string> args = {"--data-dir", p.data.string(), "--listen", loopback(p.port),
                                     "--metrics", loopback(p.metrics), "--log-level", "warn"};
    if (&p == &procs[0])
      args.insert(args.end(), {"--authority", "--epoch-seconds", "1", "--swarm-sizes", "5,5,9"});
    else
      args.insert(args.end(), {"--network", network_file.string()});
    p.process = std::make_unique<DaemonProcess>(root.path(), p.name + "-" + run, args);
    REQUIRE(p.process->started());
  }
  void start_all() {
    start(procs[0], "first");
    REQUIRE(procs[0].process->wait_for_output(" listening on ", 10s));
    for (std::size_t i = 1; i < procs.size(); ++i) start(procs[i], "first");
    REQUIRE(wait_for_metric(procs[0].metrics, "nightjar_directory_nodes", 5, 30s));
    for (std::size_t i = 1; i < procs.size(); ++i)
      REQUIRE(wait_for_metric(procs[i].metrics, "nightjar_directory_nodes", 5, 10s));
  }
  std::shared_ptr<const Directory> fetch_directory(TestLoop& loop, const NetworkConfig& network) {
    LinkConfig link;
    link.prologue.assign(network.network_id.bytes.begin(), network.network_id.bytes.end());
    client::DirectoryFetcher fetcher(loop.get(), network, link, capture_logger("fetcher"));
    std::shared_ptr<const Directory> dir;
    fetcher.fetch(nullptr, [&](auto r) {
      REQUIRE(r.ok());
      dir = *r;
    });
    REQUIRE(loop.run_until([&] { return dir != nullptr; }, 20s));
    REQUIRE(dir->entries.size() == 5);
    fetcher.close();
    return dir;
  }
  void stop_all() {
    for (std::size_t i = procs.size(); i-- > 0;) {
      if (!procs[i].process) continue;
      procs[i].process->signal(SIGTERM);
      CHECK(procs[i].process->exit_code(5s) == 0);
    }
  }
};

}  // namespace

TEST_CASE("acknowledged stores survive kill -9 of every swarm member", "[integration][durability]") {
  Swarm swarm;
  auto& procs = swarm.procs;
  const auto& network_file = swarm.network_file;
  auto start = [&](Proc& p, const std::string& run) { swarm.start(p, run); };
  swarm.start_all();

  auto network = NetworkConfig::load(network_file);
  REQUIRE(network.ok());
  TestLoop loop;
  {
    auto dir = swarm.fetch_directory(loop, *network);

    StorageClient client(loop, *network);
    client.set_directory(dir);
    const auto account = crypto::ed25519_generate();
    const NodeId member = dir->entries[0].node.id;
    int acked = 0;
    for (int i = 0; i < 200; ++i) {
      const std::string body = "durable message " + std::to_string(i);
      auto r = client.store(member, account.pub, as_bytes(body));
      REQUIRE(r.ok());
      if (r->status == storage::Status::ok) ++acked;
    }
    CHECK(acked == 200);

    // kill -9 every member at once, right after the last acknowledgement.
    for (std::size_t i = 1; i < procs.size(); ++i) procs[i].process->signal(SIGKILL);
    for (std::size_t i = 1; i < procs.size(); ++i)
      CHECK(procs[i].process->wait_exit(5s).has_value());

    for (std::size_t i = 1; i < procs.size(); ++i) start(procs[i], "second");
    for (std::size_t i = 1; i < procs.size(); ++i)
      REQUIRE(procs[i].process->wait_for_output(" listening on ", 15s));
    // Every acknowledged message, from every member (anti-entropy fills in
    // the members that were not in a message's quorum).
    for (const auto& e : dir->entries) {
      std::size_t got = 0;
      const auto until = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < until) {
        got = client.retrieve_all(e.node.id, account, 100).size();
        if (got == 200) break;
        loop.run_for(200ms);
      }
      INFO("member " << e.node.id.hex().substr(0, 16));
      CHECK(got == 200);
    }
  }
  swarm.stop_all();
  CHECK(loop.drain_and_close());
}


TEST_CASE("every store a node acknowledged survives kill -9 during 10,000 concurrent stores",
          "[integration][durability]") {
  Swarm swarm;
  swarm.start_all();
  auto network = NetworkConfig::load(swarm.network_file);
  REQUIRE(network.ok());
  TestLoop loop;
  std::set<MessageId> acknowledged;
  std::vector<Ed25519KeyPair> accounts;
  Proc* target = nullptr;
  NodeId member;
  {
    auto dir = swarm.fetch_directory(loop, *network);
    StorageClient client(loop, *network);
    client.set_directory(dir);
    member = dir->entries[0].node.id;
    for (auto& p : swarm.procs)
      if (p.port == dir->entries[0].node.address.port()) target = &p;
    REQUIRE(target != nullptr);
    std::vector<NodeId> relays;
    for (std::size_t i = 1; i < dir->entries.size(); ++i) relays.push_back(dir->entries[i].node.id);

    // 16 recipients (the quota is per recipient), 512 stores in flight at a
    // time, 10,000 in all; the member is killed once 1,500 are acknowledged.
    for (int i = 0; i < 16; ++i) accounts.push_back(crypto::ed25519_generate());
    constexpr int total = 10'000;
    constexpr int window = 512;
    constexpr std::size_t kill_after = 1'500;
    int sent = 0, answered = 0, refused = 0, failed = 0;
    bool killed = false;
    std::size_t in_flight_at_kill = 0;
    std::function<void()> send_one = [&] {
      const int i = sent++;
      storage::StoreRequest r;
      r.recipient = accounts[static_cast<std::size_t>(i) % accounts.size()].pub;
      r.ttl_seconds = 3600;
      const std::string body = "concurrent store " + std::to_string(i);
      r.body.assign(body.begin(), body.end());
      // Three of the other members, rotated, as relays.
      std::vector<NodeId> path;
      for (std::size_t k = 0; k < 3; ++k) path.push_back(relays[(static_cast<std::size_t>(i) + k) % relays.size()]);
      client.onion().send(path, member, storage::encode(r), [&](auto result) {
        ++answered;
        if (!result) {
          ++failed;
        } else if (auto resp = storage::decode_response(storage::Method::store, *result);
                   resp && resp->status == storage::Status::ok) {
          // Sent after the node's write was durable, so it counts even if
          // it arrives after the kill.
          acknowledged.insert(std::get<storage::StoreResult>(resp->body).id);
        } else {
          ++refused;
        }
        if (!killed && acknowledged.size() >= kill_after) {
          killed = true;
          in_flight_at_kill = client.onion().in_flight();
          target->process->signal(SIGKILL);
        }
        if (sent < total) send_one();
      });
    };
    for (int i = 0; i < window && sent < total; ++i) send_one();
    REQUIRE(loop.run_until([&] { return answered == total; }, 180s));
    INFO("acknowledged " << acknowledged.size() << ", refused " << refused << ", failed " << failed
                         << ", in flight at the kill " << in_flight_at_kill);
    REQUIRE(killed);
    CHECK(in_flight_at_kill >= 100);  // the kill came mid-stream
    REQUIRE(target->process->wait_exit(5s).has_value());
  }

  // The killed node's own database, opened while it is dead: only what it
  // wrote itself can be there.
  {
    StoreOptions so;
    so.log = capture_logger("store");
    auto store = MessageStore::open(target->data / "messages", so);
    REQUIRE(store.ok());
    std::size_t missing = 0;
    const std::uint64_t now = system_unix_ms();
    for (const auto& id : acknowledged)
      if (!(*store)->get(id, now)) ++missing;
    CHECK(missing == 0);
  }

  // Restarted, it serves them.
  swarm.start(*target, "second");
  REQUIRE(target->process->wait_for_output(" listening on ", 15s));
  // Back in the directory (it dropped out while it was dead).
  REQUIRE(wait_for_metric(swarm.procs[0].metrics, "nightjar_directory_nodes", 5, 30s));
  REQUIRE(wait_for_metric(target->metrics, "nightjar_directory_nodes", 5, 30s));
  {
    auto dir = swarm.fetch_directory(loop, *network);
    StorageClient client(loop, *network);
    client.set_directory(dir);
    // A retrieve through a path can fail while links to the restarted node
    // are remade: ask again (bounded) until every message was listed once.
    std::set<MessageId> served;
    std::size_t missing = acknowledged.size();
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (missing > 0 && std::chrono::steady_clock::now() < until) {
      for (const auto& account : accounts)
        for (const auto& m : client.retrieve_all(member, account, 200))
          served.insert(m.id);
      missing = 0;
      for (const auto& id : acknowledged)
        if (!served.count(id)) ++missing;
      if (missing > 0) loop.run_for(200ms);
    }
    CHECK(missing == 0);
  }
  swarm.stop_all();
  CHECK(loop.drain_and_close());
}
