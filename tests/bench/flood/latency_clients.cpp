#include "tests/bench/flood/latency_clients.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "swarm/storage_messages.hpp"

namespace nightjar::flood {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

LatencyClients::LatencyClients(uv_loop_t* loop, const NetworkConfig& network,
                               std::shared_ptr<const Directory> directory, const NodeId& target,
                               LatencyOptions options)
    : loop_(loop), directory_(std::move(directory)), target_(target), options_(options) {
  OnionClientConfig cfg;
  cfg.link.prologue.assign(network.network_id.bytes.begin(), network.network_id.bytes.end());
  cfg.timeout = std::chrono::seconds(10);
  cfg.log = std::make_shared<spdlog::logger>("clients",
                                             std::make_shared<spdlog::sinks::null_sink_mt>());
  for (std::size_t i = 0; i < std::max<std::size_t>(2, options_.clients); ++i) {
    auto s = std::make_unique<Sender>();
    s->owner = this;
    s->index = i;
    s->onion = std::make_unique<OnionClient>(loop_, cfg, rng_);
    s->onion->set_directory(directory_);
    s->account = crypto::ed25519_generate();
    senders_.push_back(std::move(s));
  }
}

LatencyClients::~LatencyClients() { stop(); }

void LatencyClients::start() {
  const auto interval = static_cast<std::uint64_t>(
      std::max(1.0, 1000.0 / std::max(0.1, options_.stores_per_second)));
  for (std::size_t i = 0; i < senders_.size(); ++i) {
    Sender& s = *senders_[i];
    s.timer = new uv_timer_t;
    uv_timer_init(loop_, s.timer);
    s.timer->data = &s;
    // Spread the senders over the interval.
    uv_timer_start(
        s.timer,
        [](uv_timer_t* t) {
          auto* sender = static_cast<Sender*>(t->data);
          if (!sender->busy) sender->owner->send(*sender);
        },
        1 + interval * i / senders_.size(), interval);
  }
}

void LatencyClients::stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  for (auto& s : senders_) {
    if (s->timer)
      uv_close(reinterpret_cast<uv_handle_t*>(s->timer),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    s->timer = nullptr;
    s->onion->close();
  }
}

LatencySample LatencyClients::take() {
  LatencySample out = std::move(sample_);
  sample_ = LatencySample{};
  return out;
}

void LatencyClients::send(Sender& from) {
  const Sender& to = *senders_[(from.index + 1) % senders_.size()];
  const auto swarm = directory_->swarm_for(to.account.pub);
  if (!swarm) return;
  // Destination: a member of the recipient's swarm other than the target;
  // relays: two other nodes, neither the target nor the destination.
  std::vector<NodeId> members, others;
  for (const DirectoryEntry* m : directory_->members(*swarm))
    if (!(m->node.id == target_)) members.push_back(m->node.id);
  if (members.empty()) return;
  const NodeId destination = members[crypto::random_uniform(static_cast<std::uint32_t>(members.size()))];
  for (const auto& e : directory_->entries)
    if (!(e.node.id == target_) && !(e.node.id == destination)) others.push_back(e.node.id);
  if (others.size() < 2) return;
  for (std::size_t i = 0; i < 2; ++i)
    std::swap(others[i],
              others[i + crypto::random_uniform(static_cast<std::uint32_t>(others.size() - i))]);

  storage::StoreRequest req;
  req.recipient = to.account.pub;
  req.ttl_seconds = 600;
  req.body.resize(120);
  crypto::random_bytes(req.body);
  from.busy = true;
  const std::uint64_t started = uv_hrtime();
  std::weak_ptr<bool> alive = alive_;
  from.onion->send(
      {target_, others[0], others[1]}, destination, storage::encode(req),
      [this, alive, &from, started](Result<std::vector<std::uint8_t>, RequestFailure> r) {
        const auto a = alive.lock();
        if (!a || !*a) return;
        from.busy = false;
        if (!r) {
          std::string why = to_string(r.error().error);
          if (r.error().error == RequestError::relay_error)
            why += " (" + std::string(to_string(static_cast<RelayErrorCode>(r.error().relay_code))) +
                   ")";
          ++sample_.failures[why];
          return;
        }
        auto resp = storage::decode_response(storage::Method::store, *r);
        if (!resp) {
          ++sample_.failures["undecodable answer"];
        } else if (resp->status != storage::Status::ok) {
          ++sample_.failures[std::string("status ") + storage::to_string(resp->status)];
        } else {
          sample_.round_trips_ms.push_back(static_cast<double>(uv_hrtime() - started) / 1e6);
        }
      });
}

}  // namespace nightjar::flood
