// The simnet's run plan: the same seed gives the same messages, offline
// windows and fault schedule; sizes follow their distribution; and the
// report's percentiles, counts and JSON shape.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "simnet/metrics_scrape.hpp"
#include "simnet/report.hpp"
#include "simnet/scenario.hpp"
#include "simnet/workload.hpp"

using namespace nightjar::simnet;

namespace {

Scenario with_faults(std::uint64_t seed) {
  auto s = parse_scenario(R"({
    "nodes": 30, "clients": 20, "duration_s": 60,
    "random_offline": {"count": 4, "duration_s": 15},
    "faults": [
      {"type": "kill", "at_s": 20, "count": 2, "restart_after_s": 10},
      {"type": "partition", "at_s": 5, "duration_s": 10, "count": 6},
      {"type": "kill", "at_s": 30, "swarm_members": 2},
      {"type": "link", "at_s": 0, "latency_ms": 10, "loss": 0.01}
    ]})");
  REQUIRE(s.ok());
  s->seed = seed;
  return *s;
}

bool same(const std::vector<PlannedMessage>& a, const std::vector<PlannedMessage>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].at_s != b[i].at_s || a[i].sender != b[i].sender || a[i].recipient != b[i].recipient ||
        a[i].bytes != b[i].bytes)
      return false;
  return true;
}

bool same(const std::vector<FaultEvent>& a, const std::vector<FaultEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].at_s != b[i].at_s || a[i].kind != b[i].kind || a[i].nodes != b[i].nodes ||
        a[i].pick != b[i].pick || a[i].fault != b[i].fault)
      return false;
  return true;
}

}  // namespace

TEST_CASE("the same seed gives the same workload and fault schedule", "[simnet-plan][unit]") {
  const Scenario a = with_faults(7), b = with_faults(7), c = with_faults(8);
  const auto online_a = plan_online(a), online_b = plan_online(b);
  CHECK(online_a.offline == online_b.offline);
  const auto ma = plan_messages(a, online_a), mb = plan_messages(b, online_b);
  CHECK(!ma.empty());
  CHECK(same(ma, mb));
  CHECK(same(plan_faults(a), plan_faults(b)));
  // Another seed, another plan.
  CHECK_FALSE(same(ma, plan_messages(c, plan_online(c))));
  CHECK_FALSE(same(plan_faults(a), plan_faults(c)));
}

TEST_CASE("changing the faults leaves the messages alone", "[simnet-plan][unit]") {
  Scenario a = with_faults(3), b = with_faults(3);
  b.faults.pop_back();
  CHECK(same(plan_messages(a, plan_online(a)), plan_messages(b, plan_online(b))));
}

TEST_CASE("the fault schedule is in time order with its ends", "[simnet-plan][unit]") {
  const auto events = plan_faults(with_faults(1));
  REQUIRE(events.size() == 6);  // two kills (one restarted), a partition and its end, link faults
  for (std::size_t i = 1; i < events.size(); ++i)
    CHECK(events[i - 1].at_s <= events[i].at_s);
  CHECK(events[0].kind == FaultEvent::Kind::link_start);
  CHECK(events[0].all_nodes);
  CHECK(events[1].kind == FaultEvent::Kind::partition_start);
  CHECK(events[1].nodes.size() == 6);
  CHECK(events[2].kind == FaultEvent::Kind::partition_end);
  CHECK(events[2].nodes == events[1].nodes);
  CHECK(events[3].kind == FaultEvent::Kind::kill);
  CHECK(events[3].nodes.size() == 2);
  CHECK(std::set<std::size_t>(events[3].nodes.begin(), events[3].nodes.end()).size() == 2);
  CHECK(events[4].kind == FaultEvent::Kind::restart);
  CHECK(events[4].at_s == 30);
  CHECK(events[5].kind == FaultEvent::Kind::kill);  // at 30 too, after the restart
  CHECK(events[5].swarm_members == 2);
  CHECK(events[5].nodes.empty());
}

TEST_CASE("messages respect the duration, the offline windows and the bound",
          "[simnet-plan][unit]") {
  Scenario s = with_faults(11);
  const auto online = plan_online(s);
  std::size_t offline_clients = 0;
  for (const auto& w : online.offline)
    offline_clients += !w.empty();
  CHECK(offline_clients == 4);
  const auto msgs = plan_messages(s, online);
  // About 20 clients * 0.5/s * 60 s, less the offline time.
  CHECK(msgs.size() > 300);
  CHECK(msgs.size() < 900);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    CHECK(m.index == i);
    CHECK(m.at_s < s.duration_s);
    CHECK(m.sender != m.recipient);
    CHECK(m.recipient < s.clients);
    CHECK(online.online(m.sender, m.at_s));
    if (i > 0) CHECK(msgs[i - 1].at_s <= m.at_s);
  }
  s.max_messages = 10;
  CHECK(plan_messages(s, online).size() == 10);
}

