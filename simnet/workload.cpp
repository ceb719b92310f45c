#include "simnet/workload.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace nightjar::simnet {

namespace {

// Streams of one seed.
constexpr std::uint64_t stream_messages = 1;
constexpr std::uint64_t stream_offline = 2;
constexpr std::uint64_t stream_faults = 3;
constexpr std::uint64_t stream_groups = 4;
constexpr std::uint64_t stream_group_messages = 5;

}  // namespace

SimRandom::SimRandom(std::uint64_t seed, std::uint64_t stream) {
  // SplitMix64 of (seed, stream): nearby seeds give unrelated engines.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  engine_.seed(z ^ (z >> 31));
}

double SimRandom::uniform() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

std::size_t SimRandom::below(std::size_t n) {
  // Rejection keeps it exactly uniform.
  const std::uint64_t bound = static_cast<std::uint64_t>(n);
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t x;
  do
    x = engine_();
  while (x >= limit);
  return static_cast<std::size_t>(x % bound);
}

double SimRandom::exponential(double rate) {
  return -std::log1p(-uniform()) / rate;
}

double SimRandom::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::vector<std::size_t> SimRandom::distinct(std::size_t n, std::size_t k) {
  std::vector<std::size_t> all(n);
  std::iota(all.begin(), all.end(), std::size_t{0});
  k = std::min(k, n);
  for (std::size_t i = 0; i < k; ++i)
    std::swap(all[i], all[i + below(n - i)]);
  all.resize(k);
  return all;
}

std::uint32_t sample_size(const SizeDistribution& d, SimRandom& rng) {
  switch (d.kind) {
    case SizeDistribution::Kind::fixed:
      return d.bytes;
    case SizeDistribution::Kind::uniform:
      return d.min + static_cast<std::uint32_t>(rng.below(d.max - d.min + 1));
    case SizeDistribution::Kind::lognormal: {
      const double v = d.median * std::exp(d.sigma * rng.normal());
      const double clamped = std::clamp(std::round(v), double(d.min), double(d.max));
      return static_cast<std::uint32_t>(clamped);
    }
    case SizeDistribution::Kind::choice: {
      double total = 0;
      for (const auto& c : d.choices)
        total += c.weight;
      if (total <= 0) return d.choices.front().bytes;
      double x = rng.uniform() * total;
      for (const auto& c : d.choices) {
        if (x < c.weight) return c.bytes;
        x -= c.weight;
      }
      return d.choices.back().bytes;
    }
  }
  return d.bytes;
}

bool OnlinePlan::online(std::size_t client, double at_s) const {
  if (client >= offline.size()) return true;
  for (const auto& [from, to] : offline[client])
    if (at_s >= from && at_s < to) return false;
  return true;
}

double OnlinePlan::next_online(std::size_t client, double at_s) const {
  if (client >= offline.size()) return at_s;
  for (const auto& [from, to] : offline[client])
    if (at_s >= from && at_s < to) at_s = to;  // windows are sorted and merged
  return at_s;
}

OnlinePlan plan_online(const Scenario& s) {
  OnlinePlan plan;
  plan.offline.resize(s.clients);
  for (const auto& w : s.offline)
    for (auto c : w.clients)
      if (c < s.clients && w.to_s > w.from_s) plan.offline[c].emplace_back(w.from_s, w.to_s);
  if (s.random_offline.count > 0 && s.random_offline.duration_s > 0) {
    SimRandom rng(s.seed, stream_offline);
    const double len = std::min(s.random_offline.duration_s, s.duration_s);
    for (auto c : rng.distinct(s.clients, s.random_offline.count)) {
      const double from = rng.uniform() * std::max(0.0, s.duration_s - len);
      plan.offline[c].emplace_back(from, from + len);
    }
  }
  for (auto& windows : plan.offline) {
    std::sort(windows.begin(), windows.end());
    std::vector<std::pair<double, double>> merged;
    for (const auto& w : windows) {
      if (!merged.empty() && w.first <= merged.back().second)
        merged.back().second = std::max(merged.back().second, w.second);
      else
        merged.push_back(w);
    }
    windows = std::move(merged);
  }
  return plan;
}

