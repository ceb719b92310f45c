#include "simnet/sim_groups.hpp"

#include <sodium.h>
#include <time.h>

#include <algorithm>

#include "simnet/process_stats.hpp"

namespace nightjar::simnet {

namespace {

constexpr std::size_t max_changes = 64;  // per commit (client/group_messages.hpp)
// Convergence checks walk every member's view of every other member: at
// every tick for small groups, less often as that grows (every 250 ms for
// a group of 1,000).
double check_interval_ms(const std::vector<PlannedGroup>& groups) {
  double pairs = 0;
  for (const auto& g : groups)
    pairs += static_cast<double>(g.members.size()) * static_cast<double>(g.members.size());
  return std::min(250.0, pairs / 4000);
}

double thread_cpu_s() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Bare X25519s (crypto_scalarmult) per CPU second of this thread: the best
// of three rounds of 500, so that a removal's CPU can be given in the units
// of the benchmarks.
double x25519_rate() {
  unsigned char q[crypto_scalarmult_BYTES], n[crypto_scalarmult_SCALARBYTES];
  unsigned char p[crypto_scalarmult_BYTES];
  randombytes_buf(n, sizeof n);
  crypto_scalarmult_base(p, n);
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    const double start = thread_cpu_s();
    constexpr int calls = 500;
    for (int i = 0; i < calls; ++i) {
      if (crypto_scalarmult(q, n, p) != 0) break;
      p[0] ^= q[0];
    }
    const double spent = thread_cpu_s() - start;
    if (spent > 0) best = std::max(best, calls / spent);
  }
  return best;
}

std::string group_name(std::size_t g) {
  return "simnet-group-" + std::to_string(g);
}

}  // namespace

SimGroups::SimGroups(const Scenario& s, SimClients& clients, std::vector<PlannedGroup> groups,
                     std::vector<PlannedGroupMessage> messages, std::function<double()> now_ms)
    : s_(s), clients_(clients), now_ms_(std::move(now_ms)), check_every_ms_(check_interval_ms(groups)) {
  for (auto& g : groups) {
    Run r;
    r.plan = std::move(g);
    runs_.push_back(std::move(r));
  }
  for (auto& m : messages) {
    Record r;
    r.received.resize(runs_.at(m.group).plan.members.size());
    r.plan = m;
    records_.push_back(std::move(r));
  }
  planned_ = records_.size();
}

std::optional<std::size_t> SimGroups::position(const Run& r, std::size_t client) const {
  const auto& m = r.plan.members;
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] == client) return i;
  return std::nullopt;
}

std::uint64_t SimGroups::controls_sent() const {
  std::uint64_t n = 0;
  for (std::size_t c = 0; c < clients_.size(); ++c)
    n += clients_.client(c).stats().group_controls_sent;
  return n;
}

// --- Set-up.

void SimGroups::start_setup() {
  setup_start_ms_ = now_ms_();
  controls_at_setup_ = controls_sent();
}

void SimGroups::step_setup(std::size_t g) {
  Run& r = runs_[g];
  if (r.busy) return;
  const std::size_t admin = r.plan.members.front();
  switch (r.step) {
    case Run::Step::bundles: {
      for (std::size_t c : r.plan.members)
        if (clients_.client(c).stats().bundles_published == 0) return;
      r.step = Run::Step::creating;
      r.busy = true;
      clients_.client(admin).create_group(
          group_name(g), [this, g](Result<client::GroupKey, std::string> key) {
            Run& run = runs_[g];
            run.busy = false;
            if (!key) {
              run.step = Run::Step::failed;
              notes_.push_back(group_name(g) + ": not created: " + key.error());
              return;
            }
            run.key = *key;
            run.step = Run::Step::adding;
          });
      break;
    }
    case Run::Step::adding: {
      const std::size_t total = r.plan.members.size() - 1;
      if (r.added == total) {
        r.step = Run::Step::keying;
        break;
      }
      const std::size_t n = std::min(max_changes, total - r.added);
      std::vector<client::group::Change> changes;
      for (std::size_t i = 0; i < n; ++i) {
        client::group::Change c;
        c.type = client::group::ChangeType::add;
        c.account = clients_.account(r.plan.members[1 + r.added + i]);
        changes.push_back(std::move(c));
      }
      r.busy = true;
      clients_.client(admin).change_group(
          *r.key, std::move(changes),
          [this, g, n](Result<client::GroupChangeReport, std::string> done) {
            Run& run = runs_[g];
            run.busy = false;
            if (!done) {
              run.step = Run::Step::failed;
              notes_.push_back(group_name(g) + ": members not added: " + done.error());
              return;
            }
            run.added += n;
          });
      break;
    }
    case Run::Step::keying:
      if (keyed(r, r.plan.members, nullptr)) {
        r.step = Run::Step::ready;
        r.ready_ms = now_ms_();
      }
      break;
    case Run::Step::creating:
    case Run::Step::ready:
    case Run::Step::failed:
      break;
  }
}

