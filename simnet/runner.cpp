#include "simnet/runner.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "routing/runtime.hpp"
#include "simnet/process_stats.hpp"
#include "simnet/progress.hpp"
#include "simnet/report_files.hpp"
#include "simnet/sim_clients.hpp"
#include "simnet/sim_groups.hpp"
#include "simnet/sim_network.hpp"
#include "simnet/trace.hpp"
#include "routing/frame.hpp"
#include "routing/link.hpp"
#include "routing/link_session.hpp"

namespace nightjar::simnet {

namespace {

constexpr std::chrono::milliseconds tick_ms{20};
constexpr double client_start_timeout_s = 30;
constexpr double stop_bound_s = 30;

std::string names(const std::vector<std::size_t>& nodes) {
  std::string out;
  for (auto i : nodes)
    out += (out.empty() ? "node" : ", node") + std::to_string(i);
  return out.empty() ? "no node" : out;
}

class Runner {
 public:
  enum class Phase { network, clients, groups, workload, draining, removing, settling, stopping, done };

  Runner(const RunOptions& options, std::filesystem::path run_dir,
         std::shared_ptr<spdlog::logger> log)
      : opt_(options),
        s_(options.scenario),
        run_dir_(std::move(run_dir)),
        log_(std::move(log)),
        progress_(ProgressLine::for_stderr(options.progress)),
        descriptor_failures_at_start_(link_descriptor_failures()) {
    uv_loop_init(&loop_);
    online_ = plan_online(s_);
    plan_ = plan_messages(s_, online_);
    group_plan_ = plan_groups(s_);
    faults_ = plan_faults(s_);
    resolved_.resize(s_.faults.size());
    records_.resize(plan_.size());
    for (std::size_t i = 0; i < plan_.size(); ++i)
      records_[i].plan = plan_[i];
    if (s_.adversary.enabled) {
      trace_ = std::make_shared<RunTrace>();
      trace_->set_clients(s_.clients);
    }
  }

  ~Runner() {
    // Whatever is left on the loop goes now (the clients' last callbacks
    // reach groups_).
    clients_.reset();
    groups_.reset();
    net_.reset();
    tick_.close();
    (void)close_loop(&loop_);
  }

  Result<RunResult, std::string> run() {
    NetworkSetup setup{s_, run_dir_, opt_.node_binary, log_, opt_.log_level, {}, {}, trace_};
    net_ = s_.mode == Mode::inproc ? make_inproc_network(&loop_, setup)
                                   : make_process_network(&loop_, setup);
    started_ms_ = uv_now(&loop_);
    wall_start_ms_ = system_unix_ms();
    progress_.event("starting " + std::to_string(s_.authorities) + " authorit" +
                    (s_.authorities == 1 ? "y" : "ies") + " and " + std::to_string(s_.nodes) +
                    " nodes (" + to_string(s_.mode) + ") in " + run_dir_.string());
    if (auto r = net_->start(); !r) {
      error_ = r.error();
      begin_stop();
    } else if (trace_) {
      for (std::size_t i = 0; i < net_->nodes().size(); ++i)
        trace_->add_node(i, net_->nodes()[i].link_key, net_->nodes()[i].id);
    }
    tick_.start(tick_ms, tick_ms);
    uv_signal_init(&loop_, &sigint_);
    sigint_.data = this;
    uv_signal_start(
        &sigint_,
        [](uv_signal_t* sig, int) {
          auto* self = static_cast<Runner*>(sig->data);
          self->interrupted_ = true;
          self->progress_.event("interrupted: stopping early");
        },
        SIGINT);
    uv_run(&loop_, UV_RUN_DEFAULT);
    progress_.finish();
    if (!error_.empty()) return fail(error_);
    RunResult out;
    out.report = build_report();
    out.records = std::move(records_);
    return out;
  }

 private:
  double now_s() const { return static_cast<double>(uv_now(&loop_) - started_ms_) / 1000.0; }
  double workload_s() const {
    return static_cast<double>(uv_now(&loop_) - workload_start_ms_) / 1000.0;
  }
  // Message times need better than the loop's millisecond clock.
  double since_workload_ms() const {
    return static_cast<double>(uv_hrtime() - workload_start_ns_) / 1e6;
  }