std::vector<PlannedMessage> plan_messages(const Scenario& s, const OnlinePlan& online) {
  std::vector<PlannedMessage> out;
  if (s.rate_per_client <= 0 || s.duration_s <= 0 || s.max_messages == 0) return out;
  SimRandom rng(s.seed, stream_messages);
  // A bound on the work whatever the rate: no client plans more than this.
  const std::size_t per_client_cap = s.max_messages;
  for (std::size_t c = 0; c < s.clients; ++c) {
    double t = 0;
    for (std::size_t n = 0; n < per_client_cap; n += s.burst) {
      t += rng.exponential(s.rate_per_client);
      t = online.next_online(c, t);
      if (t >= s.duration_s) break;
      PlannedMessage m;
      m.at_s = t;
      m.sender = c;
      m.recipient = s.clients == 1 ? 0 : (c + 1 + rng.below(s.clients - 1)) % s.clients;
      for (std::uint32_t b = 0; b < s.burst; ++b) {
        m.bytes = sample_size(s.sizes, rng);
        out.push_back(m);
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const PlannedMessage& a, const PlannedMessage& b) {
    return a.at_s < b.at_s;
  });
  if (out.size() > s.max_messages) out.resize(s.max_messages);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i].index = i;
  return out;
}

std::vector<PlannedGroup> plan_groups(const Scenario& s) {
  std::vector<PlannedGroup> out;
  if (s.groups.count == 0 || s.groups.size < 2 || s.groups.size > s.clients) return out;
  SimRandom rng(s.seed, stream_groups);
  for (std::size_t g = 0; g < s.groups.count; ++g) {
    PlannedGroup p;
    p.members = rng.distinct(s.clients, s.groups.size);
    p.removed = p.members[1 + rng.below(p.members.size() - 1)];
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<PlannedGroupMessage> plan_group_messages(const Scenario& s, const OnlinePlan& online,
                                                     const std::vector<PlannedGroup>& groups) {
  std::vector<PlannedGroupMessage> out;
  if (s.groups.rate <= 0 || s.duration_s <= 0 || s.max_messages == 0) return out;
  SimRandom rng(s.seed, stream_group_messages);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    double t = 0;
    std::vector<std::size_t> here;
    for (std::size_t n = 0; n < s.max_messages; ++n) {
      t += rng.exponential(s.groups.rate);
      if (t >= s.duration_s) break;
      here.clear();
      for (std::size_t c : groups[g].members)
        if (online.online(c, t)) here.push_back(c);
      if (here.empty()) continue;
      PlannedGroupMessage m;
      m.at_s = t;
      m.group = g;
      m.sender = here[rng.below(here.size())];
      m.bytes = s.groups.bytes;
      out.push_back(m);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const PlannedGroupMessage& a, const PlannedGroupMessage& b) {
                     return a.at_s < b.at_s;
                   });
  if (out.size() > s.max_messages) out.resize(s.max_messages);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i].index = i;
  return out;
}

namespace {
constexpr char text_prefix[] = "nightjar-simnet ";
}

std::vector<std::uint8_t> message_text(std::uint64_t index, std::uint32_t bytes) {
  const std::string head = text_prefix + std::to_string(index) + "\n";
  std::vector<std::uint8_t> text(head.begin(), head.end());
  // Filler that differs by message, so no two texts are equal.
  std::uint64_t x = index * 0x9E3779B97F4A7C15ull + 1;
  while (text.size() < bytes) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    text.push_back(static_cast<std::uint8_t>('a' + x % 26));
  }
  return text;
}

std::optional<std::uint64_t> parse_message_index(Bytes text) {
  const std::size_t n = sizeof text_prefix - 1;
  if (text.size() < n + 2 || std::memcmp(text.data(), text_prefix, n) != 0) return std::nullopt;
  std::uint64_t v = 0;
  std::size_t i = n, digits = 0;
  for (; i < text.size() && text[i] != '\n'; ++i, ++digits) {
    if (text[i] < '0' || text[i] > '9' || digits >= 19) return std::nullopt;
    v = v * 10 + (text[i] - '0');
  }
  if (i == text.size() || digits == 0) return std::nullopt;
  return v;
}