bool SimGroups::keyed(const Run& r, const std::vector<std::size_t>& members,
                      const std::vector<std::uint32_t>* before) const {
  if (!r.key) return false;
  const auto admin = clients_.client(r.plan.members.front()).group(*r.key);
  if (!admin) return false;
  std::vector<client::GroupInfo> infos;
  infos.reserve(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    auto info = clients_.client(members[i]).group(*r.key);
    if (!info || !info->member || info->epoch != admin->epoch ||
        info->members.size() != members.size() || info->generation == 0)
      return false;
    if (before && info->generation <= (*before)[i]) return false;
    infos.push_back(std::move(*info));
  }
  for (std::size_t i = 0; i < members.size(); ++i)
    for (std::size_t j = 0; j < members.size(); ++j) {
      if (i == j) continue;
      auto it = infos[i].sender_keys.find(clients_.account(members[j]));
      if (it == infos[i].sender_keys.end() || it->second != infos[j].generation) return false;
    }
  return true;
}

bool SimGroups::setup_step() {
  const double now = now_ms_();
  const bool check = now - last_check_ms_ >= check_every_ms_;
  if (check) last_check_ms_ = now;
  bool done = true;
  for (std::size_t g = 0; g < runs_.size(); ++g) {
    Run& r = runs_[g];
    if (r.step == Run::Step::keying && !check) {
      done = false;
      continue;
    }
    step_setup(g);
    if (r.step != Run::Step::ready && r.step != Run::Step::failed) done = false;
  }
  if (!done && now - setup_start_ms_ >= s_.groups.setup_timeout_s * 1000) {
    for (std::size_t g = 0; g < runs_.size(); ++g) {
      Run& r = runs_[g];
      if (r.step == Run::Step::ready || r.step == Run::Step::failed) continue;
      static constexpr const char* steps[] = {"waiting for prekey bundles", "being created",
                                              "adding members", "delivering sender keys"};
      notes_.push_back(group_name(g) + ": not ready after " +
                       std::to_string(static_cast<int>(s_.groups.setup_timeout_s)) +
                       " s (still " + steps[static_cast<int>(r.step)] +
                       "): it sends nothing");
      r.step = Run::Step::failed;
    }
    done = true;
  }
  if (done) {
    setup_end_ms_ = now;
    setup_messages_ = controls_sent() - controls_at_setup_;
    for (std::size_t i = 0; i < planned_; ++i)
      if (runs_[records_[i].plan.group].step != Run::Step::ready) records_[i].plan.at_s = -1;
  }
  return done;
}

std::string SimGroups::setup_status() const {
  std::size_t ready = 0, keying = 0;
  for (const Run& r : runs_) {
    ready += r.step == Run::Step::ready;
    keying += r.step == Run::Step::keying;
  }
  return "groups: " + std::to_string(ready) + " of " + std::to_string(runs_.size()) +
         " ready, " + std::to_string(keying) + " delivering sender keys, " +
         std::to_string(controls_sent() - controls_at_setup_) + " control messages";
}

// --- Workload.

