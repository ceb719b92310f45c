#include "simnet/sim_clients.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>

#include "client/path_selector.hpp"
#include "simnet/trace.hpp"

namespace nightjar::simnet {

SimClients::SimClients(uv_loop_t* loop, const NetworkConfig& network, std::size_t count,
                       std::shared_ptr<spdlog::logger> log, Received on_received,
                       std::chrono::milliseconds lookback, bool forward_secret,
                       std::shared_ptr<RunTrace> trace)
    : loop_(loop), online_(count, true), on_received_(std::move(on_received)) {
  SystemRandom rng;
  for (std::size_t i = 0; i < count; ++i) {
    client::ClientOptions o;
    o.network = network;
    o.lookback = lookback;
    // Without groups, simulated clients send version-1 envelopes only (the
    // published figures are of version 1), so they publish no prekey
    // bundles and look none up: the workload stays the messages it names.
    // Group controls travel over version 2 conversations.
    o.publish_prekeys = forward_secret;
    o.forward_secret = forward_secret;
    if (trace) {
      o.link_observer = trace->client_observer(i);
      o.on_request = trace->request_observer(i);
    }
    if (log) {
      o.log = std::make_shared<spdlog::logger>("client" + std::to_string(i), log->sinks().begin(),
                                               log->sinks().end());
      o.log->set_level(log->level());
    }
    auto identity = client::Identity::generate(rng);
    accounts_.push_back(identity.account());
    clients_.push_back(std::make_unique<client::Client>(loop_, std::move(o), std::move(identity)));
  }
}

SimClients::~SimClients() = default;

void SimClients::start(std::function<void(Result<void, std::string>)> done,
                       std::chrono::milliseconds timeout) {
  auto shared_done =
      std::make_shared<std::function<void(Result<void, std::string>)>>(std::move(done));
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    clients_[i]->start(
        [this, i, shared_done](Result<void, std::string> r) {
          if (start_failed_) return;
          if (!r) {
            start_failed_ = true;
            (*shared_done)(fail("client" + std::to_string(i) + ": " + r.error()));
            return;
          }
          if (online_[i]) set_online(i, true);
          if (++started_ == clients_.size()) (*shared_done)({});
        },
        timeout);
  }
}

void SimClients::set_online(std::size_t i, bool online) {
  online_.at(i) = online;
  if (online) {
    clients_[i]->subscribe([this, i](const client::ReceivedMessage& m) {
      if (m.group_control) return;
      if (m.group) {
        if (on_group_received_) on_group_received_(i, *m.group, parse_message_index(m.text), m.sender);
        return;
      }
      on_received_(i, parse_message_index(m.text), m.sender);
    });
  } else {
    clients_[i]->unsubscribe();
  }
}

bool SimClients::online(std::size_t i) const {
  return online_.at(i);
}

void SimClients::send(const PlannedMessage& m, std::function<void(SendOutcome)> done) {
  auto text = message_text(m.index, m.bytes);
  clients_.at(m.sender)->send(
      accounts_.at(m.recipient), text,
      [done = std::move(done)](Result<client::SendReceipt, client::SendFailure> r) {
        SendOutcome out;
        if (r) {
          out.ok = true;
          out.message_id = r->message_id.hex();
          out.stored_ids = r->stored_ids;
          out.replicas = r->min_replicas;
          out.attempts = r->attempts;
        } else {
          out.error = std::string(client::to_string(r.error().error));
          if (!r.error().detail.empty()) out.error += ": " + r.error().detail;
        }
        done(std::move(out));
      });
}

void SimClients::stop() {
  for (auto& c : clients_)
    c->stop();
}

const AccountKey& SimClients::account(std::size_t i) const {
  return accounts_.at(i);
}

PathReport SimClients::path_report(const std::function<std::string(const NodeId&)>& name_of,
                                   std::size_t nodes) const {
  PathReport r;
  UseCounts first, middle;
  double guards_sum = 0;
  for (const auto& c : clients_) {
    const PathStats& s = c->paths().stats();
    r.paths += s.paths;
    r.short_paths += s.short_paths;
    r.non_diverse_paths += s.non_diverse_paths;
    r.fallback_paths += s.fallback_paths;
    r.backup_guard_first_hops += s.backup_guard_first_hops;
    guards_sum += static_cast<double>(s.first_hop_use.size());
    for (const auto& [id, n] : s.first_hop_use)
      first[id] += n;
    for (const auto& [id, n] : s.middle_use)
      middle[id] += n;
  }
  r.distinct_guards = first.size();
  r.guards_per_client = clients_.empty() ? 0 : guards_sum / static_cast<double>(clients_.size());
  r.first_hop_entropy_bits = relay_choice_entropy_bits(first);
  r.middle_entropy_bits = relay_choice_entropy_bits(middle);
  r.max_entropy_bits = nodes ? std::log2(static_cast<double>(nodes)) : 0;
  for (const auto& [id, n] : first)
    r.guard_use.emplace_back(name_of(id), n);
  return r;
}

}  // namespace nightjar::simnet
