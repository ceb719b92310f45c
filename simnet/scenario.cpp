#include "simnet/scenario.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace nightjar::simnet {

using json = nlohmann::json;

const char* to_string(Mode m) {
  return m == Mode::process ? "process" : "inproc";
}

namespace {

constexpr std::size_t max_file_bytes = 1u << 20;
constexpr std::size_t max_nodes = 5000;
constexpr std::size_t max_clients = 2000;
constexpr std::uint32_t max_message_bytes = 65536;  // the client's largest message
constexpr std::size_t max_groups = 100;
constexpr std::size_t max_group_size = 1000;  // client/group.hpp: groups of up to 1,000

// Reads one JSON object's fields, refusing unknown ones. The first error
// wins; later reads do nothing once one is recorded.
class Fields {
 public:
  Fields(const json& object, std::string path, std::string& error)
      : object_(object), path_(std::move(path)), error_(error) {
    if (error_.empty() && !object_.is_object()) error_ = path_ + ": expected an object";
  }

  bool ok() const { return error_.empty(); }
  const json* find(const char* key) {
    seen_.insert(key);
    if (!ok() || !object_.is_object()) return nullptr;
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string at(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  void number(const char* key, double& out, double min, double max) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_number()) return fail(at(key), "expected a number");
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < min || d > max)
      return fail(at(key), "must be between " + text(min) + " and " + text(max));
    out = d;
  }
  template <class T>
  void whole(const char* key, T& out, std::uint64_t min, std::uint64_t max) {
    const json* v = find(key);
    if (!v) return;
    read_whole(*v, at(key), out, min, max);
  }
  template <class T>
  void read_whole(const json& v, const std::string& where, T& out, std::uint64_t min,
                  std::uint64_t max) {
    if (!ok()) return;
    if (!v.is_number_unsigned()) return fail(where, "expected a whole number >= 0");
    const auto u = v.get<std::uint64_t>();
    if (u < min || u > max)
      return fail(where, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    out = static_cast<T>(u);
  }
  void indices(const char* key, std::vector<std::size_t>& out, std::size_t max) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_array()) return fail(at(key), "expected a list of indices");
    out.clear();
    for (std::size_t i = 0; i < v->size() && ok(); ++i) {
      std::size_t x = 0;
      read_whole((*v)[i], at(key) + "[" + std::to_string(i) + "]", x, 0, max);
      out.push_back(x);
    }
  }
  // Call last: reports a field that nothing read.
  void finish() {
    if (!ok() || !object_.is_object()) return;
    for (auto it = object_.begin(); it != object_.end(); ++it)
      if (!seen_.count(it.key())) return fail(at(it.key().c_str()), "unknown field");
  }
  void fail(const std::string& where, const std::string& why) {
    if (error_.empty()) error_ = where + ": " + why;
  }

 private:
  static std::string text(double d) {
    std::ostringstream s;
    s << d;
    return s.str();
  }
  const json& object_;
  std::string path_;
  std::string& error_;
  std::set<std::string> seen_;
};

void read_sizes(const json& v, const std::string& path, SizeDistribution& d, std::string& error) {
  Fields f(v, path, error);
  std::string kind = "fixed";
  if (const json* k = f.find("distribution")) {
    if (!k->is_string())
      f.fail(f.at("distribution"), "expected a string");
    else
      kind = k->get<std::string>();
  }
  if (!f.ok()) return;
  if (kind == "fixed")
    d.kind = SizeDistribution::Kind::fixed;
  else if (kind == "uniform")
    d.kind = SizeDistribution::Kind::uniform;
  else if (kind == "lognormal")
    d.kind = SizeDistribution::Kind::lognormal;
  else if (kind == "choice")
    d.kind = SizeDistribution::Kind::choice;
  else
    return f.fail(f.at("distribution"), "expected fixed, uniform, lognormal or choice");
  f.whole("bytes", d.bytes, 1, max_message_bytes);
  f.whole("min", d.min, 1, max_message_bytes);
  f.whole("max", d.max, 1, max_message_bytes);
  f.number("median", d.median, 1, max_message_bytes);
  f.number("sigma", d.sigma, 0, 10);
  if (const json* c = f.find("choices")) {
    if (!c->is_array() || c->empty()) f.fail(f.at("choices"), "expected a non-empty list");
    for (std::size_t i = 0; f.ok() && i < c->size(); ++i) {
      Fields cf((*c)[i], f.at("choices") + "[" + std::to_string(i) + "]", error);
      SizeDistribution::Choice choice;
      cf.whole("bytes", choice.bytes, 1, max_message_bytes);
      cf.number("weight", choice.weight, 0, 1e9);
      if (!cf.find("bytes")) cf.fail(cf.at("bytes"), "required");
      cf.finish();
      d.choices.push_back(choice);
    }
  }
  f.finish();
  if (!f.ok()) return;
  if (d.kind == SizeDistribution::Kind::choice && d.choices.empty())
    return f.fail(f.at("choices"), "required for the choice distribution");
  if ((d.kind == SizeDistribution::Kind::uniform || d.kind == SizeDistribution::Kind::lognormal) &&
      d.min > d.max)
    return f.fail(f.at("min"), "must not be above max");
}

