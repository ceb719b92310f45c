// The simnet's scenario files: defaults, every field read, and a clear error
// for each class of bad file.
#include <catch2/catch.hpp>

#include "simnet/scenario.hpp"

using namespace nightjar::simnet;

namespace {

std::string error_of(const std::string& text) {
  auto r = parse_scenario(text, "s.json");
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("an empty scenario object gives the defaults", "[simnet-scenario][unit]") {
  auto s = parse_scenario("{}");
  REQUIRE(s.ok());
  CHECK(s->mode == Mode::inproc);
  CHECK(s->nodes == 15);
  CHECK(s->clients == 10);
  CHECK(s->authorities == 1);
  CHECK(s->seed == 1);
  CHECK(s->duration_s == 60);
  CHECK(s->sizes.kind == SizeDistribution::Kind::fixed);
  CHECK(s->faults.empty());
  CHECK(s->check().empty());
}

TEST_CASE("a full scenario file is read field by field", "[simnet-scenario][unit]") {
  auto s = parse_scenario(R"({
    "mode": "process", "seed": 42, "authorities": 2, "nodes": 30, "clients": 20,
    "swarm": {"min": 3, "ideal": 4, "max": 6, "quorum": 2},
    "epoch_seconds": 3, "duration_s": 90.5, "drain_s": 15, "ready_timeout_s": 40,
    "messages": {"rate_per_client": 2, "max": 5000,
                 "size": {"distribution": "choice",
                          "choices": [{"bytes": 100, "weight": 3}, {"bytes": 2000}]}},
    "offline": [{"clients": [1, 2], "from_s": 10, "to_s": 30}],
    "random_offline": {"count": 3, "duration_s": 12},
    "faults": [
      {"type": "kill", "at_s": 20, "nodes": [4], "restart_after_s": 5},
      {"type": "kill", "at_s": 25, "swarm_members": 2},
      {"type": "partition", "at_s": 30, "duration_s": 10, "count": 5},
      {"type": "link", "at_s": 0, "latency_ms": 20, "jitter_ms": 5, "loss": 0.01}
    ]
  })");
  REQUIRE(s.ok());
  CHECK(s->mode == Mode::process);
  CHECK(s->seed == 42);
  CHECK(s->authorities == 2);
  CHECK(s->swarm_min == 3);
  CHECK(s->swarm_ideal == 4);
  CHECK(s->swarm_max == 6);
  CHECK(s->quorum == 2);
  CHECK(s->epoch_seconds == 3);
  CHECK(s->duration_s == 90.5);
  CHECK(s->drain_s == 15);
  CHECK(s->ready_timeout_s == 40);
  CHECK(s->rate_per_client == 2);
  CHECK(s->max_messages == 5000);
  REQUIRE(s->sizes.choices.size() == 2);
  CHECK(s->sizes.choices[0].bytes == 100);
  CHECK(s->sizes.choices[0].weight == 3);
  CHECK(s->sizes.choices[1].weight == 1);
  REQUIRE(s->offline.size() == 1);
  CHECK(s->offline[0].clients == std::vector<std::size_t>{1, 2});
  CHECK(s->offline[0].to_s == 30);
  CHECK(s->random_offline.count == 3);
  REQUIRE(s->faults.size() == 4);
  CHECK(s->faults[0].kind == FaultSpec::Kind::kill);
  CHECK(s->faults[0].target.nodes == std::vector<std::size_t>{4});
  CHECK(s->faults[0].restart_after_s == 5.0);
  CHECK(s->faults[1].target.swarm_members == 2);
  CHECK_FALSE(s->faults[1].restart_after_s.has_value());
  CHECK(s->faults[2].kind == FaultSpec::Kind::partition);
  CHECK(s->faults[2].duration_s == 10.0);
  CHECK(s->faults[2].target.count == 5);
  CHECK(s->faults[3].kind == FaultSpec::Kind::link);
  CHECK(s->faults[3].latency_ms == 20);
  CHECK(s->faults[3].loss == 0.01);
  CHECK_FALSE(s->faults[3].duration_s.has_value());
}

TEST_CASE("size distributions are read with their parameters", "[simnet-scenario][unit]") {
  auto u = parse_scenario(
      R"({"messages": {"size": {"distribution": "uniform", "min": 10, "max": 20}}})");
  REQUIRE(u.ok());
  CHECK(u->sizes.kind == SizeDistribution::Kind::uniform);
  CHECK(u->sizes.min == 10);
  auto l = parse_scenario(
      R"({"messages": {"size": {"distribution": "lognormal", "median": 150, "sigma": 0.5}}})");
  REQUIRE(l.ok());
  CHECK(l->sizes.kind == SizeDistribution::Kind::lognormal);
  CHECK(l->sizes.median == 150);
}

TEST_CASE("a file that is not JSON is refused with the parser's reason",
          "[simnet-scenario][unit]") {
  CHECK_THAT(error_of("{\"nodes\": 3,"), Catch::StartsWith("s.json: not valid JSON"));
  CHECK_THAT(error_of("[1, 2]"), Catch::Contains("expected an object"));
}

TEST_CASE("unknown fields are refused, at any depth", "[simnet-scenario][unit]") {
  CHECK(error_of(R"({"node": 3})") == "s.json: node: unknown field");
  CHECK(error_of(R"({"swarm": {"mim": 3}})") == "s.json: swarm.mim: unknown field");
  CHECK(error_of(R"({"faults": [{"type": "kill", "nodes": [1], "duration_s": 3}]})") ==
        "s.json: faults[0].duration_s: unknown field");
  CHECK(error_of(R"({"faults": [{"type": "partition", "nodes": [1], "loss": 0.1}]})") ==
        "s.json: faults[0].loss: unknown field");
}

TEST_CASE("fields of the wrong type or out of range name the field", "[simnet-scenario][unit]") {
  CHECK(error_of(R"({"nodes": "many"})") == "s.json: nodes: expected a whole number >= 0");
  CHECK(error_of(R"({"nodes": -1})") == "s.json: nodes: expected a whole number >= 0");
  CHECK(error_of(R"({"nodes": 2.5})") == "s.json: nodes: expected a whole number >= 0");
  CHECK(error_of(R"({"nodes": 0})") == "s.json: nodes: must be between 1 and 5000");
  CHECK(error_of(R"({"duration_s": "long"})") == "s.json: duration_s: expected a number");
  CHECK(error_of(R"({"mode": "threads"})") == "s.json: mode: expected \"inproc\" or \"process\"");
  CHECK(error_of(R"({"faults": [{"type": "link", "loss": 1.5}]})") ==
        "s.json: faults[0].loss: must be between 0 and 1");
  CHECK(error_of(R"({"messages": {"size": {"distribution": "zipf"}}})") ==
        "s.json: messages.size.distribution: expected fixed, uniform, lognormal or choice");
}

TEST_CASE("faults need a type and a target", "[simnet-scenario][unit]") {
  CHECK(error_of(R"({"faults": [{"at_s": 3}]})") ==
        "s.json: faults[0].type: required: kill, partition or link");
  CHECK(error_of(R"({"faults": [{"type": "kill", "at_s": 3}]})") ==
        "s.json: faults[0].nodes: a kill needs nodes, count or swarm_members");
  CHECK(error_of(R"({"faults": [{"type": "kill", "nodes": [1], "count": 2}]})") ==
        "s.json: faults[0].nodes: give only one of nodes, count and swarm_members");
  CHECK(error_of(R"({"faults": [{"type": "kill", "count": 2, "each_swarm": true}]})") ==
        "s.json: faults[0].each_swarm: needs swarm_members");
  CHECK(error_of(R"({"faults": [{"type": "kill", "swarm_members": 2, "each_swarm": 1}]})") ==
        "s.json: faults[0].each_swarm: expected true or false");
  auto s =
      parse_scenario(R"({"faults": [{"type": "kill", "swarm_members": 2, "each_swarm": true}]})");
  REQUIRE(s.ok());
  CHECK(s->faults[0].target.each_swarm);
  CHECK(error_of(R"({"faults": [{"type": "explode", "nodes": [1]}]})") ==
        "s.json: faults[0].type: expected kill, partition or link");
}

TEST_CASE("a scenario that does not hold together is refused", "[simnet-scenario][unit]") {
  CHECK(error_of(R"({"nodes": 4, "faults": [{"type": "kill", "nodes": [4]}]})") ==
        "s.json: faults[0].nodes: node 4 does not exist");
  CHECK(error_of(R"({"swarm": {"min": 8, "ideal": 7}})") ==
        "s.json: swarm: need 1 <= min <= ideal <= max <= 64");
  CHECK(error_of(R"({"clients": 2, "offline": [{"clients": [2], "to_s": 5}]})") ==
        "s.json: offline[0].clients: client 2 does not exist");
  CHECK(error_of(R"({"offline": [{"clients": [0], "from_s": 5, "to_s": 1}]})") ==
        "s.json: offline[0].to_s: must not be before from_s");
  CHECK(error_of(R"({"messages": {"size": {"distribution": "choice"}}})") ==
        "s.json: messages.size.choices: required for the choice distribution");
}

TEST_CASE("the group workload is read and checked", "[simnet-scenario][unit]") {
  auto s = parse_scenario(R"({"clients": 20, "groups": {"count": 3, "size": 8, "rate": 0.5,
    "bytes": 120, "removal": false, "setup_timeout_s": 30, "removal_timeout_s": 40}})");
  REQUIRE(s.ok());
  CHECK(s->groups.count == 3);
  CHECK(s->groups.size == 8);
  CHECK(s->groups.rate == 0.5);
  CHECK(s->groups.bytes == 120);
  CHECK_FALSE(s->groups.removal);
  CHECK(s->groups.setup_timeout_s == 30);
  CHECK(s->groups.removal_timeout_s == 40);
  CHECK(parse_scenario("{}")->groups.count == 0);
  CHECK(error_of(R"({"clients": 5, "groups": {"count": 1, "size": 8}})") ==
        "s.json: groups.size: more than the clients (5)");
  CHECK(error_of(R"({"groups": {"size": 1}})") == "s.json: groups.size: must be between 2 and 1000");
  CHECK(error_of(R"({"groups": {"removal": 1}})") == "s.json: groups.removal: expected true or false");
  CHECK(error_of(R"({"groups": {"members": 4}})") == "s.json: groups.members: unknown field");
}

