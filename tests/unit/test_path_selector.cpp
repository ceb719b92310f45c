// Tests of client/path_selector: the shape of paths over random directories
// (distinct relays, destination in the swarm and never a relay, first hop a
// primary guard), guards and backup guards kept across directories and
// replaced when gone, network diversity and its fallback, tiny networks,
// onion key validity, determinism, and a chi-square bound on how uniformly
// middle relays are chosen. Failures, backoff and backup guards in use are in
// test_path_failures.cpp; guard state in test_guard_state.cpp.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <span>
#include <vector>

#include "client/path_selector.hpp"
#include "tests/support/path_networks.hpp"

using namespace nightjar;
using nightjar::test::path_network;
using nightjar::test::seeded_random;
using nightjar::test::t0_ms;

namespace {

SwarmId swarm_of(const Directory& d, const NodeId& n) {
  return d.find(n)->swarm;
}

bool is_guard(const PathSelector& s, const NodeId& n) {
  return std::find(s.guards().begin(), s.guards().end(), n) != s.guards().end();
}

bool is_primary(const PathSelector& s, const NodeId& n) {
  const auto p = s.primary_guards();
  return std::find(p.begin(), p.end(), n) != p.end();
}

std::vector<NodeId> ids(std::span<const NodeId> s) {
  return {s.begin(), s.end()};
}

std::uint64_t prefix_of(const Directory& d, const NodeId& n) {
  return network_prefix(d.find(n)->node.address);
}

// Relays distinct, destination not a relay, every node in the directory.
void check_shape(const Directory& d, const Path& p) {
  std::set<NodeId> seen(p.relays.begin(), p.relays.end());
  CHECK(seen.size() == p.relays.size());
  CHECK(seen.count(p.destination) == 0);
  for (const NodeId& n : p.relays)
    CHECK(d.find(n) != nullptr);
}

bool all_prefixes_distinct(const Directory& d, const Path& p) {
  std::set<std::uint64_t> prefixes{prefix_of(d, p.destination)};
  for (const NodeId& n : p.relays)
    prefixes.insert(prefix_of(d, n));
  return prefixes.size() == p.relays.size() + 1;
}

}  // namespace

TEST_CASE("network_prefix takes the /16 of IPv4 and the /32 of IPv6", "[paths]") {
  auto prefix = [](const char* text) { return network_prefix(*Endpoint::parse(text)); };
  CHECK(prefix("10.1.2.3:9000") == prefix("10.1.200.9:9001"));
  CHECK(prefix("10.1.2.3:9000") != prefix("10.2.2.3:9000"));
  CHECK(prefix("[2001:db8:1::1]:9000") == prefix("[2001:db8:ffff::2]:9000"));
  CHECK(prefix("[2001:db8::1]:9000") != prefix("[2001:db9::1]:9000"));
  CHECK(prefix("[::ffff:10.1.2.3]:9000") == prefix("10.1.9.9:9000"));
  CHECK(prefix("[::a01:203]:9000") != prefix("10.1.2.3:9000"));
  CHECK(network_prefix(Endpoint{}) == 0);
}

TEST_CASE("paths to a swarm have distinct relays, a primary guard first and a member last",
          "[paths]") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const std::size_t n = 5 + seed * 7;
    auto d = path_network(n, n, seed);
    auto rng = seeded_random(static_cast<std::uint8_t>(seed));
    PathSelector s({}, rng);
    s.set_directory(d);
    REQUIRE(s.guards().size() == 6);
    REQUIRE(s.primary_guards().size() == 3);
    CHECK(ids(s.backup_guards()) == std::vector<NodeId>(s.guards().begin() + 3, s.guards().end()));
    for (int i = 0; i < 200; ++i) {
      const SwarmId swarm = d->entries[static_cast<std::size_t>(i) % n].swarm;
      auto p = s.path_to_swarm(swarm, t0_ms);
      REQUIRE(p.ok());
      REQUIRE(p->relays.size() == 3);
      check_shape(*d, *p);
      CHECK(swarm_of(*d, p->destination) == swarm);
      CHECK(is_primary(s, p->relays[0]));
      CHECK(p->guard_first);
      CHECK(p->diverse);
      CHECK_FALSE(p->fallback);
    }
    CHECK(s.stats().paths == 200);
    CHECK(s.stats().non_diverse_paths == 0);
    CHECK(s.stats().backup_guard_first_hops == 0);
  }
}