void SimGroups::send(std::size_t i) {
  Record& rec = records_[i];
  const Run& run = runs_[rec.plan.group];
  rec.sent_ms = now_ms_();
  ++unanswered_;
  clients_.client(rec.plan.sender)
      .send_group(*run.key, message_text(rec.plan.index, rec.plan.bytes),
                  [this, i](Result<client::SendReceipt, client::SendFailure> r) {
                    --unanswered_;
                    Record& done = records_[i];
                    if (r) {
                      done.acked_ms = now_ms_();
                      if (!done.probe) owed_ += owed(done);
                    } else {
                      done.failed_ms = now_ms_();
                    }
                  });
}

std::size_t SimGroups::owed(const Record& r) const {
  return r.received.size() - 1 - r.receptions;
}

void SimGroups::send_due(double workload_s) {
  while (next_ < planned_ && records_[next_].plan.at_s <= workload_s) {
    const std::size_t i = next_++;
    if (records_[i].plan.at_s < 0) continue;  // its group never became ready
    send(i);
  }
}

void SimGroups::received(std::size_t client, const client::GroupKey& group,
                         std::optional<std::uint64_t> index, const AccountKey& sender) {
  if (!index || *index >= records_.size()) {
    ++stray_;
    return;
  }
  Record& rec = records_[*index];
  const Run& run = runs_[rec.plan.group];
  if (!run.key || *run.key != group || !rec.sent_ms ||
      sender != clients_.account(rec.plan.sender)) {
    ++stray_;
    return;
  }
  if (client == rec.plan.sender) return;  // its own, read back from the mailbox
  if (rec.probe && client == run.plan.removed) {
    ++removed_opened_;
    return;
  }
  auto p = position(run, client);
  if (!p) {
    ++stray_;
    return;
  }
  if (rec.received[*p]) {
    ++duplicates_;
    return;
  }
  rec.received[*p] = now_ms_();
  ++rec.receptions;
  if (!rec.probe && rec.acked_ms) --owed_;
}

std::size_t SimGroups::outstanding() const {
  return unanswered_ + owed_;
}

// --- Removals.

void SimGroups::start_removals() {
  removal_start_ms_ = now_ms_();
  last_check_ms_ = -1e9;
  cpu_at_removal_ = process_cpu_s();
  controls_at_removal_ = controls_sent();
  for (std::size_t g = 0; g < runs_.size(); ++g) {
    Run& r = runs_[g];
    if (r.step != Run::Step::ready) continue;
    for (std::size_t c : r.plan.members) {
      if (c == r.plan.removed) continue;
      r.remaining.push_back(c);
      auto info = clients_.client(c).group(*r.key);
      r.generation_before.push_back(info ? info->generation : 0);
    }
    client::group::Change c;
    c.type = client::group::ChangeType::remove;
    c.account = clients_.account(r.plan.removed);
    r.removal_started = true;
    r.removal_start_ms = now_ms_();
    clients_.client(r.plan.members.front())
        .change_group(*r.key, {c}, [this, g](Result<client::GroupChangeReport, std::string> done) {
          if (!done) notes_.push_back(group_name(g) + ": removal refused: " + done.error());
        });
  }
}

void SimGroups::send_probes() {
  probes_start_ms_ = now_ms_();
  removal_cpu_s_ = process_cpu_s() - cpu_at_removal_;
  for (std::size_t g = 0; g < runs_.size(); ++g) {
    Run& r = runs_[g];
    if (!r.converged_ms) continue;
    Record rec;
    rec.plan.index = records_.size();
    rec.plan.group = g;
    rec.plan.sender = r.plan.members.front();
    rec.plan.bytes = s_.groups.bytes;
    rec.received.resize(r.plan.members.size());
    rec.probe = true;
    r.probe = rec.plan.index;
    records_.push_back(std::move(rec));
    send(*r.probe);
  }
}