TEST_CASE("a scenario file that cannot be read says so", "[simnet-scenario][unit]") {
  auto r = load_scenario("/nonexistent/scenario.json");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("cannot read scenario file"));
}

TEST_CASE("defences and the adversary record are read, and refused when they contradict",
          "[simnet-scenario][unit]") {
  auto s = parse_scenario(R"({"defences": {"mix_delay_ms": 50, "loop_rate": 0.5, "drop_rate": 1,
                                           "poll_padding_ms": 200},
                              "adversary": {"enabled": true, "fractions": [0.1, 0.3], "trials": 5,
                                            "window_ms": 500, "sybil_nodes": 4,
                                            "sybil_join_s": 20}})",
                          "s.json");
  REQUIRE(s.ok());
  CHECK(s->defences.mix_delay_ms == 50);
  CHECK(s->defences.loop_rate == 0.5);
  CHECK(s->defences.drop_rate == 1);
  CHECK(s->defences.poll_padding_ms == 200);
  CHECK(s->adversary.enabled);
  CHECK(s->adversary.fractions == std::vector<double>{0.1, 0.3});
  CHECK(s->adversary.trials == 5);
  CHECK(s->adversary.window_ms == 500);
  CHECK(s->adversary.sybil_nodes == 4);
  CHECK(s->adversary.sybil_join_s == 20);
  CHECK(total_nodes(*s) == s->nodes + 4);
  CHECK_FALSE(Scenario{}.adversary.enabled);
  CHECK(total_nodes(Scenario{}) == Scenario{}.nodes);

  CHECK(error_of(R"({"adversary": {"sybil_nodes": 3}})") ==
        "s.json: adversary.sybil_nodes: needs adversary.enabled");
  CHECK(error_of(R"({"adversary": {"fractions": [1.5]}})") ==
        "s.json: adversary.fractions[0]: must be between 0 and 1");
  CHECK(error_of(R"({"adversary": {"fractions": []}})") ==
        "s.json: adversary.fractions: expected a list of 1 to 20 numbers");
  CHECK(error_of(R"({"defences": {"mix_delay_max_ms": 100}})") ==
        "s.json: defences.mix_delay_max_ms: set without mix_delay_ms");
  CHECK(error_of(R"({"defences": {"mix_delay_ms": 100, "mix_delay_max_ms": 50}})") ==
        "s.json: defences.mix_delay_max_ms: must be at least mix_delay_ms");
  CHECK(error_of(R"({"defences": {"poll_padding_ms": 20}})") ==
        "s.json: defences.poll_padding_ms: must be 0 (off) or at least 50");
  CHECK(error_of(R"({"defences": {"loop_rate": 200}})") ==
        "s.json: defences.loop_rate: must be between 0 and 100");
  CHECK(error_of(R"({"defences": {"mixing": 1}})") == "s.json: defences.mixing: unknown field");
}