  void tick() {
    uv_update_time(&loop_);
    switch (phase_) {
      case Phase::network:
        if (!net_->error().empty()) {
          error_ = net_->error();
          begin_stop();
        } else if (net_->ready()) {
          ready_s_ = now_s();
          progress_.event("network ready after " + fmt1(ready_s_) + " s; starting " +
                          std::to_string(s_.clients) + " clients");
          start_clients();
        } else if (now_s() > s_.ready_timeout_s || interrupted_) {
          auto d = net_->directory();
          error_ = std::string(interrupted_ ? "interrupted before the network was ready"
                                            : "the network did not list every node within " +
                                                  fmt1(s_.ready_timeout_s) + " s") +
                   " (the directory lists " + std::to_string(d ? d->entries.size() : 0) + " of " +
                   std::to_string(s_.nodes) + ")";
          begin_stop();
        } else {
          auto d = net_->directory();
          progress_.update(now_s(), "starting: " + std::to_string(d ? d->entries.size() : 0) +
                                        " of " + std::to_string(s_.nodes) + " nodes listed");
        }
        break;
      case Phase::clients:
        if (now_s() > ready_s_ + client_start_timeout_s + 5 || interrupted_) {
          error_ = "the clients did not start within " + fmt1(client_start_timeout_s) + " s";
          begin_stop();
        }
        break;
      case Phase::groups:
        if (interrupted_) {
          begin_stop();
        } else if (groups_->setup_step()) {
          progress_.event(groups_->setup_status());
          begin_workload();
        } else {
          progress_.update(now_s(), groups_->setup_status());
        }
        break;
      case Phase::workload:
        apply_faults(workload_s());
        join_sybils(workload_s());
        if (interrupted_ || workload_s() >= s_.duration_s) {
          // The plan's last messages, due between the last tick and the end.
          if (!interrupted_) send_due(s_.duration_s);
          begin_drain();
          break;
        }
        apply_online(workload_s());
        send_due(workload_s());
        show_progress("workload " + fmt1(workload_s()) + "/" + fmt1(s_.duration_s) + " s");
        break;
      case Phase::draining: {
        apply_faults(workload_s());
        const double drained = static_cast<double>(uv_now(&loop_) - drain_start_ms_) / 1000.0;
        if (outstanding() == 0 || drained >= s_.drain_s || interrupted_) {
          drain_s_ = drained;
          workload_cpu_s_ = process_cpu_s() - workload_start_cpu_s_;
          if (groups_ && s_.groups.removal && !interrupted_) {
            phase_ = Phase::removing;
            groups_->start_removals();
            progress_.event("drained; each group's admin removes a member");
          } else {
            after_drain();
          }
          break;
        }
        show_progress("draining " + fmt1(drained) + " s, " + std::to_string(outstanding()) +
                      " outstanding");
        break;
      }
      case Phase::removing:
        apply_faults(workload_s());
        if (groups_->removal_step() || interrupted_) {
          progress_.event(groups_->removal_status());
          after_drain();
        } else {
          progress_.update(now_s(), groups_->removal_status());
        }
        break;
      case Phase::settling: {
        apply_faults(workload_s());
        const double settled = static_cast<double>(uv_now(&loop_) - settle_start_ms_) / 1000.0;
        if (settled >= s_.settle_s || interrupted_) {
          begin_stop();
          break;
        }
        show_progress("settling " + fmt1(settled) + " s");
        break;
      }
      case Phase::stopping:
        if (now_s() > stop_deadline_s_) {
          error_ =
              error_.empty() ? "stopping took longer than " + fmt1(stop_bound_s) + " s" : error_;
          finish();
        }
        break;
      case Phase::done:
        break;
    }
  }

  void after_drain() {
    if (s_.settle_s > 0 && !interrupted_) {
      // Replicas converge by anti-entropy rounds: give restarted and
      // healed members time to catch up before the stores are read.
      phase_ = Phase::settling;
      settle_start_ms_ = uv_now(&loop_);
      progress_.event("settling " + fmt1(s_.settle_s) + " s before the stores are read");
    } else {
      begin_stop();
    }
  }