bool SimGroups::removal_step() {
  if (removal_done_) return true;
  const double now = now_ms_();
  const double bound_ms = s_.groups.removal_timeout_s * 1000;
  if (!probes_start_ms_) {
    if (now - last_check_ms_ < check_every_ms_) return false;
    last_check_ms_ = now;
    bool all = true;
    for (Run& r : runs_) {
      if (!r.removal_started || r.converged_ms) continue;
      if (keyed(r, r.remaining, &r.generation_before))
        r.converged_ms = now;
      else
        all = false;
    }
    if (all || now - removal_start_ms_ >= bound_ms) send_probes();
    return false;
  }
  // The probes: every remaining member but the admin receives its group's.
  bool all = unanswered_ == 0;
  for (const Run& r : runs_) {
    if (!r.probe || !all) continue;
    const Record& rec = records_[*r.probe];
    if (rec.failed_ms) continue;
    for (std::size_t c : r.remaining)
      if (c != rec.plan.sender && !rec.received[*position(r, c)]) all = false;
  }
  if (all || now - *probes_start_ms_ >= bound_ms) {
    removal_messages_ = controls_sent() - controls_at_removal_;
    removal_done_ = true;
  }
  return removal_done_;
}

std::string SimGroups::removal_status() const {
  std::size_t started = 0, converged = 0;
  for (const Run& r : runs_) {
    started += r.removal_started;
    converged += r.converged_ms.has_value();
  }
  return "removals: " + std::to_string(converged) + " of " + std::to_string(started) +
         " re-keyed, " + std::to_string(controls_sent() - controls_at_removal_) +
         " control messages" + (probes_start_ms_ ? "; checking who reads the next message" : "");
}

// --- Report.

std::vector<std::string> SimGroups::notes() const {
  auto out = notes_;
  if (stray_)
    out.push_back(std::to_string(stray_) +
                  " group messages reached a client that was not a member, or came from the "
                  "wrong sender or group");
  return out;
}

GroupReport SimGroups::report() const {
  GroupReport out;
  out.groups = runs_.size();
  out.size = s_.groups.size;
  for (const Run& r : runs_)
    out.ready_groups += r.step == Run::Step::ready;
  out.setup_s = (setup_end_ms_ - setup_start_ms_) / 1000.0;
  out.setup_messages = setup_messages_;
  std::vector<double> stored, got, all;
  for (std::size_t i = 0; i < planned_; ++i) {
    const Record& r = records_[i];
    ++out.planned;
    if (!r.sent_ms) continue;
    ++out.sent;
    out.acked += r.acked_ms.has_value();
    out.send_failed += r.failed_ms.has_value();
    if (r.acked_ms) stored.push_back(*r.acked_ms - *r.sent_ms);
    out.deliveries_expected += r.received.size() - 1;
    out.delivered += r.receptions;
    double last = 0;
    for (const auto& t : r.received)
      if (t) {
        got.push_back(*t - *r.sent_ms);
        last = std::max(last, *t - *r.sent_ms);
      }
    if (r.receptions == r.received.size() - 1) {
      ++out.fully_delivered;
      all.push_back(last);
    }
  }
  out.duplicates = duplicates_;
  out.acked_deliveries_missing = owed_;
  out.stored = summarize(std::move(stored));
  out.received = summarize(std::move(got));
  out.received_by_all = summarize(std::move(all));

  std::vector<double> converge;
  for (const Run& r : runs_) {
    if (!r.removal_started) continue;
    ++out.removals;
    if (r.converged_ms) {
      ++out.removals_converged;
      converge.push_back(*r.converged_ms - *r.removal_start_ms);
    }
    if (r.probe) {
      const Record& rec = records_[*r.probe];
      for (std::size_t c : r.remaining) {
        if (c == rec.plan.sender) continue;
        ++out.after_removal_expected;
        out.after_removal_delivered += rec.received[*position(r, c)].has_value();
      }
    }
  }
  out.removal_converged_ms = summarize(std::move(converge));
  out.removal_messages = removal_messages_;
  out.removal_cpu_s = removal_cpu_s_;
  out.removed_opened = removed_opened_;
  if (out.removals) out.x25519_per_cpu_s = x25519_rate();
  return out;
}

}  // namespace nightjar::simnet