TEST_CASE("path_to_node ends at the node and takes another primary guard when it is one",
          "[paths]") {
  auto d = path_network(30, 30);
  auto rng = seeded_random(2);
  PathSelector s({}, rng);
  s.set_directory(d);
  for (const DirectoryEntry& e : d->entries) {
    auto p = s.path_to_node(e.node.id, t0_ms);
    REQUIRE(p.ok());
    CHECK(p->destination == e.node.id);
    REQUIRE(p->relays.size() == 3);
    check_shape(*d, *p);
    CHECK(is_primary(s, p->relays[0]));
  }
  CHECK(s.stats().backup_guard_first_hops == 0);
  NodeId stranger;
  stranger.bytes.fill(0x99);
  CHECK(s.path_to_node(stranger, t0_ms).error() == PathError::unknown_destination);
}

TEST_CASE("first_usable puts the first guard first unless it is the destination", "[paths]") {
  auto d = path_network(20, 20);
  auto rng = seeded_random(3);
  PathConfig cfg;
  cfg.guard_use = GuardUse::first_usable;
  PathSelector s(cfg, rng);
  s.set_directory(d);
  const auto guards = s.guards();
  for (const DirectoryEntry& e : d->entries) {
    auto p = s.path_to_node(e.node.id, t0_ms);
    REQUIRE(p.ok());
    CHECK(p->relays[0] == (e.node.id == guards[0] ? guards[1] : guards[0]));
  }
  // With the first guard in backoff, the second takes over.
  s.report_failure(guards[0], t0_ms);
  auto p = s.path_to_node(
      d->entries[0].node.id == guards[1] ? d->entries[1].node.id : d->entries[0].node.id,
      t0_ms + 1);
  REQUIRE(p.ok());
  CHECK(p->relays[0] != guards[0]);
}

TEST_CASE("random guard use spreads first hops over every primary guard", "[paths]") {
  auto d = path_network(40, 40);
  auto rng = seeded_random(4);
  PathSelector s({}, rng);
  s.set_directory(d);
  for (int i = 0; i < 300; ++i)
    REQUIRE(s.path_to_swarm(d->entries[0].swarm, t0_ms).ok());
  const auto& use = s.stats().first_hop_use;
  REQUIRE(use.size() == 3);
  for (const auto& [guard, count] : use) {
    CHECK(is_primary(s, guard));
    CHECK(count > 50);  // 100 expected
  }
}

TEST_CASE("guards stay while in the directory and are replaced when they leave", "[paths]") {
  auto d = path_network(40, 40);
  auto rng = seeded_random(5);
  PathSelector s({}, rng);
  s.set_directory(d);
  const auto first = s.guards();
  REQUIRE(first.size() == 6);  // 3 primary, 3 backup
  std::set<std::uint64_t> prefixes;
  for (const NodeId& g : first)
    prefixes.insert(prefix_of(*d, g));
  CHECK(prefixes.size() == 6);

  // A newer directory with other nodes gone keeps every guard.
  std::vector<NodeId> gone;
  for (const DirectoryEntry& e : d->entries)
    if (!is_guard(s, e.node.id) && gone.size() < 10) gone.push_back(e.node.id);
  s.set_directory(test::without(*d, gone));
  CHECK(s.guards() == first);
  s.set_directory(d);
  CHECK(s.guards() == first);

  // A primary guard leaves: the others stay in order, so the first backup
  // becomes primary, and a new backup joins at the end.
  s.set_directory(test::without(*d, {first[1]}));
  REQUIRE(s.guards().size() == 6);
  CHECK(ids(s.primary_guards()) == std::vector<NodeId>{first[0], first[2], first[3]});
  CHECK(std::vector<NodeId>(s.guards().begin(), s.guards().begin() + 5) ==
        std::vector<NodeId>{first[0], first[2], first[3], first[4], first[5]});
  CHECK_FALSE(is_guard(s, first[1]));
  CHECK(prefix_of(*d, s.guards()[5]) != prefix_of(*d, first[0]));
  CHECK(s.stats().guards_dropped_gone == 1);
  CHECK(s.stats().guards_added == 7);
  // It does not come back when the node returns.
  s.set_directory(d);
  CHECK_FALSE(is_guard(s, first[1]));
}

