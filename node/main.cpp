// nightjar-node: the service-node daemon. A thin command line around
// nightjar::Node (node/node.hpp); see docs/OPERATING.md.
#include <spdlog/spdlog.h>
#include <uv.h>

// GCC 12 reports a "potential null pointer dereference" inside libstdc++ when
// Boost.Program_options' typed_value<std::string>::notify is inlined here.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "node/node.hpp"

namespace po = boost::program_options;
using namespace nightjar;

namespace {

constexpr int exit_usage = 2;

struct Signals {
  uv_signal_t sigint{}, sigterm{};
  Node* node = nullptr;
};

int usage_error(const std::string& msg) {
  std::cerr << "nightjar-node: " << msg << "\n";
  return exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description opts("Options");
  opts.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("data-dir", po::value<std::string>(), "directory for keys, the directory cache and messages (required)")
    ("listen", po::value<std::string>()->default_value("127.0.0.1:0"), "HOST:PORT to accept links on")
    ("public-address", po::value<std::string>(), "HOST:PORT others use to reach this node (default: --listen)")
    ("network", po::value<std::string>(), "network file (network ID and authorities)")
    ("authority", po::bool_switch(), "run as a directory authority; without --network, start a new network")
    ("epoch-seconds", po::value<std::uint32_t>()->default_value(300), "authority: directory epoch length")
    ("swarm-sizes", po::value<std::string>()->default_value("5,7,10"), "authority: MIN,IDEAL,MAX swarm size")
    ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << "Usage: nightjar-node --data-dir DIR [--network FILE | --authority] [options]\n\n"
              << opts << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "nightjar-node 0.1.0\n";
    return 0;
  }
  if (!vm.count("data-dir")) return usage_error("--data-dir is required");
  const bool authority = vm["authority"].as<bool>();
  if (!vm.count("network") && !authority)
    return usage_error("no network file (--network FILE) and not an authority (--authority): nothing to join");

  auto level = spdlog::level::from_str(vm["log-level"].as<std::string>());
  if (level == spdlog::level::off && vm["log-level"].as<std::string>() != "off")
    return usage_error("--log-level: unknown level '" + vm["log-level"].as<std::string>() + "'");
  spdlog::set_level(level);

  NodeOptions o;
  o.data_dir = vm["data-dir"].as<std::string>();
  o.authority = authority;
  auto listen = Endpoint::parse(vm["listen"].as<std::string>());
  if (!listen) return usage_error("--listen: " + listen.error());
  o.listen = *listen;
  if (vm.count("public-address")) {
    auto p = Endpoint::parse(vm["public-address"].as<std::string>());
    if (!p) return usage_error("--public-address: " + p.error());
    o.public_address = *p;
  }
  if (vm.count("network")) {
    auto cfg = NetworkConfig::load(vm["network"].as<std::string>());
    if (!cfg) return usage_error(cfg.error());
    o.network = std::move(*cfg);
  }
  o.params.directory_epoch_seconds = vm["epoch-seconds"].as<std::uint32_t>();
  {
    unsigned a = 0, b = 0, c = 0;
    char tail = 0;
    if (std::sscanf(vm["swarm-sizes"].as<std::string>().c_str(), "%u,%u,%u%c", &a, &b, &c, &tail) != 3)
      return usage_error("--swarm-sizes: expected MIN,IDEAL,MAX");
    o.params.swarm = SwarmSizes{a, b, c};
  }
  if (auto err = o.params.check(); authority && !err.empty()) return usage_error(err);

  uv_loop_t loop;
  uv_loop_init(&loop);
  auto node = Node::create(&loop, std::move(o));
  if (!node) return usage_error(node.error());
  if ((*node)->keys_created()) std::cout << "created new keys; node ID " << (*node)->id().hex() << "\n";
  if (auto r = (*node)->start(); !r) return usage_error(r.error());
  std::cout << (authority ? "authority " : "node ") << (*node)->id().hex() << " listening on "
            << (*node)->address().to_string() << std::endl;

  Signals sig;
  sig.node = node->get();
  for (uv_signal_t* s : {&sig.sigint, &sig.sigterm}) {
    uv_signal_init(&loop, s);
    s->data = &sig;
  }
  auto on_signal = [](uv_signal_t* s, int signum) {
    auto* self = static_cast<Signals*>(s->data);
    spdlog::info("signal {}: stopping", signum);
    self->node->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&self->sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->sigterm), nullptr);
  };
  uv_signal_start(&sig.sigint, on_signal, SIGINT);
  uv_signal_start(&sig.sigterm, on_signal, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  node->reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