  void begin_workload() {
    phase_ = Phase::workload;
    workload_start_ms_ = uv_now(&loop_);
    workload_start_cpu_s_ = process_cpu_s();
    workload_start_ns_ = uv_hrtime();
    if (trace_) {
      trace_->set_origin(workload_start_ns_);
      trace_->set_recording(true);
    }
    progress_.event("clients ready; workload of " + std::to_string(plan_.size()) +
                    " messages over " + fmt1(s_.duration_s) + " s");
  }

  void start_clients() {
    phase_ = Phase::clients;
    clients_ = std::make_unique<SimClients>(
        &loop_, net_->config(), s_.clients, log_,
        [this](std::size_t c, std::optional<std::uint64_t> index, const AccountKey& sender) {
          received(c, index, sender);
        },
        std::chrono::milliseconds(static_cast<std::int64_t>(s_.client_lookback_s * 1000)),
        !group_plan_.empty(), trace_);
    if (!group_plan_.empty()) {
      groups_ = std::make_unique<SimGroups>(
          s_, *clients_, group_plan_, plan_group_messages(s_, online_, group_plan_),
          [this] { return since_workload_ms(); });
      clients_->on_group_received([this](std::size_t c, const client::GroupKey& g,
                                         std::optional<std::uint64_t> index,
                                         const AccountKey& sender) {
        groups_->received(c, g, index, sender);
      });
    }
    for (std::size_t c = 0; c < s_.clients; ++c)
      if (!online_.online(c, 0)) clients_->set_online(c, false);
    clients_->start(
        [this](Result<void, std::string> r) {
          if (phase_ != Phase::clients) return;
          if (!r) {
            error_ = r.error();
            begin_stop();
            return;
          }
          if (groups_) {
            phase_ = Phase::groups;
            workload_start_ns_ = uv_hrtime();  // the group clock's zero until the workload's
            groups_->start_setup();
            progress_.event("clients ready; making " + std::to_string(group_plan_.size()) +
                            " groups of " + std::to_string(s_.groups.size));
            return;
          }
          begin_workload();
        },
        std::chrono::milliseconds(static_cast<std::int64_t>(client_start_timeout_s * 1000)));
  }

  void apply_online(double t) {
    for (std::size_t c = 0; c < s_.clients; ++c) {
      const bool want = online_.online(c, t);
      if (want != clients_->online(c)) clients_->set_online(c, want);
    }
  }

  void send_due(double t) {
    if (groups_) groups_->send_due(t);
    while (next_msg_ < plan_.size() && plan_[next_msg_].at_s <= t) {
      const std::size_t i = next_msg_++;
      records_[i].sent_ms = since_workload_ms();
      ++outstanding_sends_;
      clients_->send(plan_[i], [this, i](SendOutcome o) {
        --outstanding_sends_;
        MessageRecord& r = records_[i];
        r.message_id = o.message_id;
        r.stored_ids = o.stored_ids;
        r.attempts = o.attempts;
        r.replicas = o.replicas;
        if (o.ok) {
          r.acked_ms = since_workload_ms();
        } else {
          r.failed_ms = since_workload_ms();
          r.failure = o.error;
        }
      });
    }
  }

  void received(std::size_t client, std::optional<std::uint64_t> index, const AccountKey& sender) {
    if (!index || *index >= records_.size()) {
      ++foreign_;
      return;
    }
    MessageRecord& r = records_[*index];
    if (r.plan.recipient != client || !r.sent_ms || sender != clients_->account(r.plan.sender)) {
      ++misdelivered_;
      return;
    }
    if (r.receptions++ == 0) r.received_ms = since_workload_ms();
  }

  // Sends without an answer, and acknowledged messages not yet received.
  std::size_t outstanding() const {
    std::size_t n = outstanding_sends_ + (groups_ ? groups_->outstanding() : 0);
    for (std::size_t i = 0; i < next_msg_; ++i)
      if (records_[i].acked_ms && records_[i].receptions == 0) ++n;
    return n;
  }

