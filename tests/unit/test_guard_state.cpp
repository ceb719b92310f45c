// Tests of client/guard_state (the text format: round trip, canonical form,
// each class of bad input) and of PathSelector::save_guards/load_guards
// (guards, primary and backup, keep their order and failure streaks across
// a restart; bad input changes nothing).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "client/guard_state.hpp"
#include "client/path_selector.hpp"
#include "tests/support/path_networks.hpp"

using namespace nightjar;
using nightjar::test::path_network;
using nightjar::test::seeded_random;
using nightjar::test::t0_ms;

namespace {

NodeId node_from(std::uint8_t b) {
  NodeId n;
  n.bytes.fill(b);
  return n;
}

const std::string id_a(64, 'a');
const std::string id_b = std::string(62, '0') + "b1";

std::string state(const std::vector<std::string>& lines) {
  std::string out = "nightjar guards v1\n";
  for (const auto& l : lines)
    out += l + '\n';
  return out;
}

}  // namespace

TEST_CASE("guard state encodes one line per guard and parses back", "[paths]") {
  const std::vector<GuardRecord> records{
      {node_from(0xaa), 0, 0, 0},
      {node_from(0x01), 3, t0_ms, t0_ms + 90'000},
  };
  const std::string text = encode_guard_state(records);
  std::string id_01;
  for (int i = 0; i < 32; ++i)
    id_01 += "01";
  CHECK(text ==
        state({"guard " + id_a + " 0 0 0", "guard " + id_01 + " 3 1700000000000 1700000090000"}));
  auto parsed = parse_guard_state(text);
  REQUIRE(parsed.ok());
  CHECK(*parsed == records);
  CHECK(parse_guard_state(state({})).ok());
  CHECK(parse_guard_state(state({}))->empty());
  CHECK(encode_guard_state({}) == state({}));
}

TEST_CASE("encode_guard_state refuses records it could not parse back", "[paths]") {
  CHECK_THROWS_AS(encode_guard_state(std::vector<GuardRecord>{{node_from(1), 0, 5, 5}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(encode_guard_state(std::vector<GuardRecord>{{node_from(1), 2, 9, 5}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(encode_guard_state(std::vector<GuardRecord>{{node_from(1)}, {node_from(1)}}),
                  std::invalid_argument);
  std::vector<GuardRecord> many;
  for (std::uint8_t i = 0; i < 17; ++i)
    many.push_back({node_from(i)});
  CHECK_THROWS_AS(encode_guard_state(many), std::invalid_argument);
}

TEST_CASE("guard state parser rejects each class of bad input", "[paths]") {
  const std::string good = "guard " + id_a + " 0 0 0";
  std::string too_long = state({});
  while (too_long.size() <= max_guard_state_bytes)
    too_long += good + '\n';
  std::vector<std::string> seventeen;
  for (int i = 0; i < 17; ++i) {
    std::string id = std::string(62, '0') + (i < 10 ? "0" : "1") + std::to_string(i % 10);
    seventeen.push_back("guard " + id + " 0 0 0");
  }
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "empty"},
      {"nightjar guards v1", "newline"},
      {state({good}).substr(0, state({good}).size() - 1), "newline"},
      {too_long, "longer than"},
      {"nightjar guards v2\n", "line 1: expected the header"},
      {"\n", "line 1"},
      {"nightjar guards v1\r\n", "line 1"},
      {state({good + "\r"}), "line 2"},
      {state({""}), "line 2: expected \"guard\""},
      {state({"relay " + id_a + " 0 0 0"}), "expected \"guard\""},
      {state({"guard " + id_a + " 0 0"}), "5 fields"},
      {state({"guard " + id_a + " 0 0 0 0"}), "5 fields"},
      {state({"guard  " + id_a + " 0 0 0"}), "5 fields"},
      {state({good + " "}), "5 fields"},
      {state({"guard " + std::string(64, 'A') + " 0 0 0"}), "64 lowercase hex"},
      {state({"guard " + std::string(63, 'a') + " 0 0 0"}), "64 lowercase hex"},
      {state({"guard " + std::string(63, 'a') + "g 0 0 0"}), "64 lowercase hex"},
      {state({"guard " + id_a + " 01 5 5"}), "decimal"},
      {state({"guard " + id_a + " +1 5 5"}), "decimal"},
      {state({"guard " + id_a + " -1 5 5"}), "decimal"},
      {state({"guard " + id_a + " 4294967296 5 5"}), "decimal"},
      {state({"guard " + id_a + " 1 5 18446744073709551616"}), "decimal"},
      {state({"guard " + id_a + " 1 0x5 5"}), "decimal"},
      {state({"guard " + id_a + " 0 5 5"}), "disagree"},
      {state({"guard " + id_a + " 2 9 5"}), "disagree"},
      {state({good, "guard " + id_b + " 0 0 0", good}), "line 4: guard listed twice"},
      {state(seventeen), "line 18: more than 16 guards"},
      {state({good, ""}), "line 3"},
      {std::string("nightjar guards v1\n\0\n", 21), "line 2"},
  };
  for (const auto& [input, why] : cases) {
    INFO("input: " << input);
    auto r = parse_guard_state(input);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains(why));
  }
  // The largest values that fit are accepted.
  CHECK(parse_guard_state(
            state({"guard " + id_a + " 4294967295 18446744073709551615 18446744073709551615"}))
            .ok());
}

TEST_CASE("guards and their failure streaks survive save and load", "[paths]") {
  auto d = path_network(30, 30, 31);
  auto rng_a = seeded_random(31);
  PathSelector a({}, rng_a);
  a.set_directory(d);
  const auto guards = a.guards();
  a.report_failure(guards[1], t0_ms);
  a.report_failure(guards[1], t0_ms + 30'000);
  const std::string saved = a.save_guards();

  // A restart: another random seed would pick other guards.
  auto rng_b = seeded_random(32);
  PathSelector b({}, rng_b);
  REQUIRE(b.load_guards(saved).ok());
  CHECK(b.guards() == guards);  // kept before any directory
  b.set_directory(d);
  CHECK(b.guards() == guards);
  CHECK(b.backoff().find(guards[1])->failures == 2);
  CHECK(b.backoff().avoided(guards[1], t0_ms + 89'999));
  CHECK_FALSE(b.backoff().avoided(guards[1], t0_ms + 90'000));
  CHECK(b.save_guards() == saved);
  for (int i = 0; i < 50; ++i) {
    auto p = b.path_to_swarm(d->entries[static_cast<std::size_t>(i) % 30].swarm, t0_ms + 1);
    REQUIRE(p.ok());
    CHECK((p->relays[0] == guards[0] || p->relays[0] == guards[2]));
  }

  // Loaded into a selector that has a directory, a guard that left it is
  // replaced: the first backup becomes primary, a new backup joins.
  auto rng_c = seeded_random(33);
  PathSelector c({}, rng_c);
  c.set_directory(test::without(*d, {guards[0]}));
  REQUIRE(c.load_guards(saved).ok());
  REQUIRE(guards.size() == 6);
  REQUIRE(c.guards().size() == 6);
  CHECK(std::vector<NodeId>(c.guards().begin(), c.guards().begin() + 5) ==
        std::vector<NodeId>(guards.begin() + 1, guards.end()));
  CHECK(c.guards()[5] != guards[0]);
  CHECK(c.primary_guards().back() == guards[3]);
}

TEST_CASE("backup guards are saved and loaded in order, with their failure streaks", "[paths]") {
  auto d = path_network(30, 30, 36);
  auto rng_a = seeded_random(36);
  PathSelector a({}, rng_a);
  a.set_directory(d);
  const auto guards = a.guards();
  REQUIRE(guards.size() == 6);
  a.report_failure(guards[4], t0_ms);
  const std::string saved = a.save_guards();
  auto parsed = parse_guard_state(saved);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 6);
  for (std::size_t i = 0; i < 6; ++i)
    CHECK((*parsed)[i].id == guards[i]);
  CHECK((*parsed)[4] == GuardRecord{guards[4], 1, t0_ms, t0_ms});

  auto rng_b = seeded_random(37);
  PathSelector b({}, rng_b);
  REQUIRE(b.load_guards(saved).ok());
  b.set_directory(d);
  CHECK(b.guards() == guards);
  CHECK(std::vector<NodeId>(b.backup_guards().begin(), b.backup_guards().end()) ==
        std::vector<NodeId>(guards.begin() + 3, guards.end()));
  CHECK(b.backoff().avoided(guards[4], t0_ms + 1));
  CHECK(b.save_guards() == saved);
}

TEST_CASE("load_guards keeps the first guard_count + backup_guards guards", "[paths]") {
  std::vector<GuardRecord> records;
  for (std::uint8_t i = 1; i <= 8; ++i)
    records.push_back({node_from(i), i, t0_ms, t0_ms});
  auto first = [](std::uint8_t n) {
    std::vector<NodeId> out;
    for (std::uint8_t i = 1; i <= n; ++i)
      out.push_back(node_from(i));
    return out;
  };
  auto load = [&](std::size_t guard_count, std::size_t backup_guards) {
    auto rng = seeded_random(34);
    PathConfig cfg;
    cfg.guard_count = guard_count;
    cfg.backup_guards = backup_guards;
    PathSelector s(cfg, rng);
    REQUIRE(s.load_guards(encode_guard_state(records)).ok());
    // The guards left out leave no failure streak behind.
    CHECK(s.backoff().size() == s.guards().size());
    return s.guards();
  };
  CHECK(load(3, 3) == first(6));
  CHECK(load(3, 0) == first(3));
  CHECK(load(2, 1) == first(3));
  CHECK(load(3, 13) == first(8));
}

TEST_CASE("load_guards rejects bad input and keeps the guards it had", "[paths]") {
  auto d = path_network(10, 10, 35);
  auto rng = seeded_random(35);
  PathSelector s({}, rng);
  s.set_directory(d);
  const auto guards = s.guards();
  const std::string saved = s.save_guards();
  auto r = s.load_guards(saved.substr(0, saved.size() - 3));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("guard state"));
  CHECK(s.guards() == guards);
  CHECK(s.save_guards() == saved);
}