TEST_CASE("groups take distinct members, and the removal never takes the admin",
          "[simnet-plan][unit]") {
  Scenario s = with_faults(11);
  s.groups.count = 30;
  s.groups.size = 5;
  const auto groups = plan_groups(s);
  REQUIRE(groups.size() == 30);
  std::set<std::size_t> removed_positions;
  for (const auto& g : groups) {
    REQUIRE(g.members.size() == 5);
    CHECK(std::set<std::size_t>(g.members.begin(), g.members.end()).size() == 5);
    for (auto c : g.members)
      CHECK(c < s.clients);
    CHECK(g.removed != g.members.front());
    auto at = std::find(g.members.begin(), g.members.end(), g.removed);
    REQUIRE(at != g.members.end());
    removed_positions.insert(static_cast<std::size_t>(at - g.members.begin()));
  }
  CHECK(removed_positions.size() > 1);  // not always the same member
  CHECK(plan_groups(s)[7].members == groups[7].members);
  s.groups.count = 0;
  CHECK(plan_groups(s).empty());
}

TEST_CASE("group messages come from members online at their time", "[simnet-plan][unit]") {
  Scenario s = with_faults(11);
  s.groups.count = 3;
  s.groups.size = 4;
  s.groups.rate = 1;
  s.groups.bytes = 300;
  const auto online = plan_online(s);
  const auto groups = plan_groups(s);
  const auto msgs = plan_group_messages(s, online, groups);
  // About 3 groups * 1/s * 60 s, less instants with every member offline.
  CHECK(msgs.size() > 100);
  CHECK(msgs.size() < 260);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    CHECK(m.index == i);
    REQUIRE(m.group < groups.size());
    const auto& members = groups[m.group].members;
    CHECK(std::find(members.begin(), members.end(), m.sender) != members.end());
    CHECK(online.online(m.sender, m.at_s));
    CHECK(m.bytes == 300);
    if (i > 0) CHECK(msgs[i - 1].at_s <= m.at_s);
  }
  // The 1:1 plan does not move when groups are added.
  Scenario without = s;
  without.groups.count = 0;
  CHECK(plan_messages(without, online).size() == plan_messages(s, online).size());
  s.max_messages = 10;
  CHECK(plan_group_messages(s, online, groups).size() == 10);
}

TEST_CASE("bursts send that many messages at one instant to one recipient", "[simnet-plan][unit]") {
  auto s = parse_scenario(R"({"clients": 6, "duration_s": 30,
                              "messages": {"rate_per_client": 0.2, "burst": 10}})");
  REQUIRE(s.ok());
  const auto msgs = plan_messages(*s, plan_online(*s));
  REQUIRE(!msgs.empty());
  REQUIRE(msgs.size() % 10 == 0);
  // Grouped by (time, sender): ten each, one recipient each.
  std::map<std::pair<double, std::size_t>, std::set<std::size_t>> recipients;
  std::map<std::pair<double, std::size_t>, int> counts;
  for (const auto& m : msgs) {
    recipients[{m.at_s, m.sender}].insert(m.recipient);
    ++counts[{m.at_s, m.sender}];
  }
  for (const auto& [key, n] : counts) CHECK(n == 10);
  for (const auto& [key, r] : recipients) CHECK(r.size() == 1);
  // A burst of one is the plain stream (the seed's draws are unchanged).
  auto plain = parse_scenario(R"({"clients": 6, "duration_s": 30, "messages": {"rate_per_client": 2}})");
  auto one = parse_scenario(
      R"({"clients": 6, "duration_s": 30, "messages": {"rate_per_client": 2, "burst": 1}})");
  REQUIRE(plain.ok());
  REQUIRE(one.ok());
  CHECK(same(plan_messages(*plain, plan_online(*plain)), plan_messages(*one, plan_online(*one))));
  CHECK_FALSE(parse_scenario(R"({"messages": {"burst": 0}})").ok());
  CHECK(parse_scenario(R"({"client_lookback_s": 0})").ok());
}