  void apply_faults(double t) {
    // Restarts that could not happen yet (a node still shutting down).
    std::erase_if(pending_restarts_, [&](std::size_t i) { return restart(i); });
    while (next_fault_ < faults_.size() && faults_[next_fault_].at_s <= t) {
      const FaultEvent& e = faults_[next_fault_++];
      std::vector<std::size_t>& nodes = resolved_[e.fault];
      if (e.kind == FaultEvent::Kind::kill || e.kind == FaultEvent::Kind::partition_start ||
          e.kind == FaultEvent::Kind::link_start)
        nodes = resolve(e);
      std::string what = to_string(e.kind);
      switch (e.kind) {
        case FaultEvent::Kind::kill:
          for (auto i : nodes)
            net_->kill(i);
          break;
        case FaultEvent::Kind::restart:
          for (auto i : nodes)
            if (!restart(i)) pending_restarts_.push_back(i);
          break;
        case FaultEvent::Kind::partition_start: {
          const auto& lasts = s_.faults[e.fault].duration_s;
          std::optional<std::chrono::milliseconds> heal_in;
          if (lasts)
            heal_in = std::chrono::milliseconds(static_cast<std::int64_t>(*lasts * 1000));
          if (!net_->partition(nodes, heal_in)) what += " (not supported in process mode: skipped)";
          partitioned_ = true;
          break;
        }
        case FaultEvent::Kind::partition_end:
          net_->heal();
          partitioned_ = false;
          break;
        case FaultEvent::Kind::link_start: {
          const FaultSpec& f = s_.faults[e.fault];
          if (!net_->set_link_faults(nodes, f.latency_ms, f.jitter_ms, f.loss))
            what += " (not supported in process mode: skipped)";
          char buf[96];
          std::snprintf(buf, sizeof buf, " (latency %.0f ms, jitter %.0f ms, loss %.3f)",
                        f.latency_ms, f.jitter_ms, f.loss);
          what += buf;
          link_faulted_.insert(link_faulted_.end(), nodes.begin(), nodes.end());
          break;
        }
        case FaultEvent::Kind::link_end:
          net_->set_link_faults(nodes, 0, 0, 0);
          break;
      }
      const std::string line =
          fmt1(t) + " s " + what + " " + (e.all_nodes ? std::string("all nodes") : names(nodes));
      events_.push_back(line);
      progress_.event("fault: " + line);
    }
  }

  bool restart(std::size_t i) {
    auto r = net_->restart(i);
    if (!r) {
      notes_.push_back("node" + std::to_string(i) + " did not restart: " + r.error());
      return true;  // given up
    }
    return *r;
  }

  std::vector<std::size_t> resolve(const FaultEvent& e) const {
    if (e.all_nodes) {
      std::vector<std::size_t> all(s_.nodes);
      for (std::size_t i = 0; i < all.size(); ++i)
        all[i] = i;
      return all;
    }
    if (!e.swarm_members) return e.nodes;
    std::vector<std::vector<std::size_t>> swarms;
    if (auto d = net_->directory()) {
      for (SwarmId id : d->swarms()) {
        std::vector<std::size_t> members;
        for (const auto* entry : d->members(id))
          if (auto i = net_->index_of(entry->node.id)) members.push_back(*i);
        swarms.push_back(std::move(members));
      }
    }
    if (e.each_swarm) return each_swarm_members(swarms, e.swarm_members, e.pick);
    return pick_swarm_members(swarms, e.swarm_members, e.pick);
  }

  // A Sybil adversary's nodes join at their time (once).
  void join_sybils(double t) {
    if (sybils_joined_ || !net_->held_back() || t < s_.adversary.sybil_join_s) return;
    sybils_joined_ = true;
    if (auto r = net_->join_held_back(); !r) {
      error_ = r.error();
      return begin_stop();
    }
    events_.push_back(fmt1(t) + " s " + std::to_string(net_->held_back()) + " Sybil nodes join (node" +
                      std::to_string(s_.nodes) + " on)");
    progress_.event(events_.back());
  }