void read_selector(Fields& f, NodeSelector& s) {
  f.indices("nodes", s.nodes, max_nodes - 1);
  f.whole("count", s.count, 0, max_nodes);
  f.whole("swarm_members", s.swarm_members, 0, 64);
  const int given = !s.nodes.empty() + (s.count > 0) + (s.swarm_members > 0);
  if (given > 1) f.fail(f.at("nodes"), "give only one of nodes, count and swarm_members");
  if (f.find("each_swarm")) {
    const json* v = f.find("each_swarm");
    if (!v->is_boolean()) return f.fail(f.at("each_swarm"), "expected true or false");
    s.each_swarm = v->get<bool>();
    if (s.each_swarm && s.swarm_members == 0) f.fail(f.at("each_swarm"), "needs swarm_members");
  }
}

void read_fault(const json& v, const std::string& path, FaultSpec& fault, std::string& error) {
  Fields f(v, path, error);
  const json* type = f.find("type");
  if (!f.ok()) return;
  if (!type || !type->is_string()) return f.fail(f.at("type"), "required: kill, partition or link");
  const std::string t = type->get<std::string>();
  if (t == "kill")
    fault.kind = FaultSpec::Kind::kill;
  else if (t == "partition")
    fault.kind = FaultSpec::Kind::partition;
  else if (t == "link")
    fault.kind = FaultSpec::Kind::link;
  else
    return f.fail(f.at("type"), "expected kill, partition or link");
  f.number("at_s", fault.at_s, 0, 1e6);
  read_selector(f, fault.target);
  if (fault.kind == FaultSpec::Kind::kill) {
    double restart = 0;
    if (f.find("restart_after_s")) {
      f.number("restart_after_s", restart, 0, 1e6);
      fault.restart_after_s = restart;
    }
    if (f.ok() && fault.target.nodes.empty() && !fault.target.count && !fault.target.swarm_members)
      f.fail(f.at("nodes"), "a kill needs nodes, count or swarm_members");
  } else {
    double duration = 0;
    if (f.find("duration_s")) {
      f.number("duration_s", duration, 0, 1e6);
      fault.duration_s = duration;
    }
    if (fault.kind == FaultSpec::Kind::partition && f.ok() && fault.target.nodes.empty() &&
        !fault.target.count && !fault.target.swarm_members)
      f.fail(f.at("nodes"), "a partition needs nodes, count or swarm_members (the cut-off side)");
    if (fault.kind == FaultSpec::Kind::link) {
      f.number("latency_ms", fault.latency_ms, 0, 60'000);
      f.number("jitter_ms", fault.jitter_ms, 0, 60'000);
      f.number("loss", fault.loss, 0, 1);
    }
  }
  f.finish();
}

}  // namespace

std::string Scenario::check() const {
  if (authorities < 1 || authorities > 16) return "authorities: must be between 1 and 16";
  if (nodes < 1 || nodes > max_nodes)
    return "nodes: must be between 1 and " + std::to_string(max_nodes);
  if (clients < 1 || clients > max_clients)
    return "clients: must be between 1 and " + std::to_string(max_clients);
  if (!(swarm_min >= 1 && swarm_min <= swarm_ideal && swarm_ideal <= swarm_max && swarm_max <= 64))
    return "swarm: need 1 <= min <= ideal <= max <= 64";
  if (quorum > swarm_max) return "swarm.quorum: must not be above swarm.max";
  if (epoch_seconds < 1) return "epoch_seconds: must be at least 1";
  for (std::size_t i = 0; i < offline.size(); ++i) {
    const auto where = "offline[" + std::to_string(i) + "]";
    for (auto c : offline[i].clients)
      if (c >= clients) return where + ".clients: client " + std::to_string(c) + " does not exist";
    if (offline[i].to_s < offline[i].from_s) return where + ".to_s: must not be before from_s";
  }
  if (random_offline.count > clients) return "random_offline.count: more than the clients";
  if (defences.mix_delay_max_ms > 0 && defences.mix_delay_max_ms < defences.mix_delay_ms)
    return "defences.mix_delay_max_ms: must be at least mix_delay_ms";
  if (defences.mix_delay_max_ms > 0 && defences.mix_delay_ms == 0)
    return "defences.mix_delay_max_ms: set without mix_delay_ms";
  if (defences.mix_delay_ms > 0 && defences.mix_delay_max_ms == 0 &&
      defences.mix_delay_ms * 5 > 10'000)
    return "defences.mix_delay_ms: 5 x the mean (the default bound) is over 10000 ms; set "
           "mix_delay_max_ms";
  if (defences.poll_padding_ms != 0 && defences.poll_padding_ms < 50)
    return "defences.poll_padding_ms: must be 0 (off) or at least 50";
  if (adversary.sybil_nodes > 0 && !adversary.enabled)
    return "adversary.sybil_nodes: needs adversary.enabled";
  if (nodes + adversary.sybil_nodes > max_nodes)
    return "adversary.sybil_nodes: nodes and Sybil nodes together over " + std::to_string(max_nodes);
  if (groups.count > max_groups)
    return "groups.count: must be at most " + std::to_string(max_groups);
  if (groups.count > 0) {
    if (groups.size < 2 || groups.size > max_group_size)
      return "groups.size: must be between 2 and " + std::to_string(max_group_size);
    if (groups.size > clients)
      return "groups.size: more than the clients (" + std::to_string(clients) + ")";
  }
  for (std::size_t i = 0; i < faults.size(); ++i) {
    const auto where = "faults[" + std::to_string(i) + "]";
    const auto& t = faults[i].target;
    for (auto n : t.nodes)
      if (n >= nodes) return where + ".nodes: node " + std::to_string(n) + " does not exist";
    if (t.count > nodes) return where + ".count: more than the nodes";
    if (t.swarm_members > swarm_max) return where + ".swarm_members: more than swarm.max";
  }
  return {};
}

Result<Scenario, std::string> parse_scenario(std::string_view json_text, std::string_view source) {
  const std::string prefix = std::string(source) + ": ";
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return fail(prefix + "not valid JSON: " + e.what());
  }
  Scenario s;
  std::string error;
  Fields f(doc, "", error);
  if (const json* m = f.find("mode")) {
    if (m->is_string() && *m == "inproc")
      s.mode = Mode::inproc;
    else if (m->is_string() && *m == "process")
      s.mode = Mode::process;
    else
      f.fail("mode", "expected \"inproc\" or \"process\"");
  }
  f.whole("seed", s.seed, 0, UINT64_MAX);
  f.whole("authorities", s.authorities, 1, 16);
  f.whole("nodes", s.nodes, 1, max_nodes);
  f.whole("clients", s.clients, 1, max_clients);
  if (const json* sw = f.find("swarm")) {
    Fields g(*sw, "swarm", error);
    g.whole("min", s.swarm_min, 1, 64);
    g.whole("ideal", s.swarm_ideal, 1, 64);
    g.whole("max", s.swarm_max, 1, 64);
    g.whole("quorum", s.quorum, 0, 64);
    g.finish();
  }
  f.whole("epoch_seconds", s.epoch_seconds, 1, 86400);
  f.number("duration_s", s.duration_s, 0, 86400);
  f.number("drain_s", s.drain_s, 0, 3600);
  f.number("settle_s", s.settle_s, 0, 3600);
  f.number("ready_timeout_s", s.ready_timeout_s, 1, 3600);
  f.number("client_lookback_s", s.client_lookback_s, 0, 3600);
  if (const json* m = f.find("messages")) {
    Fields g(*m, "messages", error);
    g.number("rate_per_client", s.rate_per_client, 0, 1000);
    g.whole("burst", s.burst, 1, 1000);
    g.whole("max", s.max_messages, 0, 10'000'000);
    if (const json* size = g.find("size")) read_sizes(*size, "messages.size", s.sizes, error);
    g.finish();
  }
  if (const json* o = f.find("offline")) {
    if (!o->is_array()) f.fail("offline", "expected a list");
    for (std::size_t i = 0; f.ok() && i < o->size(); ++i) {
      Fields g((*o)[i], "offline[" + std::to_string(i) + "]", error);
      OfflineWindow w;
      g.indices("clients", w.clients, max_clients - 1);
      g.number("from_s", w.from_s, 0, 1e6);
      g.number("to_s", w.to_s, 0, 1e6);
      if (g.ok() && w.clients.empty()) g.fail(g.at("clients"), "required, not empty");
      if (g.ok() && !g.find("to_s")) g.fail(g.at("to_s"), "required");
      g.finish();
      s.offline.push_back(w);
    }
  }
  if (const json* r = f.find("random_offline")) {
    Fields g(*r, "random_offline", error);
    g.whole("count", s.random_offline.count, 0, max_clients);
    g.number("duration_s", s.random_offline.duration_s, 0, 1e6);
    g.finish();
  }
  if (const json* g = f.find("groups")) {
    Fields gf(*g, "groups", error);
    gf.whole("count", s.groups.count, 0, max_groups);
    gf.whole("size", s.groups.size, 2, max_group_size);
    gf.number("rate", s.groups.rate, 0, 1000);
    gf.whole("bytes", s.groups.bytes, 1, max_message_bytes);
    if (const json* r = gf.find("removal")) {
      if (!r->is_boolean())
        gf.fail(gf.at("removal"), "expected true or false");
      else
        s.groups.removal = r->get<bool>();
    }
    gf.number("setup_timeout_s", s.groups.setup_timeout_s, 1, 3600);
    gf.number("removal_timeout_s", s.groups.removal_timeout_s, 1, 3600);
    gf.finish();
  }
  if (const json* d = f.find("defences")) {
    Fields df(*d, "defences", error);
    df.number("mix_delay_ms", s.defences.mix_delay_ms, 0, 10'000);
    df.number("mix_delay_max_ms", s.defences.mix_delay_max_ms, 0, 10'000);
    df.number("loop_rate", s.defences.loop_rate, 0, 100);
    df.number("drop_rate", s.defences.drop_rate, 0, 100);
    df.number("poll_padding_ms", s.defences.poll_padding_ms, 0, 60'000);
    df.finish();
  }
  if (const json* a = f.find("adversary")) {
    Fields af(*a, "adversary", error);
    if (const json* e = af.find("enabled")) {
      if (!e->is_boolean())
        af.fail(af.at("enabled"), "expected true or false");
      else
        s.adversary.enabled = e->get<bool>();
    }
    if (const json* list = af.find("fractions")) {
      if (!list->is_array() || list->empty() || list->size() > 20) {
        af.fail(af.at("fractions"), "expected a list of 1 to 20 numbers");
      } else {
        s.adversary.fractions.clear();
        for (std::size_t i = 0; i < list->size(); ++i) {
          const json& v = (*list)[i];
          if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
            af.fail(af.at("fractions") + "[" + std::to_string(i) + "]",
                    "must be between 0 and 1");
            break;
          }
          s.adversary.fractions.push_back(v.get<double>());
        }
      }
    }
    af.whole("trials", s.adversary.trials, 1, 1000);
    af.number("window_ms", s.adversary.window_ms, 1, 60'000);
    af.number("reply_guard_ms", s.adversary.reply_guard_ms, 0, 60'000);
    af.number("carry_ms", s.adversary.carry_ms, 0, 60'000);
    af.whole("sybil_nodes", s.adversary.sybil_nodes, 0, max_nodes);
    af.number("sybil_join_s", s.adversary.sybil_join_s, 0, 86400);
    af.finish();
  }
  if (const json* list = f.find("faults")) {
    if (!list->is_array()) f.fail("faults", "expected a list");
    for (std::size_t i = 0; f.ok() && i < list->size(); ++i) {
      FaultSpec fault;
      read_fault((*list)[i], "faults[" + std::to_string(i) + "]", fault, error);
      s.faults.push_back(fault);
    }
  }
  f.finish();
  if (!error.empty()) return fail(prefix + error);
  if (auto problem = s.check(); !problem.empty()) return fail(prefix + problem);
  return s;
}

Result<Scenario, std::string> load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read scenario file " + path);
  std::string text(max_file_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_file_bytes)
    return fail(path + ": larger than " + std::to_string(max_file_bytes) + " bytes");
  return parse_scenario(text, path);
}

}  // namespace nightjar::simnet