const char* to_string(FaultEvent::Kind k) {
  switch (k) {
    case FaultEvent::Kind::kill:
      return "kill";
    case FaultEvent::Kind::restart:
      return "restart";
    case FaultEvent::Kind::partition_start:
      return "partition";
    case FaultEvent::Kind::partition_end:
      return "heal";
    case FaultEvent::Kind::link_start:
      return "link faults on";
    case FaultEvent::Kind::link_end:
      return "link faults off";
  }
  return "?";
}

std::vector<FaultEvent> plan_faults(const Scenario& s) {
  SimRandom rng(s.seed, stream_faults);
  std::vector<FaultEvent> events;
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    const FaultSpec& f = s.faults[i];
    FaultEvent start;
    start.at_s = f.at_s;
    start.fault = i;
    start.nodes = f.target.nodes;
    if (f.target.count > 0) {
      start.nodes = rng.distinct(s.nodes, f.target.count);
      std::sort(start.nodes.begin(), start.nodes.end());
    }
    start.swarm_members = f.target.swarm_members;
    start.each_swarm = f.target.each_swarm;
    start.pick = rng.next();  // drawn for every fault, so one fault's kind does not shift another's
    start.all_nodes =
        f.kind == FaultSpec::Kind::link && start.nodes.empty() && !start.swarm_members;
    FaultEvent end = start;
    std::optional<double> end_after;
    switch (f.kind) {
      case FaultSpec::Kind::kill:
        start.kind = FaultEvent::Kind::kill;
        end.kind = FaultEvent::Kind::restart;
        end_after = f.restart_after_s;
        break;
      case FaultSpec::Kind::partition:
        start.kind = FaultEvent::Kind::partition_start;
        end.kind = FaultEvent::Kind::partition_end;
        end_after = f.duration_s;
        break;
      case FaultSpec::Kind::link:
        start.kind = FaultEvent::Kind::link_start;
        end.kind = FaultEvent::Kind::link_end;
        end_after = f.duration_s;
        break;
    }
    events.push_back(start);
    if (end_after) {
      end.at_s = f.at_s + *end_after;
      events.push_back(end);
    }
  }
  auto is_end = [](FaultEvent::Kind k) {
    return k == FaultEvent::Kind::restart || k == FaultEvent::Kind::partition_end ||
           k == FaultEvent::Kind::link_end;
  };
  std::stable_sort(events.begin(), events.end(), [&](const FaultEvent& a, const FaultEvent& b) {
    if (a.at_s != b.at_s) return a.at_s < b.at_s;
    return is_end(a.kind) && !is_end(b.kind);
  });
  return events;
}

std::vector<std::size_t> pick_swarm_members(const std::vector<std::vector<std::size_t>>& swarms,
                                            std::size_t count, std::uint64_t pick) {
  if (swarms.empty() || count == 0) return {};
  std::vector<const std::vector<std::size_t>*> big;
  for (const auto& s : swarms)
    if (s.size() >= count) big.push_back(&s);
  const std::vector<std::size_t>* chosen = nullptr;
  if (big.empty()) {
    chosen = &*std::max_element(swarms.begin(), swarms.end(),
                                [](const auto& a, const auto& b) { return a.size() < b.size(); });
  } else {
    chosen = big[pick % big.size()];
  }
  std::vector<std::size_t> members = *chosen;
  std::sort(members.begin(), members.end());
  SimRandom rng(pick, 0);
  std::vector<std::size_t> out;
  for (auto i : rng.distinct(members.size(), count))
    out.push_back(members[i]);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::size_t> each_swarm_members(const std::vector<std::vector<std::size_t>>& swarms,
                                            std::size_t count, std::uint64_t pick) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < swarms.size(); ++i) {
    std::vector<std::size_t> members = swarms[i];
    std::sort(members.begin(), members.end());
    SimRandom rng(pick, i + 1);
    for (auto k : rng.distinct(members.size(), std::min(count, members.size())))
      out.push_back(members[k]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace nightjar::simnet