TEST_CASE("backup guards are chosen by the rules of guards and change no primary guard",
          "[paths]") {
  // Chosen from nodes that never failed: a directory grows from 2 nodes to
  // 12 (each in its own network) of which 6 have failed, so the 4 new guards
  // are the 4 others.
  auto big = path_network(12, 12, 40);
  std::vector<NodeId> more;
  for (std::size_t i = 2; i < 12; ++i)
    more.push_back(big->entries[i].node.id);
  auto rng = seeded_random(40);
  PathSelector s({}, rng);
  s.set_directory(test::without(*big, more));
  REQUIRE(s.guards().size() == 2);
  std::set<NodeId> never_failed;
  for (std::size_t i = 0; i < more.size(); ++i)
    if (i < 6)
      s.report_failure(more[i], t0_ms);
    else
      never_failed.insert(more[i]);
  s.set_directory(big);
  REQUIRE(s.guards().size() == 6);
  CHECK(std::set<NodeId>(s.guards().begin() + 2, s.guards().end()) == never_failed);

  // The primary guards are those a selector without backups would choose:
  // backups are chosen after them.
  auto d = path_network(30, 30, 42);
  auto rng_a = seeded_random(42);
  auto rng_b = seeded_random(42);
  PathSelector with(PathConfig{}, rng_a);
  PathConfig none;
  none.backup_guards = 0;
  PathSelector without(none, rng_b);
  with.set_directory(d);
  without.set_directory(d);
  CHECK(ids(with.primary_guards()) == without.guards());
  CHECK(without.backup_guards().empty());
  CHECK(ids(without.primary_guards()) == without.guards());
}

TEST_CASE("paths use distinct /16 networks when the directory has enough", "[paths]") {
  // 60 nodes in 12 networks of 5: nodes that share a network are common, but
  // the guards (primary and backup) are in six networks of their own and 6
  // more are left.
  auto d = path_network(60, 12, 6);
  auto rng = seeded_random(6);
  PathSelector s({}, rng);
  s.set_directory(d);
  for (int i = 0; i < 500; ++i) {
    auto p = s.path_to_swarm(d->entries[static_cast<std::size_t>(i) % 60].swarm, t0_ms);
    REQUIRE(p.ok());
    CHECK(p->diverse);
    CHECK(all_prefixes_distinct(*d, *p));
  }
  CHECK(s.stats().non_diverse_paths == 0);
}

TEST_CASE("paths use as many networks as there are when there are too few", "[paths]") {
  auto d = path_network(30, 3, 19);  // 4 nodes per path, 3 networks
  auto rng = seeded_random(19);
  PathSelector s({}, rng);
  s.set_directory(d);
  for (int i = 0; i < 200; ++i) {
    auto p = s.path_to_swarm(d->entries[static_cast<std::size_t>(i) % 30].swarm, t0_ms);
    REQUIRE(p.ok());
    REQUIRE(p->relays.size() == 3);
    check_shape(*d, *p);
    CHECK_FALSE(p->diverse);
    std::set<std::uint64_t> prefixes{prefix_of(*d, p->destination)};
    for (const NodeId& n : p->relays)
      prefixes.insert(prefix_of(*d, n));
    CHECK(prefixes.size() == 3);
  }
  CHECK(s.stats().non_diverse_paths == 200);
}

TEST_CASE("paths fall back to distinct nodes when every node shares one network", "[paths]") {
  auto d = path_network(12, 0);  // all on 127.0.0.1
  auto rng = seeded_random(7);
  PathSelector s({}, rng);
  s.set_directory(d);
  for (int i = 0; i < 100; ++i) {
    auto p = s.path_to_swarm(d->entries[0].swarm, t0_ms);
    REQUIRE(p.ok());
    REQUIRE(p->relays.size() == 3);
    check_shape(*d, *p);
    CHECK_FALSE(p->diverse);
  }
  CHECK(s.stats().non_diverse_paths == 100);
}

TEST_CASE("tiny networks give the longest distinct path or too_few_nodes", "[paths]") {
  for (std::size_t n = 1; n <= 7; ++n) {
    auto d = path_network(n, n, 8, 7);  // one swarm holds every node
    auto rng = seeded_random(8);
    PathSelector s({}, rng);
    s.set_directory(d);
    // As many guards as nodes, primary ones first.
    CHECK(s.guards().size() == std::min<std::size_t>(n, 6));
    CHECK(s.primary_guards().size() == std::min<std::size_t>(n, 3));
    CHECK(s.backup_guards().size() == (n > 3 ? std::min<std::size_t>(n, 6) - 3 : 0));
    for (int i = 0; i < 20; ++i) {
      auto p = s.path_to_swarm(d->entries[0].swarm, t0_ms);
      if (n == 1) {
        REQUIRE_FALSE(p.ok());
        CHECK(p.error() == PathError::too_few_nodes);
        CHECK(s.path_to_node(d->entries[0].node.id, t0_ms).error() == PathError::too_few_nodes);
        continue;
      }
      REQUIRE(p.ok());
      CHECK(p->relays.size() == std::min<std::size_t>(n - 1, 3));
      check_shape(*d, *p);
      CHECK(is_primary(s, p->relays[0]));
    }
    CHECK(s.stats().short_paths == (n >= 2 && n <= 3 ? 20u : 0u));
  }
  // min_relays refuses paths shorter than asked for.
  auto d = path_network(3, 3);
  auto rng = seeded_random(9);
  PathConfig cfg;
  cfg.min_relays = 3;
  PathSelector s(cfg, rng);
  s.set_directory(d);
  CHECK(s.path_to_node(d->entries[0].node.id, t0_ms).error() == PathError::too_few_nodes);
}