  void begin_drain() {
    phase_ = Phase::draining;
    drain_start_ms_ = uv_now(&loop_);
    // Partitions and link faults last until the end of the workload; kills
    // stay as they are. Every client comes online to collect its messages.
    if (partitioned_) net_->heal();
    if (!link_faulted_.empty()) net_->set_link_faults(link_faulted_, 0, 0, 0);
    for (std::size_t c = 0; c < s_.clients; ++c)
      if (!clients_->online(c)) clients_->set_online(c, true);
    progress_.event("workload over after " + fmt1(workload_s()) +
                    " s: " + std::to_string(next_msg_) + " sent; draining (at most " +
                    fmt1(s_.drain_s) + " s)");
  }

  void begin_stop() {
    if (phase_ == Phase::stopping || phase_ == Phase::done) return;
    phase_ = Phase::stopping;
    stop_deadline_s_ = now_s() + stop_bound_s;
    final_directory_ = net_ ? net_->directory() : nullptr;
    if (trace_ && trace_->recording()) {
      trace_->set_recording(false);
      recorded_s_ = since_workload_ms() / 1000.0;
    }
    if (clients_) {
      paths_ = clients_->path_report(
          [this](const NodeId& id) {
            auto i = net_->index_of(id);
            return i ? "node" + std::to_string(*i) : id.hex().substr(0, 12);
          },
          total_nodes(s_));
      clients_->stop();
    }
    rss_before_stop_mb_ = status_mb("VmRSS:");
    if (!net_) return finish();
    net_->stop([this] { finish(); });
  }

  void finish() {
    if (phase_ == Phase::done) return;
    phase_ = Phase::done;
    tick_.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  }

  void show_progress(const std::string& head) {
    std::size_t acked = 0, delivered = 0, failed = 0;
    for (std::size_t i = 0; i < next_msg_; ++i) {
      acked += records_[i].acked_ms.has_value();
      failed += records_[i].failed_ms.has_value();
      delivered += records_[i].receptions > 0;
    }
    progress_.update(now_s(), head + " | sent " + std::to_string(next_msg_) + ", acked " +
                                  std::to_string(acked) + ", failed " + std::to_string(failed) +
                                  ", delivered " + std::to_string(delivered) + " | nodes up " +
                                  std::to_string(net_->running_count()) + "/" +
                                  std::to_string(s_.nodes));
  }

  Report build_report() {
    Report r;
    r.mode = to_string(s_.mode);
    r.seed = s_.seed;
    r.authorities = s_.authorities;
    r.nodes = s_.nodes;
    r.clients = s_.clients;
    r.duration_s = s_.duration_s;
    r.ready_s = ready_s_;
    r.drain_s = drain_s_;
    r.wall_s = static_cast<double>(system_unix_ms() - wall_start_ms_) / 1000.0;
    r.counts = count_messages(records_);
    std::vector<double> stored, got;
    for (const auto& m : records_) {
      if (m.sent_ms && m.acked_ms) stored.push_back(*m.acked_ms - *m.sent_ms);
      if (m.sent_ms && m.received_ms) got.push_back(*m.received_ms - *m.sent_ms);
    }
    r.stored = summarize(std::move(stored));
    r.received = summarize(std::move(got));
    r.node_reports = net_->node_reports();
    if (final_directory_) {
      for (std::size_t i = 0; i < r.node_reports.size() && i < net_->nodes().size(); ++i)
        if (const auto* e = final_directory_->find(net_->nodes()[i].id))
          r.node_reports[i].swarm = e->swarm;
      std::vector<NodeId> ids;
      for (const auto& n : net_->nodes())
        ids.push_back(n.id);
      const auto& held = net_->held_messages();
      const auto fig = replication_completeness(*final_directory_, ids, held);
      r.replication_complete = fig.fraction();
      r.replicated_messages = fig.messages;
      std::vector<AckedMessage> acked;
      for (const auto& m : records_)
        if (m.acked_ms && !m.stored_ids.empty())
          acked.push_back({clients_->account(m.plan.recipient), m.stored_ids});
      const auto a = acked_replication(*final_directory_, ids, held, acked);
      r.acked_checked = a.messages;
      r.acked_on_every_member = a.complete;
      r.acked_held_nowhere = a.held_nowhere;
    }
    r.paths = paths_;
    if (groups_) r.groups = groups_->report();
    if (trace_ && clients_) r.anonymity = anonymity_report(r.node_reports);
    r.events = events_;
    r.notes = net_->notes();
    r.notes.insert(r.notes.end(), notes_.begin(), notes_.end());
    if (groups_)
      for (auto& n : groups_->notes())
        r.notes.push_back(std::move(n));
    if (misdelivered_)
      r.notes.push_back(std::to_string(misdelivered_) +
                        " messages reached a client that was not their recipient, or came from "
                        "the wrong sender");
    if (foreign_)
      r.notes.push_back(std::to_string(foreign_) + " received messages were not the simnet's");
    if (interrupted_) r.notes.push_back("interrupted (SIGINT): the workload ended early");
    r.descriptor_failures = link_descriptor_failures() - descriptor_failures_at_start_;
    for (const auto& n : r.node_reports)
      r.descriptor_failures += n.descriptor_failures;
    if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0) r.descriptor_limit = lim.rlim_cur;
    if (r.descriptor_failures)
      r.notes.push_back(
          std::to_string(r.descriptor_failures) +
          " links could not be dialed or accepted for want of file descriptors (the simnet's "
          "limit: " + std::to_string(r.descriptor_limit) +
          "): cells and messages failed for that, not for the network; raise the limit (ulimit "
          "-Hn, -n), use fewer nodes, or --mode process");
    r.rss_mb = rss_before_stop_mb_;
    r.rss_peak_mb = status_mb("VmHWM:");
    r.cpu_s = process_cpu_s();
    r.workload_cpu_s = workload_cpu_s_;
    return r;
  }

