// nightjar-node: the service-node daemon. A thin command line around
// nightjar::Node (node/node.hpp): settings from node_config.hpp, logging from
// daemon_log.hpp, metrics from node_metrics.hpp. docs/OPERATING.md is the
// operator's guide.
//
// Exit status: 0 after a clean stop (SIGINT or SIGTERM), 1 when the node
// fails while starting or running (an address in use, a store that does not
// open), 2 for a usage or configuration error, before anything starts
// (including a key file that others can read, and an unreadable network file).
#include <spdlog/spdlog.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "node/daemon_log.hpp"
#include "node/http_server.hpp"
#include "node/metrics.hpp"
#include "node/node.hpp"
#include "node/node_config.hpp"
#include "node/node_metrics.hpp"
#include "node/version.hpp"
#include "routing/key_file.hpp"
#include "routing/runtime.hpp"

using namespace nightjar;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;
// After SIGINT or SIGTERM the node has this long to close its links; then
// the store is closed and the process exits regardless.
constexpr std::uint64_t stop_deadline_ms = 2000;

int usage_error(const std::string& msg) {
  std::cerr << "nightjar-node: " << msg << "\n";
  return exit_usage;
}

// Prints "authority = NAME ED25519 X25519 HOST:PORT" for this data directory.
int print_authority_line(const DaemonConfig& c) {
  const NodeOptions& o = c.node;
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec)
    return usage_error("cannot create data directory " + o.data_dir.string() + ": " + ec.message());
  std::filesystem::permissions(o.data_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto id = load_or_create_ed25519_key(o.data_dir / "identity.key");
  if (!id) return usage_error(id.error());
  auto link = load_or_create_x25519_key(o.data_dir / "link.key");
  if (!link) return usage_error(link.error());
  NetworkConfig check;
  check.authorities.push_back(AuthorityInfo{c.authority_name, id->keys.pub, link->keys.pub,
                                            o.public_address ? *o.public_address : o.listen});
  if (auto problem = check.check(); !problem.empty())
    return usage_error("--print-authority-line: " + problem);
  const AuthorityInfo& a = check.authorities.front();
  std::cout << "authority = " << a.name << " " << a.id.hex() << " " << a.link_key.hex() << " "
            << a.address.to_string() << "\n";
  return exit_ok;
}

// Everything that lives on the loop, and the shutdown sequence.
struct Daemon {
  uv_loop_t loop{};
  std::unique_ptr<DaemonLog> log;
  std::unique_ptr<Node> node;
  MetricsRegistry registry;
  std::unique_ptr<MetricsHttpServer> metrics;
  uv_signal_t sigint{}, sigterm{}, sighup{};
  // Stops the loop if links are still closing long after a signal; it does
  // not keep the loop running itself.
  Timer deadline{&loop, [this] {
                   log->logger()->warn("links still closing after {} ms: exiting", stop_deadline_ms);
                   forced = true;
                   uv_stop(&loop);
                 }};
  bool stopping = false;
  bool forced = false;  // the loop was stopped with handles still closing

  void on_signal(int signum) {
    if (signum == SIGHUP) {
      (void)log->reopen();  // an error is logged and the old file kept
      return;
    }
    if (stopping) {
      log->logger()->warn("signal {} while stopping: exiting now", signum);
      forced = true;
      uv_stop(&loop);
      return;
    }
    stopping = true;
    log->logger()->info("signal {}: stopping", signum);
    if (metrics) metrics->close();
    node->stop();
    // The signal handles stay (a second signal exits at once) but no longer
    // keep the loop running; the deadline does not either.
    for (uv_signal_t* s : {&sigint, &sigterm, &sighup})
      uv_unref(reinterpret_cast<uv_handle_t*>(s));
    deadline.unref();
    deadline.start(std::chrono::milliseconds(stop_deadline_ms));
  }