TEST_CASE("guards fill up as a tiny network grows", "[paths]") {
  auto small = path_network(2, 2, 10);
  auto rng = seeded_random(10);
  PathSelector s({}, rng);
  s.set_directory(small);
  const auto two = s.guards();
  REQUIRE(two.size() == 2);
  CHECK(s.backup_guards().empty());
  auto big = std::make_shared<Directory>(*small);
  const auto more = path_network(10, 10, 11);  // kept alive for the loop
  for (const DirectoryEntry& e : more->entries) big->entries.push_back(e);
  big->sort_entries();
  s.set_directory(big);
  REQUIRE(s.guards().size() == 6);
  REQUIRE(s.primary_guards().size() == 3);
  CHECK(std::equal(two.begin(), two.end(), s.guards().begin()));
}

TEST_CASE("path errors without a directory or with an unknown swarm", "[paths]") {
  auto rng = seeded_random(12);
  PathSelector s({}, rng);
  CHECK(s.path_to_swarm(1, t0_ms).error() == PathError::no_directory);
  s.set_directory(path_network(10, 10));
  CHECK(s.path_to_swarm(12345, t0_ms).error() == PathError::unknown_swarm);
  CHECK(std::string(to_string(PathError::unknown_swarm)).find("swarm") != std::string::npos);
}

TEST_CASE("exclude_destination is never chosen", "[paths]") {
  auto d = path_network(20, 20, 13, 5);
  auto rng = seeded_random(13);
  PathSelector s({}, rng);
  s.set_directory(d);
  const NodeId excluded = d->entries[3].node.id;
  const SwarmId swarm = d->entries[3].swarm;
  for (int i = 0; i < 100; ++i) {
    auto p = s.path_to_swarm(swarm, t0_ms, excluded);
    REQUIRE(p.ok());
    CHECK(p->destination != excluded);
    CHECK(swarm_of(*d, p->destination) == swarm);
  }
  // A swarm whose only member is excluded has no destination.
  auto one = path_network(6, 6, 14, 5);  // swarms of 5 and 1
  s.set_directory(one);
  const DirectoryEntry* alone = nullptr;
  for (const DirectoryEntry& e : one->entries)
    if (one->members(e.swarm).size() == 1) alone = &e;
  REQUIRE(alone);
  CHECK(s.path_to_swarm(alone->swarm, t0_ms, alone->node.id).error() == PathError::unknown_swarm);
}

TEST_CASE("nodes without a live onion key are neither relays nor destinations", "[paths]") {
  auto d = path_network(12, 12, 15);
  std::set<NodeId> expired;
  for (std::size_t i = 0; i < d->entries.size(); i += 3) {
    d->entries[i].node.onion_keys[0].valid_until = t0_ms / 1000;  // expires at t0
    expired.insert(d->entries[i].node.id);
  }
  auto rng = seeded_random(15);
  PathSelector s({}, rng);
  s.set_directory(d);
  for (int i = 0; i < 100; ++i) {
    auto p = s.path_to_swarm(d->entries[static_cast<std::size_t>(i) % 12].swarm, t0_ms);
    REQUIRE(p.ok());
    CHECK(expired.count(p->destination) == 0);
    for (const NodeId& n : p->relays)
      CHECK(expired.count(n) == 0);
  }
  CHECK(s.path_to_node(d->entries[0].node.id, t0_ms).error() == PathError::unknown_destination);
  CHECK(s.path_to_node(d->entries[0].node.id, t0_ms - 1000).ok());
}