  // The adversary models over what the run recorded, and the defences' cost.
  AnonymityReport anonymity_report(const std::vector<NodeReport>& nodes) {
    AnonymityReport a;
    const DefenceSettings& d = s_.defences;
    const NetworkParams params = network_params(s_);
    a.mix_delay_ms = d.mix_delay_ms;
    a.mix_delay_max_ms = params.defences.mix_delay_max_ms;
    a.loop_rate = d.loop_rate;
    a.drop_rate = d.drop_rate;
    a.poll_padding_ms = d.poll_padding_ms;
    trace_->attribute_stores(records_);
    const auto& frames = trace_->frames();
    const auto& requests = trace_->requests();
    a.client_frames = frames.size();
    a.frames_dropped = trace_->frames_dropped();
    a.node_link_frames = trace_->node_link_frames();
    a.requests = requests.size();
    for (const auto& q : requests) a.stores_attributed += q.message.has_value();

    std::vector<adversary::SentMessage> sent;
    std::vector<bool> sent_any(s_.clients, false);
    for (const auto& m : records_) {
      if (!m.sent_ms) continue;
      sent.push_back({m.plan.index, static_cast<std::uint32_t>(m.plan.sender),
                      static_cast<std::uint32_t>(m.plan.recipient), *m.sent_ms, m.received_ms});
      sent_any[m.plan.sender] = true;
    }
    const double horizon_ms = recorded_s_ * 1000;
    for (std::size_t k = 0; k < s_.adversary.fractions.size(); ++k) {
      const double f = s_.adversary.fractions[k];
      const auto count = static_cast<std::size_t>(std::lround(f * static_cast<double>(s_.nodes)));
      a.compromised.push_back(adversary::random_adversaries(
          requests, sent, s_.nodes, std::min(count, s_.nodes), s_.adversary.trials,
          s_.seed * 1000 + k, horizon_ms));
    }
    if (net_->held_back() > 0) {
      std::vector<bool> sybil(net_->nodes().size(), false);
      for (std::size_t i = s_.nodes; i < sybil.size(); ++i) sybil[i] = true;
      a.sybil_nodes = net_->held_back();
      a.sybil_join_s = s_.adversary.sybil_join_s;
      a.sybil = adversary::compromised_nodes(requests, sent, sybil, horizon_ms);
    }
    a.timing_params.cell_frame_bytes = static_cast<std::uint32_t>(
        params.cell_bytes + onion_frame_header + LinkSession::frame_overhead);
    a.timing_params.window_ms = s_.adversary.window_ms;
    a.timing_params.reply_guard_ms = s_.adversary.reply_guard_ms;
    a.timing_params.carry_ms = s_.adversary.carry_ms;
    a.timing = adversary::timing_attack(frames, sent, a.timing_params);
    a.swarm_view = adversary::swarm_view(requests, sent);

    a.recorded_s = recorded_s_;
    const auto& bytes = trace_->client_bytes();
    double all = 0, idle = 0;
    std::size_t idle_n = 0;
    for (std::size_t c = 0; c < bytes.size(); ++c) {
      all += static_cast<double>(bytes[c]);
      if (!sent_any[c]) {
        idle += static_cast<double>(bytes[c]);
        ++idle_n;
      }
    }
    if (recorded_s_ > 0 && !bytes.empty()) {
      a.client_bytes_per_s = all / static_cast<double>(bytes.size()) / recorded_s_;
      if (idle_n) a.idle_client_bytes_per_s = idle / static_cast<double>(idle_n) / recorded_s_;
    }
    std::uint64_t held_us = 0, max_us = 0;
    for (const auto& n : nodes) {
      a.cover_cells += n.cover_cells;
      a.padding_segments += n.padding_segments;
      a.mix_released += n.mix_released;
      held_us += n.mix_held_us_sum;
      max_us = std::max(max_us, n.mix_held_us_max);
    }
    if (a.mix_released)
      a.mix_mean_held_ms = static_cast<double>(held_us) / static_cast<double>(a.mix_released) / 1000;
    a.mix_max_held_ms = static_cast<double>(max_us) / 1000;
    if (d.mix_delay_ms > 0 && a.mix_released == 0) a.defences_unseen.push_back("mixing delays");
    if ((d.loop_rate > 0 || d.drop_rate > 0) && a.cover_cells == 0)
      a.defences_unseen.push_back("cover traffic");
    if (d.poll_padding_ms > 0 && a.padding_segments == 0)
      a.defences_unseen.push_back("poll padding");
    if (a.frames_dropped)
      notes_.push_back(std::to_string(a.frames_dropped) +
                       " client-link frames were beyond the trace's bound: the timing attack saw "
                       "only the first " + std::to_string(a.client_frames));
    return a;
  }