  void start_signals() {
    for (uv_signal_t* s : {&sigint, &sigterm, &sighup}) {
      uv_signal_init(&loop, s);
      s->data = this;
    }
    auto handler = [](uv_signal_t* s, int signum) {
      static_cast<Daemon*>(s->data)->on_signal(signum);
    };
    uv_signal_start(&sigint, handler, SIGINT);
    uv_signal_start(&sigterm, handler, SIGTERM);
    uv_signal_start(&sighup, handler, SIGHUP);
  }

  // Flushes and closes the store (Node's destructor closes RocksDB), then
  // frees what is left on the loop. After a forced stop, close callbacks
  // still pending would reach the destroyed Node: the loop is left as it is,
  // and the process exits.
  void finish() {
    if (node) {
      node->stop();
      if (MessageStore* store = node->store()) store->flush();
    }
    metrics.reset();
    node.reset();
    if (forced) return;
    deadline.close();
    (void)close_loop(&loop);
  }

  int start_metrics(const MetricsSettings& settings) {
    if (!settings.listen) return exit_ok;
    register_node_metrics(registry, *node);
    MetricsHttpConfig mc;
    mc.log = log->logger();
    metrics = std::make_unique<MetricsHttpServer>(
        &loop, [this] { return registry.render(); }, mc);
    auto r = metrics->listen(*settings.listen);
    if (r) return exit_ok;
    metrics.reset();
    if (settings.chosen) {
      log->logger()->error("{}", r.error());
      return exit_failure;
    }
    log->logger()->warn("{}; running without metrics (set --metrics HOST:PORT or --metrics off)",
                        r.error());
    return exit_ok;
  }

  int run(DaemonConfig c) {
    NodeOptions& o = c.node;
    if (c.network_file) {
      auto network = NetworkConfig::load(*c.network_file);
      if (!network) return usage_error(network.error());
      o.network = std::move(*network);
    }
    o.log = log->logger();
    const std::filesystem::path data_dir = o.data_dir;
    uv_loop_init(&loop);
    auto created = Node::create(&loop, std::move(o));
    if (!created) {
      finish();
      return usage_error(created.error());
    }
    node = std::move(*created);
    // Logged only now, so that a configuration error stays the one line.
    log->logger()->info("nightjar-node {} starting: data directory {}, logging to {}",
                        nightjar_version(), data_dir.string(), log->destination());
    if (node->keys_created()) {
      std::cout << "created new keys in " << data_dir.string() << "; node ID " << node->id().hex()
                << std::endl;
    }
    if (auto r = node->start(); !r) {
      log->logger()->error("cannot start: {}", r.error());
      std::cerr << "nightjar-node: " << r.error() << "\n";
      finish();
      return exit_failure;
    }
    if (int rc = start_metrics(c.metrics); rc != exit_ok) {
      std::cerr << "nightjar-node: cannot serve metrics at " << c.metrics.listen->to_string()
                << "\n";
      finish();
      return rc;
    }
    std::cout << (node->is_authority() ? "authority " : "node ") << node->id().hex()
              << " listening on " << node->address().to_string() << std::endl;
    start_signals();
    uv_run(&loop, UV_RUN_DEFAULT);
    log->logger()->info(node->store() ? "stopped; closing the message store" : "stopped");
    finish();
    return exit_ok;
  }
};

}  // namespace

int main(int argc, char** argv) {
  // libuv writes to sockets with write(2): a peer that reset its connection
  // (a killed node, a dropped client) would raise SIGPIPE and end the process.
  // Ignored, it is a failed write, and the link closes.
  ::signal(SIGPIPE, SIG_IGN);
  auto config = load_node_config(argc, argv);
  if (!config) return usage_error(config.error());
  switch (config->action) {
    case DaemonAction::help:
      std::cout << node_config_help();
      return exit_ok;
    case DaemonAction::version:
      std::cout << "nightjar-node " << nightjar_version() << "\n";
      return exit_ok;
    case DaemonAction::print_authority_line:
      return print_authority_line(*config);
    case DaemonAction::run:
      break;
  }
  auto log = DaemonLog::open(config->log);
  if (!log) return usage_error(log.error());
  spdlog::set_default_logger((*log)->logger());
  Daemon daemon;
  daemon.log = std::move(*log);
  return daemon.run(std::move(*config));
}