TEST_CASE("the same seed and directory give the same paths", "[paths]") {
  auto d = path_network(50, 20, 16);
  auto rng_a = seeded_random(16);
  auto rng_b = seeded_random(16);
  PathSelector a({}, rng_a);
  PathSelector b({}, rng_b);
  a.set_directory(d);
  b.set_directory(d);
  CHECK(a.guards() == b.guards());
  for (int i = 0; i < 50; ++i) {
    const SwarmId swarm = d->entries[static_cast<std::size_t>(i)].swarm;
    auto pa = a.path_to_swarm(swarm, t0_ms);
    auto pb = b.path_to_swarm(swarm, t0_ms);
    REQUIRE((pa.ok() && pb.ok()));
    CHECK(pa->relays == pb->relays);
    CHECK(pa->destination == pb->destination);
  }
}

TEST_CASE("middle relays are chosen uniformly", "[paths]") {
  // 40 nodes in 40 networks, one fixed destination: each path's two middle
  // relays are a uniform pair of the 38 nodes that are neither the
  // destination nor its first hop, so each node that is not a primary guard
  // (backup guards are never first hops here) is a middle relay with
  // probability 2/38 per path.
  auto d = path_network(40, 40, 17);
  auto rng = seeded_random(17);
  PathSelector s({}, rng);
  s.set_directory(d);
  NodeId dest;
  for (const DirectoryEntry& e : d->entries)
    if (!is_guard(s, e.node.id)) dest = e.node.id;
  constexpr int paths = 19'000;
  for (int i = 0; i < paths; ++i)
    REQUIRE(s.path_to_node(dest, t0_ms).ok());

  const double expected = paths * 2.0 / 38.0;
  double chi2 = 0;
  std::size_t categories = 0;
  UseCounts non_guards;
  for (const DirectoryEntry& e : d->entries) {
    if (is_primary(s, e.node.id) || e.node.id == dest) continue;
    const auto it = s.stats().middle_use.find(e.node.id);
    const double seen = it == s.stats().middle_use.end() ? 0 : static_cast<double>(it->second);
    chi2 += (seen - expected) * (seen - expected) / expected;
    non_guards[e.node.id] = static_cast<std::uint64_t>(seen);
    ++categories;
  }
  REQUIRE(categories == 36);
  // 35 degrees of freedom: mean 35, sd 8.4; 80 is beyond p = 1e-5.
  CHECK(chi2 < 80);
  CHECK(relay_choice_entropy_bits(non_guards) > std::log2(36.0) - 0.01);
  CHECK(relay_choice_entropy_bits(s.stats().first_hop_use) > std::log2(3.0) - 0.01);
}

TEST_CASE("relay_choice_entropy_bits is the Shannon entropy of the counts", "[paths]") {
  auto node = [](std::uint8_t b) {
    NodeId n;
    n.bytes.fill(b);
    return n;
  };
  CHECK(relay_choice_entropy_bits({}) == 0);
  CHECK(relay_choice_entropy_bits({{node(1), 7}}) == 0);
  CHECK(relay_choice_entropy_bits({{node(1), 5}, {node(2), 5}, {node(3), 5}, {node(4), 5}}) ==
        Approx(2.0));
  CHECK(relay_choice_entropy_bits({{node(1), 1}, {node(2), 3}}) == Approx(0.811278).epsilon(1e-5));
  CHECK(relay_choice_entropy_bits({{node(1), 4}, {node(2), 0}}) == 0);
}

TEST_CASE("PathSelector refuses a config out of range", "[paths]") {
  auto rng = seeded_random(18);
  auto make = [&](auto change) {
    PathConfig cfg;
    change(cfg);
    PathSelector s(cfg, rng);
  };
  CHECK_THROWS_AS(make([](PathConfig& c) { c.relays = 0; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](PathConfig& c) { c.min_relays = 0; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](PathConfig& c) { c.min_relays = 4; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](PathConfig& c) { c.guard_count = 0; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](PathConfig& c) { c.guard_count = 17; }), std::invalid_argument);
  // Every guard must fit the guard state text: at most 16 together.
  CHECK_THROWS_AS(make([](PathConfig& c) { c.guard_count = 14; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](PathConfig& c) { c.backup_guards = 14; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](PathConfig& c) { c.backup_guards = ~std::size_t{0}; }),
                  std::invalid_argument);
  CHECK_NOTHROW(make([](PathConfig& c) { c.guard_count = 13; }));
  CHECK_NOTHROW(make([](PathConfig& c) {
    c.guard_count = 16;
    c.backup_guards = 0;
  }));
  CHECK_THROWS_AS(make([](PathConfig& c) { c.backoff.base_ms = 0; }), std::invalid_argument);
  CHECK_NOTHROW(make([](PathConfig&) {}));
}