  static std::string fmt1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }

  const RunOptions& opt_;
  const Scenario& s_;
  std::filesystem::path run_dir_;
  std::shared_ptr<spdlog::logger> log_;
  ProgressLine progress_;
  uv_loop_t loop_{};
  Timer tick_{&loop_, [this] { tick(); }};
  uv_signal_t sigint_{};
  Phase phase_ = Phase::network;
  bool interrupted_ = false;
  std::string error_;

  std::unique_ptr<SimNetwork> net_;
  std::unique_ptr<SimClients> clients_;
  std::unique_ptr<SimGroups> groups_;
  std::vector<PlannedGroup> group_plan_;
  OnlinePlan online_;
  std::vector<PlannedMessage> plan_;
  std::vector<MessageRecord> records_;
  std::vector<FaultEvent> faults_;
  std::vector<std::vector<std::size_t>> resolved_;  // nodes of each fault
  std::vector<std::size_t> pending_restarts_;
  std::vector<std::size_t> link_faulted_;
  bool partitioned_ = false;
  std::size_t next_msg_ = 0, next_fault_ = 0, outstanding_sends_ = 0;
  std::uint64_t misdelivered_ = 0, foreign_ = 0;

  std::uint64_t started_ms_ = 0, workload_start_ms_ = 0, drain_start_ms_ = 0, wall_start_ms_ = 0;
  std::uint64_t settle_start_ms_ = 0;
  std::uint64_t workload_start_ns_ = 0;
  double ready_s_ = 0, drain_s_ = 0, stop_deadline_s_ = 0, rss_before_stop_mb_ = 0;
  double workload_start_cpu_s_ = 0, workload_cpu_s_ = 0;
  std::shared_ptr<const Directory> final_directory_;
  PathReport paths_;
  std::vector<std::string> events_, notes_;
  std::shared_ptr<RunTrace> trace_;  // the adversary models' record; null: models off
  double recorded_s_ = 0;
  bool sybils_joined_ = false;
  std::uint64_t descriptor_failures_at_start_ = 0;
};

