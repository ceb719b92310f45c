#include "tests/bench/replicated_stores.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "client/onion_client.hpp"
#include "routing/crypto.hpp"
#include "swarm/storage_messages.hpp"
#include "tests/support/test_network.hpp"

namespace nightjar::bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t swarm_members = 5;
constexpr std::size_t recipients = 64;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Keeps `in_flight` store requests outstanding until the window closes; then
// waits (bounded) for the ones still out.
class StorePump {
 public:
  StorePump(test::TestLoop& loop, OnionClient& onion, std::shared_ptr<const Directory> dir,
            std::size_t body_bytes, std::size_t quorum, std::size_t relays)
      : loop_(loop), onion_(onion), dir_(std::move(dir)), quorum_(quorum), relays_(relays) {
    for (std::size_t i = 0; i < recipients; ++i) accounts_.push_back(crypto::ed25519_generate().pub);
    body_.resize(body_bytes);
  }

  // Runs for `seconds`; counts only answers to requests sent inside the window.
  void run(double seconds, std::size_t in_flight, bool counted, ReplicatedFigures& fig) {
    counted_ = counted;
    fig_ = &fig;
    open_ = true;
    const auto start = Clock::now();
    for (std::size_t i = 0; i < in_flight; ++i) send_one();
    loop_.run_until([&] { return ms_since(start) >= seconds * 1000; },
                    std::chrono::milliseconds(static_cast<long>(seconds * 1000) + 1000));
    open_ = false;
    if (counted) fig.seconds = ms_since(start) / 1000;
    loop_.run_until([&] { return outstanding_ == 0; }, std::chrono::seconds(30));
  }

 private:
  void send_one() {
    const auto& recipient = accounts_[next_++ % accounts_.size()];
    auto swarm = dir_->swarm_for(recipient);
    if (!swarm) throw std::runtime_error("the directory has no swarm");
    auto members = dir_->members(*swarm);
    const NodeId destination = members[next_ % members.size()]->node.id;
    std::vector<NodeId> relays;
    for (const auto& e : dir_->entries)
      if (!(e.node.id == destination) && relays.size() < relays_) relays.push_back(e.node.id);
    // Rotate the relays too, so every node relays.
    if (!relays.empty())
      std::rotate(relays.begin(), relays.begin() + static_cast<long>(next_ % relays.size()),
                  relays.end());

    storage::StoreRequest req;
    req.recipient = recipient;
    req.ttl_seconds = 600;
    crypto::random_bytes(MutableBytes{body_.data(), body_.size()});
    req.body = body_;
    const bool counted = counted_;
    const auto sent = Clock::now();
    ++outstanding_;
    onion_.send(relays, destination, storage::encode(req),
                [this, counted, sent](Result<std::vector<std::uint8_t>, RequestFailure> r) {
                  --outstanding_;
                  on_answer(counted, sent, std::move(r));
                  if (open_) send_one();
                });
  }

  void on_answer(bool counted, Clock::time_point sent,
                 Result<std::vector<std::uint8_t>, RequestFailure> r) {
    if (!counted || !open_) return;  // only answers inside the timed window
    if (r) {
      auto resp = storage::decode_response(storage::Method::store, r.value());
      if (resp && resp->status == storage::Status::ok) {
        const auto* res = std::get_if<storage::StoreResult>(&resp->body);
        if (res && res->replicas >= quorum_) {
          ++fig_->acked;
          replicas_ += res->replicas;
          fig_->ack_ms.push_back(ms_since(sent));
          return;
        }
      }
    }
    ++fig_->failed;
  }

  test::TestLoop& loop_;
  OnionClient& onion_;
  std::shared_ptr<const Directory> dir_;
  std::size_t quorum_;
  std::size_t relays_;
  std::vector<Ed25519PublicKey> accounts_;
  std::vector<std::uint8_t> body_;
  std::size_t next_ = 0;
  std::size_t outstanding_ = 0;
  bool open_ = false;
  bool counted_ = false;
  ReplicatedFigures* fig_ = nullptr;
  std::size_t replicas_ = 0;

 public:
  std::size_t replicas() const { return replicas_; }
};

}  // namespace

ReplicatedFigures measure_replicated_stores(double seconds, std::size_t in_flight,
                                            std::size_t body_bytes, std::size_t relays) {
  ReplicatedFigures fig;
  test::TestLoop loop;
  {
    auto quiet = std::make_shared<spdlog::logger>("bench-node",
                                                  std::make_shared<spdlog::sinks::null_sink_mt>());
    test::TestNetwork net(loop);
    net.customize = [&](const std::string&, NodeOptions& o) {
      o.store.sync = true;  // durable, as in production
      o.log = quiet;
    };
    net.start_authorities(1);
    net.add_nodes(swarm_members);
    if (!loop.run_until([&] { return net.agree_on(swarm_members); }, std::chrono::seconds(30)))
      throw std::runtime_error("the 5-node network did not agree on a directory within 30 s");
    auto dir = net.nodes()[0]->directory().current();
    fig.members = swarm_members;
    fig.quorum = dir->params.quorum_for(static_cast<std::uint32_t>(swarm_members));

    OnionClientConfig cfg;
    cfg.link.prologue.assign(net.config().network_id.bytes.begin(),
                             net.config().network_id.bytes.end());
    cfg.timeout = std::chrono::seconds(10);
    SystemRandom rng;
    OnionClient onion(loop.get(), cfg, rng);
    onion.set_directory(dir);

    StorePump pump(loop, onion, dir, body_bytes, fig.quorum, relays);
    ReplicatedFigures warm;
    pump.run(std::min(1.0, seconds / 4), in_flight, false, warm);  // links, caches
    timespec cpu0{}, cpu1{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
    pump.run(seconds, in_flight, true, fig);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
    fig.cpu_seconds = static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) +
                      static_cast<double>(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
    fig.stores_per_s = fig.seconds > 0 ? static_cast<double>(fig.acked) / fig.seconds : 0;
    fig.mean_replicas =
        fig.acked ? static_cast<double>(pump.replicas()) / static_cast<double>(fig.acked) : 0;
    onion.close();
  }
  loop.drain_and_close();
  return fig;
}

}  // namespace nightjar::bench