TEST_CASE("message sizes follow their distribution", "[simnet-plan][unit]") {
  SimRandom rng(5, 0);
  SizeDistribution d;
  d.kind = SizeDistribution::Kind::uniform;
  d.min = 10;
  d.max = 12;
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 300; ++i)
    seen.insert(sample_size(d, rng));
  CHECK(seen == std::set<std::uint32_t>{10, 11, 12});

  d.kind = SizeDistribution::Kind::choice;
  d.choices = {{100, 1}, {200, 0}};
  for (int i = 0; i < 50; ++i)
    CHECK(sample_size(d, rng) == 100);

  d.kind = SizeDistribution::Kind::lognormal;
  d.median = 100;
  d.sigma = 2;
  d.min = 50;
  d.max = 150;
  for (int i = 0; i < 200; ++i) {
    const auto v = sample_size(d, rng);
    CHECK(v >= 50);
    CHECK(v <= 150);
  }
}

TEST_CASE("swarm members for a fault come from one swarm large enough", "[simnet-plan][unit]") {
  const std::vector<std::vector<std::size_t>> swarms = {{0, 1}, {2, 3, 4, 5, 6}, {7, 8, 9}};
  for (std::uint64_t pick = 0; pick < 20; ++pick) {
    const auto m = pick_swarm_members(swarms, 3, pick);
    REQUIRE(m.size() == 3);
    const bool in_second = m.front() >= 2 && m.back() <= 6;
    const bool in_third = m.front() >= 7;
    CHECK((in_second || in_third));
    CHECK(m == pick_swarm_members(swarms, 3, pick));
  }
  // None large enough: the largest swarm, all of it.
  CHECK(pick_swarm_members(swarms, 6, 1) == std::vector<std::size_t>{2, 3, 4, 5, 6});
  CHECK(pick_swarm_members({}, 2, 1).empty());
}

TEST_CASE("each_swarm takes that many members of every swarm", "[simnet-plan][unit]") {
  const std::vector<std::vector<std::size_t>> swarms = {{0, 1}, {2, 3, 4, 5, 6}, {7, 8, 9}};
  for (std::uint64_t pick = 0; pick < 20; ++pick) {
    const auto m = each_swarm_members(swarms, 2, pick);
    REQUIRE(m.size() == 6);
    CHECK(std::is_sorted(m.begin(), m.end()));
    for (const auto& swarm : swarms) {
      const auto in_swarm = std::count_if(m.begin(), m.end(), [&](std::size_t n) {
        return std::find(swarm.begin(), swarm.end(), n) != swarm.end();
      });
      CHECK(in_swarm == 2);
    }
    CHECK(m == each_swarm_members(swarms, 2, pick));
  }
  // A swarm smaller than the count goes down whole.
  CHECK(each_swarm_members({{0, 1}}, 3, 1) == std::vector<std::size_t>{0, 1});
  CHECK(each_swarm_members({}, 2, 1).empty());
}

TEST_CASE("percentiles are nearest-rank", "[simnet-report][unit]") {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i)
    v.push_back(i);
  auto s = summarize(v);
  CHECK(s.count == 100);
  CHECK(s.p50 == 50);
  CHECK(s.p90 == 90);
  CHECK(s.p99 == 99);
  CHECK(s.max == 100);
  auto one = summarize({7.5});
  CHECK(one.p50 == 7.5);
  CHECK(one.p99 == 7.5);
  auto unsorted = summarize({5, 1, 4, 2, 3});
  CHECK(unsorted.p50 == 3);
  CHECK(unsorted.p90 == 5);
  CHECK(summarize({}).count == 0);
  CHECK(summarize({}).p50 == 0);
}

TEST_CASE("message counts separate lost, acknowledged-and-lost and duplicates",
          "[simnet-report][unit]") {
  std::vector<MessageRecord> r(6);
  r[0].sent_ms = 1;
  r[0].acked_ms = 5;
  r[0].receptions = 1;  // delivered
  r[1].sent_ms = 1;
  r[1].acked_ms = 5;  // acknowledged, never received
  r[2].sent_ms = 1;
  r[2].failed_ms = 9;  // failed, never received
  r[3].sent_ms = 1;
  r[3].failed_ms = 9;
  r[3].receptions = 2;  // failed, yet received twice
  r[4].sent_ms = 1;     // unanswered
  // r[5] never sent
  const auto c = count_messages(r);
  CHECK(c.planned == 6);
  CHECK(c.sent == 5);
  CHECK(c.acked == 2);
  CHECK(c.send_failed == 2);
  CHECK(c.unanswered == 1);
  CHECK(c.delivered == 2);
  CHECK(c.lost == 3);
  CHECK(c.acked_lost == 1);
  CHECK(c.unacked_delivered == 1);
  CHECK(c.duplicates == 1);
}