// In-process, every node holds a few descriptors (its store, its listener)
// and the simnet both ends of every link: to the authority both ways, and to
// each swarm peer both ways. Raises the soft limit to the hard one and says when the
// run will probably not fit.
std::optional<std::string> check_descriptors(const Scenario& s) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;
  // A busy network links every relay to most others (2 descriptors a link
  // in one process): raise the hard limit too where that is allowed (root,
  // CAP_SYS_RESOURCE), up to the kernel's fs.nr_open.
  if (s.mode == Mode::inproc) {
    rlim_t want = rlim_t{1} << 20;
    if (std::ifstream nr_open("/proc/sys/fs/nr_open"); nr_open) {
      unsigned long long v = 0;
      if (nr_open >> v && v > 0) want = std::min<rlim_t>(want, static_cast<rlim_t>(v));
    }
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want) {
      rlimit raised{want, want};
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) (void)::getrlimit(RLIMIT_NOFILE, &lim);
    }
  }
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &lim);
    (void)::getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (s.mode != Mode::inproc) return std::nullopt;
  // Store and listener 5, authority links 4, relay links about 2, and a
  // link to each swarm peer that it dials (the peer's link back is counted
  // with the peer): 2 each.
  const std::uint64_t per_node = 11 + 2 * (std::uint64_t{s.swarm_ideal} - 1);
  const std::uint64_t need = s.nodes * per_node + s.clients * 16 + 64;
  if (need <= lim.rlim_cur) return std::nullopt;
  return "this run needs about " + std::to_string(need) + " file descriptors (in one process " +
         "a link costs two) and the limit is " + std::to_string(lim.rlim_cur) +
         ": expect failed sends; use smaller swarms (--swarm-sizes), fewer nodes, or a higher "
         "limit (ulimit -n)";
}

Result<std::filesystem::path, std::string> make_run_dir(const RunOptions& o) {
  if (!o.run_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.run_dir, ec);
    if (ec) return fail("cannot create " + o.run_dir.string() + ": " + ec.message());
    return o.run_dir;
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "nightjar-simnet-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return fail(std::string("cannot create a temporary directory"));
  return std::filesystem::path(tmpl);
}

}  // namespace

Result<RunResult, std::string> run_simnet(const RunOptions& options) {
  if (auto problem = options.scenario.check(); !problem.empty()) return fail(problem);
  auto dir = make_run_dir(options);
  if (!dir) return dir.failure();
  const bool remove_dir = options.run_dir.empty() && !options.keep_run_dir;

  // Nodes and clients log to a file in the run directory, never to the
  // terminal the progress line is on.
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>((*dir / "simnet.log").string());
  auto log = std::make_shared<spdlog::logger>("simnet", sink);
  auto level = spdlog::level::from_str(options.log_level);
  log->set_level(level);
  auto previous_default = spdlog::default_logger();
  spdlog::set_default_logger(log);

  const auto descriptors = check_descriptors(options.scenario);
  if (descriptors && options.progress) std::fprintf(stderr, "warning: %s\n", descriptors->c_str());

  Result<RunResult, std::string> result = fail(std::string("not run"));
  {
    Runner runner(options, *dir, log);
    result = runner.run();
  }
  spdlog::set_default_logger(previous_default);
  log->flush();

  if (result) {
    Report& r = result->report;
    if (descriptors) r.notes.push_back(*descriptors);
    if (options.csv_dir)
      if (auto w = write_csv(*options.csv_dir, result->records, r); !w)
        r.notes.push_back("CSV not written: " + w.error());
    if (options.plot_dir)
      for (auto& note : write_plots(*options.plot_dir, result->records, r))
        r.notes.push_back(note);
    if (!remove_dir) r.notes.push_back("run directory kept: " + dir->string());
    if (options.json_file) {
      std::ofstream out(*options.json_file, std::ios::trunc);
      out << to_json(r).dump(2) << "\n";
      out.close();
      if (!out) return fail("cannot write " + options.json_file->string());
    }
  } else if (remove_dir) {
    result = fail(result.error() + " (run again with --keep to look at the logs)");
  } else {
    result = fail(result.error() + " (logs in " + dir->string() + ")");
  }
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(*dir, ec);
  }
  return result;
}

}  // namespace nightjar::simnet
