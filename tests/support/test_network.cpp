#include "tests/support/test_network.hpp"

#include <set>
#include <stdexcept>

#include "routing/key_file.hpp"
#include "simnet/sim_network.hpp"
#include "tests/support/log_capture.hpp"

namespace nightjar::test {

std::uint16_t free_loopback_port() {
  auto port = simnet::free_loopback_port("127.0.0.1");
  if (!port) throw std::runtime_error(port.error());
  return *port;
}

NetworkParams TestNetwork::small_params() {
  NetworkParams p;
  p.directory_epoch_seconds = 1;
  p.swarm = SwarmSizes{5, 7, 10};
  return p;
}

TestNetwork::TestNetwork(TestLoop& loop, NetworkParams params) : loop_(loop), params_(params) {
  crypto::random_bytes(config_.network_id.mutable_view());
  config_.name = "test";
}

TestNetwork::~TestNetwork() {
  for (auto& n : nodes_)
    if (n) n->stop();
  for (auto& a : authorities_)
    if (a) a->stop();
  loop_.run_for(std::chrono::milliseconds(50));
  nodes_.clear();
  authorities_.clear();
}

std::unique_ptr<Node> TestNetwork::make_node(const std::string& name, bool authority) {
  NodeOptions o;
  o.data_dir = dir_ / name;
  o.authority = authority;
  o.network = config_;
  o.params = params_;
  o.log = capture_logger(name);
  o.replication.anti_entropy_interval_ms = 500;
  o.replication.ack_timeout_ms = 2000;
  o.store.sync = false;  // tests do not need the fsync per store (the crash test does)
  // Tests send bursts of hundreds of requests from one client link; the rate
  // limiter has its own tests (test_rate_limit, test_node_rate_limit).
  o.rate_limits.client = RateLimit{100'000, 100'000};
  if (authority) {
    const AuthorityInfo* self = nullptr;
    for (const auto& a : config_.authorities)
      if (a.name == name) self = &a;
    if (!self) throw std::runtime_error("no authority named " + name);
    o.listen = self->address;
  } else {
    o.listen = *Endpoint::parse("127.0.0.1:0");
  }
  if (customize) customize(name, o);
  auto node = Node::create(loop_.get(), std::move(o));
  if (!node) throw std::runtime_error("Node::create: " + node.error());
  if (auto r = (*node)->start(); !r) throw std::runtime_error("Node::start: " + r.error());
  return std::move(*node);
}

void TestNetwork::start_authorities(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::string name = "authority" + std::to_string(i + 1);
    std::filesystem::create_directories(dir_ / name);
    auto id = load_or_create_ed25519_key(dir_ / name / "identity.key");
    auto link = load_or_create_x25519_key(dir_ / name / "link.key");
    if (!id || !link) throw std::runtime_error("cannot create authority keys");
    config_.authorities.push_back(AuthorityInfo{
        name, id->keys.pub, link->keys.pub,
        *Endpoint::parse("127.0.0.1:" + std::to_string(free_loopback_port()))});
  }
  for (std::size_t i = 0; i < n; ++i)
    authorities_.push_back(make_node(config_.authorities[i].name, true));
}

void TestNetwork::add_nodes(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    node_names_.push_back("node" + std::to_string(node_names_.size() + 1));
    nodes_.push_back(make_node(node_names_.back(), false));
  }
}

void TestNetwork::stop_authority(std::size_t i) {
  authorities_.at(i)->stop();
  loop_.run_for(std::chrono::milliseconds(20));
  authorities_[i].reset();
}

void TestNetwork::stop_node(std::size_t i) {
  nodes_.at(i)->stop();
  loop_.run_for(std::chrono::milliseconds(20));
  nodes_[i].reset();
}

void TestNetwork::restart_node(std::size_t i) {
  if (nodes_.at(i)) return;
  nodes_[i] = make_node(node_names_.at(i), false);
}

bool TestNetwork::agree_on(std::size_t nodes) const {
  std::set<std::string> digests;
  auto check = [&](const std::unique_ptr<Node>& n) {
    if (!n) return true;
    auto d = n->directory().current();
    if (!d || d->entries.size() != nodes) return false;
    digests.insert(d->digest().hex());
    return true;
  };
  for (const auto& a : authorities_)
    if (!check(a)) return false;
  for (const auto& n : nodes_)
    if (!check(n)) return false;
  return digests.size() == 1;
}

std::uint64_t TestNetwork::newest_epoch() const {
  std::uint64_t e = 0;
  for (const auto& v : {&authorities_, &nodes_})
    for (const auto& n : *v)
      if (n) e = std::max(e, const_cast<Node&>(*n).directory().epoch());
  return e;
}

}  // namespace nightjar::test