TEST_CASE("the report's JSON has every documented field", "[simnet-report][unit]") {
  Report r;
  r.mode = "inproc";
  r.nodes = 2;
  r.counts.sent = 10;
  r.counts.delivered = 10;
  r.stored = summarize({1, 2, 3});
  r.received = summarize({4, 5, 6});
  r.replication_complete = 1.0;
  NodeReport n;
  n.name = "node1";
  n.cells_relayed = 12;
  r.node_reports.push_back(n);
  r.paths.guard_use = {{"node1", 3}};
  const auto j = to_json(r);
  for (const char* key : {"sent", "delivered", "lost", "duplicates", "acked", "acked_lost",
                          "latency_ms", "replication_complete", "nodes", "paths", "notes",
                          "send_failed", "unanswered", "seed", "mode"})
    CHECK(j.contains(key));
  for (const char* which : {"stored", "received"})
    for (const char* p : {"p50", "p90", "p99", "max"})
      CHECK(j["latency_ms"][which].contains(p));
  CHECK(j["latency_ms"]["received"]["p50"] == 5);
  CHECK(j["nodes"][0]["cells_relayed"] == 12);
  for (const char* key : {"cells_relayed", "cells_dropped", "messages_stored", "name"})
    CHECK(j["nodes"][0].contains(key));
  for (const char* key :
       {"guard_use", "relay_entropy_bits", "first_hop_entropy_bits", "backup_guard_first_hops"})
    CHECK(j["paths"].contains(key));
  CHECK(j["paths"]["guard_use"]["node1"] == 3);
  CHECK(j["replication_complete"] == 1.0);
  r.replication_complete.reset();
  CHECK(to_json(r)["replication_complete"].is_null());
  CHECK(to_json(r)["groups"].is_null());
  GroupReport g;
  g.groups = 2;
  g.size = 10;
  g.removals = 2;
  g.removal_messages = 162;
  g.removal_cpu_s = 0.5;
  g.x25519_per_cpu_s = 30000;
  g.received = summarize({7, 8});
  r.groups = g;
  const auto with_groups = to_json(r)["groups"];
  for (const char* key : {"groups", "size", "ready", "setup_s", "sent", "acked", "delivered",
                          "deliveries_expected", "duplicates", "latency_ms", "removal"})
    CHECK(with_groups.contains(key));
  CHECK(with_groups["latency_ms"]["received"]["p50"] == 7);
  CHECK(with_groups["removal"]["messages_per_removal"] == 81);
  CHECK(with_groups["removal"]["x25519_per_removal"] == 7500);
  CHECK(with_groups["removal"]["removed_opened"] == 0);
}

TEST_CASE("node metrics are read from Prometheus text", "[simnet-report][unit]") {
  const auto m = parse_metrics(
      "# HELP nightjar_cells_relayed_total x\n"
      "# TYPE nightjar_cells_relayed_total counter\n"
      "nightjar_cells_relayed_total 42\n"
      "nightjar_cells_dropped_total{reason=\"bad_mac\"} 2\n"
      "nightjar_cells_dropped_total{reason=\"a b\\\"}\"} 3 1700000000\n"
      "nightjar_cells_dropped_totalx 100\n"
      "garbage line\n"
      "nightjar_store_messages NaN\r\n"
      "\n");
  CHECK(metric_sum(m, "nightjar_cells_relayed_total") == 42);
  CHECK(metric_sum(m, "nightjar_cells_dropped_total") == 5);
  CHECK(metric_sum(m, "nightjar_missing") == 0);
  CHECK(m.count("nightjar_store_messages") == 1);
  CHECK(m.count("garbage") == 0);
}

TEST_CASE("message texts carry their index and their planned size", "[simnet-plan][unit]") {
  const auto t = message_text(1234, 300);
  CHECK(t.size() == 300);
  CHECK(parse_message_index(t) == 1234u);
  CHECK(message_text(7, 5).size() == std::string("nightjar-simnet 7\n").size());
  CHECK(parse_message_index(message_text(7, 5)) == 7u);
  CHECK(message_text(1, 100) != message_text(2, 100));
  auto bytes = [](const std::string& s) { return std::vector<std::uint8_t>(s.begin(), s.end()); };
  CHECK_FALSE(parse_message_index(bytes("hello")).has_value());
  CHECK_FALSE(parse_message_index(bytes("nightjar-simnet \n")).has_value());
  CHECK_FALSE(parse_message_index(bytes("nightjar-simnet 12")).has_value());
  CHECK_FALSE(parse_message_index(bytes("nightjar-simnet 1x\n")).has_value());
  CHECK_FALSE(parse_message_index(bytes("nightjar-simnet 99999999999999999999\n")).has_value());
}
