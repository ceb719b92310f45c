// Durability with real processes: an authority and a 5-member swarm of
// nightjar-node processes (each store synced to its write-ahead log), a
// client in this process storing through onion paths, and kill -9 of every
// member right after the last acknowledgement. After a restart, every
// acknowledged message is retrievable from every member. Processes are
// stopped by their PID only; every wait is bounded.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "client/directory_fetcher.hpp"
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

}  // namespace

TEST_CASE("acknowledged stores survive kill -9 of every swarm member", "[integration][durability]") {
  TempDir root("nightjar-durability");
  std::vector<Proc> procs(6);  // the authority, then 5 nodes
  for (std::size_t i = 0; i < procs.size(); ++i) {
    procs[i].name = i == 0 ? "authority" : "node" + std::to_string(i);
    procs[i].data = root / procs[i].name;
    procs[i].port = free_loopback_port();
    procs[i].metrics = free_loopback_port();
  }
  const auto network_file = procs[0].data / "network.conf";
  auto start = [&](Proc& p, const std::string& run) {
    std::vector<std::string> args = {"--data-dir", p.data.string(), "--listen", loopback(p.port),
                                     "--metrics", loopback(p.metrics), "--log-level", "warn"};
    if (&p == &procs[0])
      args.insert(args.end(), {"--authority", "--epoch-seconds", "1", "--swarm-sizes", "5,5,9"});
    else
      args.insert(args.end(), {"--network", network_file.string()});
    p.process = std::make_unique<DaemonProcess>(root.path(), p.name + "-" + run, args);
    REQUIRE(p.process->started());
  };
  start(procs[0], "first");
  REQUIRE(procs[0].process->wait_for_output(" listening on ", 10s));
  for (std::size_t i = 1; i < procs.size(); ++i) start(procs[i], "first");
  REQUIRE(wait_for_metric(procs[0].metrics, "nightjar_directory_nodes", 5, 30s));
  for (std::size_t i = 1; i < procs.size(); ++i)
    REQUIRE(wait_for_metric(procs[i].metrics, "nightjar_directory_nodes", 5, 10s));

  auto network = NetworkConfig::load(network_file);
  REQUIRE(network.ok());
  TestLoop loop;
  {
    LinkConfig link;
    link.prologue.assign(network->network_id.bytes.begin(), network->network_id.bytes.end());
    client::DirectoryFetcher fetcher(loop.get(), *network, link, capture_logger("fetcher"));
    std::shared_ptr<const Directory> dir;
    fetcher.fetch(nullptr, [&](auto r) {
      REQUIRE(r.ok());
      dir = *r;
    });
    REQUIRE(loop.run_until([&] { return dir != nullptr; }, 20s));
    REQUIRE(dir->entries.size() == 5);
    fetcher.close();

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
  for (std::size_t i = procs.size(); i-- > 0;) {
    procs[i].process->signal(SIGTERM);
    CHECK(procs[i].process->exit_code(5s) == 0);
  }
  CHECK(loop.drain_and_close());
}
