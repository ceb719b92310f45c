// Tests of failure avoidance in client/node_backoff and client/path_selector:
// the backoff schedule, a failed node avoided until its backoff ends and
// forgiven by a success, paths when every node is failing, how a
// RequestFailure is blamed, when a failing guard is replaced, and backup
// guards: first hops only while every primary guard is in backoff.
#include <algorithm>
#include <catch2/catch.hpp>
#include <span>
#include <vector>

#include "client/node_backoff.hpp"
#include "client/onion_client.hpp"
#include "client/path_selector.hpp"
#include "tests/support/path_networks.hpp"

using namespace nightjar;
using nightjar::test::path_network;
using nightjar::test::seeded_random;
using nightjar::test::t0_ms;

namespace {

constexpr std::uint64_t minute_ms = 60'000;

NodeId node_from(std::uint8_t b) {
  NodeId n;
  n.bytes.fill(b);
  return n;
}

bool is_guard(const PathSelector& s, const NodeId& n) {
  return std::find(s.guards().begin(), s.guards().end(), n) != s.guards().end();
}

bool is_primary(const PathSelector& s, const NodeId& n) {
  const auto p = s.primary_guards();
  return std::find(p.begin(), p.end(), n) != p.end();
}

bool on_path(const Path& p, const NodeId& n) {
  return p.destination == n || std::find(p.relays.begin(), p.relays.end(), n) != p.relays.end();
}

// A node that is neither a guard nor `not_this`.
NodeId non_guard(const PathSelector& s, const Directory& d, const NodeId& not_this) {
  for (const DirectoryEntry& e : d.entries)
    if (!is_guard(s, e.node.id) && e.node.id != not_this) return e.node.id;
  FAIL("no non-guard node");
  return {};
}

// How many of `count` paths to `dest` at `now` pass through `n`.
int paths_through(PathSelector& s, const NodeId& dest, const NodeId& n, std::uint64_t now,
                  int count = 200) {
  int hits = 0;
  for (int i = 0; i < count; ++i) {
    auto p = s.path_to_node(dest, now);
    REQUIRE(p.ok());
    hits += on_path(*p, n) ? 1 : 0;
  }
  return hits;
}

}  // namespace

TEST_CASE("NodeBackoff doubles from 30 s to 10 min and forgets on success", "[paths]") {
  NodeBackoff b({});
  CHECK(b.backoff_ms(0) == 0);
  CHECK(b.backoff_ms(1) == 30'000);
  CHECK(b.backoff_ms(2) == 60'000);
  CHECK(b.backoff_ms(5) == 480'000);
  CHECK(b.backoff_ms(6) == 600'000);
  CHECK(b.backoff_ms(4'000'000'000u) == 600'000);

  const NodeId n = node_from(1);
  CHECK(b.report_failure(n, t0_ms));
  CHECK(b.avoided(n, t0_ms + 29'999));
  CHECK_FALSE(b.avoided(n, t0_ms + 30'000));
  // Another request that was in flight fails too: not a second failure.
  CHECK_FALSE(b.report_failure(n, t0_ms + 10));
  CHECK(b.find(n)->failures == 1);
  CHECK(b.report_failure(n, t0_ms + 30'000));
  CHECK(b.find(n)->failures == 2);
  CHECK(b.find(n)->first_failure_ms == t0_ms);
  CHECK(b.avoided(n, t0_ms + 89'999));
  CHECK_FALSE(b.avoided(n, t0_ms + 90'000));

  b.report_success(n, t0_ms + 100'000);
  CHECK(b.find(n) == nullptr);
  CHECK_FALSE(b.avoided(n, t0_ms + 100'000));
  CHECK(b.last_success_ms() == t0_ms + 100'000);
}

TEST_CASE("NodeBackoff turns two timeouts into one failure", "[paths]") {
  NodeBackoff b({});
  const NodeId n = node_from(2);
  b.report_timeout(n, t0_ms);
  CHECK_FALSE(b.avoided(n, t0_ms));
  CHECK(b.find(n)->timeouts == 1);
  b.report_timeout(n, t0_ms + 5);
  CHECK(b.avoided(n, t0_ms + 5));
  CHECK(b.find(n)->failures == 1);
  CHECK(b.find(n)->timeouts == 0);
}

TEST_CASE("NodeBackoff restores a saved streak and prunes departed nodes", "[paths]") {
  NodeBackoff b({});
  const NodeId a = node_from(3), c = node_from(4);
  b.restore(a, 3, t0_ms, t0_ms + 1000);
  CHECK(b.find(a)->avoid_until_ms == t0_ms + 1000 + 120'000);
  b.restore(c, 1, t0_ms, t0_ms);
  b.prune([&](const NodeId& n) { return n == a; });
  CHECK(b.size() == 1);
  b.restore(a, 0, 0, 0);
  CHECK(b.size() == 0);
  // Times near the end of the clock do not wrap round.
  b.restore(a, 1, ~std::uint64_t{0} - 5, ~std::uint64_t{0} - 5);
  CHECK(b.avoided(a, ~std::uint64_t{0} - 1));
}

TEST_CASE("a failed node is avoided until its backoff ends and after a success is used again",
          "[paths]") {
  auto d = path_network(10, 10, 21);
  auto rng = seeded_random(21);
  PathSelector s({}, rng);
  s.set_directory(d);
  const NodeId dest = non_guard(s, *d, {});
  const NodeId x = non_guard(s, *d, dest);
  CHECK(paths_through(s, dest, x, t0_ms) > 0);

  s.report_failure(x, t0_ms);
  CHECK(paths_through(s, dest, x, t0_ms + 1) == 0);
  CHECK(paths_through(s, dest, x, t0_ms + 29'999) == 0);
  CHECK(paths_through(s, dest, x, t0_ms + 30'000) > 0);

  s.report_failure(x, t0_ms + 30'000);  // second failure: one minute
  CHECK(paths_through(s, dest, x, t0_ms + 89'999) == 0);
  s.report_success(x, t0_ms + 40'000);
  CHECK(paths_through(s, dest, x, t0_ms + 40'000) > 0);
  CHECK(s.stats().fallback_paths == 0);
}

TEST_CASE("a failed guard is not a first hop while another guard works", "[paths]") {
  auto d = path_network(20, 20, 22);
  auto rng = seeded_random(22);
  PathSelector s({}, rng);
  s.set_directory(d);
  const NodeId g = s.guards()[0];
  s.report_failure(g, t0_ms);
  for (int i = 0; i < 100; ++i) {
    auto p = s.path_to_swarm(d->entries[static_cast<std::size_t>(i) % 20].swarm, t0_ms + 1);
    REQUIRE(p.ok());
    CHECK(p->relays[0] != g);
    // Two primary guards remain unless one is the destination.
    if (is_guard(s, p->destination))
      CHECK(is_guard(s, p->relays[0]));
    else
      CHECK(is_primary(s, p->relays[0]));
  }
}

TEST_CASE("when every node is failing the path takes the least recently failed", "[paths]") {
  const std::size_t backups = GENERATE(0u, 3u);
  INFO("backup_guards " << backups);
  auto d = path_network(8, 8, 23, 4);
  auto rng = seeded_random(23);
  PathConfig cfg;
  cfg.backup_guards = backups;
  PathSelector s(cfg, rng);
  s.set_directory(d);
  REQUIRE(s.guards().size() == 3 + backups);
  for (std::size_t i = 0; i < d->entries.size(); ++i)
    s.report_failure(d->entries[i].node.id, t0_ms + i * 10);
  auto failed_at = [&](const NodeId& n) { return s.backoff().find(n)->last_failure_ms; };

  const NodeId dest = d->entries[7].node.id;
  auto p = s.path_to_node(dest, t0_ms + 100);
  REQUIRE(p.ok());
  REQUIRE(p->relays.size() == 3);
  CHECK(p->fallback);
  CHECK(p->diverse);
  CHECK(p->guard_first);
  // The first hop: the least recently failed primary guard, never a backup.
  CHECK(is_primary(s, p->relays[0]));
  for (const NodeId& g : s.primary_guards())
    if (g != dest) CHECK(failed_at(p->relays[0]) <= failed_at(g));
  CHECK(s.stats().backup_guard_first_hops == 0);
  // The other relays: the least recently failed of the nodes not yet used.
  for (std::size_t hop = 1; hop < 3; ++hop)
    for (const DirectoryEntry& e : d->entries) {
      const NodeId& n = e.node.id;
      if (n == dest ||
          std::find(p->relays.begin(), p->relays.begin() + static_cast<std::ptrdiff_t>(hop), n) !=
              p->relays.begin() + static_cast<std::ptrdiff_t>(hop))
        continue;
      CHECK(failed_at(p->relays[hop]) <= failed_at(n));
    }

  // A swarm whose members all fail still gives a destination: the least
  // recently failed member.
  const SwarmId swarm = d->entries[5].swarm;
  auto q = s.path_to_swarm(swarm, t0_ms + 100);
  REQUIRE(q.ok());
  CHECK(q->fallback);
  for (const DirectoryEntry* m : d->members(swarm))
    CHECK(failed_at(q->destination) <= failed_at(m->node.id));
  CHECK(s.stats().fallback_paths == 2);
}

TEST_CASE("report_path_failure blames the named node and credits the hops before it", "[paths]") {
  auto d = path_network(12, 12, 24);
  auto rng = seeded_random(24);
  PathSelector s({}, rng);
  s.set_directory(d);
  auto p = s.path_to_swarm(d->entries[0].swarm, t0_ms);
  REQUIRE(p.ok());
  const auto& r = p->relays;
  const std::uint64_t now = t0_ms + 1;

  SECTION("a relay error") {
    s.report_path_failure(*p, {RequestError::timeout, {}, {}, 0}, now);  // one suspicion each
    RequestFailure f{RequestError::relay_error, 1, r[2], 2};
    s.report_path_failure(*p, f, now);
    CHECK(s.backoff().find(r[0]) == nullptr);
    CHECK(s.backoff().find(r[1]) == nullptr);
    CHECK(s.backoff().avoided(r[2], now));
    CHECK(s.backoff().find(p->destination)->timeouts == 1);
  }
  SECTION("a link failure to the first hop") {
    s.report_path_failure(*p, {RequestError::link_failed, 0, r[0], 0}, now);
    CHECK(s.backoff().avoided(r[0], now));
    CHECK(s.backoff().size() == 1);
  }
  SECTION("timeouts spread over the path") {
    s.report_path_failure(*p, {RequestError::timeout, {}, {}, 0}, now);
    for (const NodeId& n : r)
      CHECK_FALSE(s.backoff().avoided(n, now));
    s.report_path_failure(*p, {RequestError::bad_reply, {}, {}, 0}, now);
    for (const NodeId& n : r)
      CHECK(s.backoff().avoided(n, now));
    CHECK(s.backoff().avoided(p->destination, now));
    s.report_path_success(*p, now + 1);
    CHECK(s.backoff().size() == 0);
  }
  SECTION("the client's own errors blame nobody") {
    for (RequestError e : {RequestError::no_directory, RequestError::too_large,
                           RequestError::overloaded, RequestError::link_failed})
      s.report_path_failure(*p, {e, {}, {}, 0}, now);
    CHECK(s.backoff().size() == 0);
  }
}

namespace {

// Fails `guard` each time its backoff ends, until `until_ms`; returns when it
// stopped being a guard (0: never). Bounded by `max_attempts`.
std::uint64_t fail_until_dropped(PathSelector& s, const NodeId& guard, std::uint64_t until_ms,
                                 int max_attempts = 400) {
  std::uint64_t t = t0_ms;
  for (int i = 0; i < max_attempts && t <= until_ms; ++i) {
    s.report_failure(guard, t);
    if (!is_guard(s, guard)) return t;
    t = s.backoff().find(guard)->avoid_until_ms;
  }
  return 0;
}

}  // namespace

TEST_CASE("a guard that fails for 30 minutes while others work is replaced", "[paths]") {
  auto d = path_network(20, 20, 25);
  auto rng = seeded_random(25);
  PathSelector s({}, rng);
  s.set_directory(d);
  const auto before = s.guards();
  s.report_success(before[1], t0_ms + 1);  // the client is online
  // Failures at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 25.5, 35.5 minutes: the sixth
  // is not yet 30 minutes into the streak, the eighth is.
  const std::uint64_t dropped = fail_until_dropped(s, before[0], t0_ms + 60 * minute_ms);
  CHECK(dropped == t0_ms + 2130 * 1000);
  // The first backup becomes primary (the list keeps its order) and a new,
  // never-failed backup joins at the end.
  REQUIRE(before.size() == 6);
  REQUIRE(s.guards().size() == 6);
  CHECK_FALSE(is_guard(s, before[0]));
  CHECK(std::vector<NodeId>(s.guards().begin(), s.guards().begin() + 5) ==
        std::vector<NodeId>(before.begin() + 1, before.end()));
  CHECK(is_primary(s, before[3]));
  CHECK(s.backoff().find(s.guards()[5]) == nullptr);
  CHECK(s.stats().guards_dropped_failing == 1);
}

TEST_CASE("a backup guard that fails for 30 minutes is replaced like a primary one", "[paths]") {
  auto d = path_network(20, 20, 28);
  auto rng = seeded_random(28);
  PathSelector s({}, rng);
  s.set_directory(d);
  const auto before = s.guards();
  REQUIRE(before.size() == 6);
  s.report_success(before[0], t0_ms + 1);
  CHECK(fail_until_dropped(s, before[4], t0_ms + 60 * minute_ms) == t0_ms + 2130 * 1000);
  REQUIRE(s.guards().size() == 6);
  CHECK(std::vector<NodeId>(s.guards().begin(), s.guards().begin() + 5) ==
        std::vector<NodeId>{before[0], before[1], before[2], before[3], before[5]});
  CHECK_FALSE(is_guard(s, before[4]));
  CHECK(s.stats().guards_dropped_failing == 1);
}

TEST_CASE("guards are kept while nothing works, until a day has passed", "[paths]") {
  auto d = path_network(20, 20, 26);
  auto rng = seeded_random(26);
  PathSelector s({}, rng);
  s.set_directory(d);
  const NodeId g = s.guards()[0];
  // No success at all: the client is probably offline.
  CHECK(fail_until_dropped(s, g, t0_ms + 23 * 60 * minute_ms) == 0);
  CHECK(is_guard(s, g));
  const std::uint64_t dropped = fail_until_dropped(s, g, t0_ms + 25 * 60 * minute_ms);
  CHECK(dropped >= t0_ms + 24 * 60 * minute_ms);
  CHECK_FALSE(is_guard(s, g));
}

TEST_CASE("a failing guard stays when no never-failed node could replace it", "[paths]") {
  auto d = path_network(3, 3, 27);
  auto rng = seeded_random(27);
  PathSelector s({}, rng);
  s.set_directory(d);
  const NodeId g = s.guards()[0];
  s.report_success(s.guards()[1], t0_ms + 1);
  CHECK(fail_until_dropped(s, g, t0_ms + 48 * 60 * minute_ms) == 0);
  CHECK(s.guards().size() == 3);
}

namespace {

// Fails each of `nodes` at `now_ms`, in order.
void fail_all(PathSelector& s, std::span<const NodeId> nodes, std::uint64_t now_ms) {
  for (const NodeId& n : nodes)
    s.report_failure(n, now_ms);
}

// The nodes that are no guard: destinations that never displace a first hop.
std::vector<NodeId> non_guards(const PathSelector& s, const Directory& d) {
  std::vector<NodeId> out;
  for (const DirectoryEntry& e : d.entries)
    if (!is_guard(s, e.node.id)) out.push_back(e.node.id);
  return out;
}

}  // namespace

TEST_CASE("with every primary guard failing, paths start at the first backup that is not failing",
          "[paths]") {
  const GuardUse use = GENERATE(GuardUse::random, GuardUse::first_usable);
  auto d = path_network(20, 20, 50);
  auto rng = seeded_random(50);
  PathConfig cfg;
  cfg.guard_use = use;
  PathSelector s(cfg, rng);
  s.set_directory(d);
  const auto guards = s.guards();
  REQUIRE(guards.size() == 6);
  fail_all(s, s.primary_guards(), t0_ms);
  s.report_failure(guards[3], t0_ms);  // the first backup fails too

  for (const NodeId& dest : non_guards(s, *d)) {
    auto p = s.path_to_node(dest, t0_ms + 1);
    REQUIRE(p.ok());
    CHECK(p->relays[0] == guards[4]);
    CHECK(p->guard_first);
    CHECK_FALSE(p->fallback);
    CHECK(p->diverse);
  }
  // When that backup is the destination, the next one is the first hop.
  auto p = s.path_to_node(guards[4], t0_ms + 1);
  REQUIRE(p.ok());
  CHECK(p->relays[0] == guards[5]);

  const std::uint64_t paths = s.stats().paths;
  CHECK(s.stats().backup_guard_first_hops == paths);
  CHECK(s.stats().fallback_paths == 0);
  CHECK(s.stats().non_guard_first_hops == 0);
  CHECK(s.stats().first_hop_use.size() == 2);
}

TEST_CASE("with one primary guard working, backup guards are never first hops", "[paths]") {
  auto d = path_network(20, 20, 51);
  auto rng = seeded_random(51);
  PathSelector s({}, rng);
  s.set_directory(d);
  const auto guards = s.guards();
  s.report_failure(guards[0], t0_ms);
  s.report_failure(guards[2], t0_ms);
  for (int i = 0; i < 500; ++i) {
    const SwarmId swarm = d->entries[static_cast<std::size_t>(i) % 20].swarm;
    auto p = s.path_to_swarm(swarm, t0_ms + 1);
    REQUIRE(p.ok());
    // Unless the working primary guard is the destination itself: then no
    // primary guard is left for this path, and a backup takes its place.
    CHECK(p->relays[0] == (p->destination == guards[1] ? guards[3] : guards[1]));
  }
  for (const NodeId& dest : non_guards(s, *d))
    for (int i = 0; i < 20; ++i) {
      auto p = s.path_to_node(dest, t0_ms + 1);
      REQUIRE(p.ok());
      CHECK(p->relays[0] == guards[1]);
    }
  const auto& use = s.stats().first_hop_use;
  CHECK(use.count(guards[4]) == 0);
  CHECK(use.count(guards[5]) == 0);
  CHECK(s.stats().backup_guard_first_hops == (use.count(guards[3]) ? use.at(guards[3]) : 0));
}

TEST_CASE("a primary guard is a first hop again as soon as its backoff ends or it succeeds",
          "[paths]") {
  auto d = path_network(20, 20, 52);
  auto rng = seeded_random(52);
  PathSelector s({}, rng);
  s.set_directory(d);
  const auto guards = s.guards();
  const NodeId dest = non_guards(s, *d).front();
  fail_all(s, s.primary_guards(), t0_ms);
  auto first_hop = [&](std::uint64_t now) {
    auto p = s.path_to_node(dest, now);
    REQUIRE(p.ok());
    return p->relays[0];
  };
  CHECK(first_hop(t0_ms + 29'999) == guards[3]);
  // Backoff ends: every primary guard is a candidate again, no backup is.
  for (int i = 0; i < 50; ++i)
    CHECK(is_primary(s, first_hop(t0_ms + 30'000)));

  // All three fail again (one minute); one of them answers a request.
  fail_all(s, s.primary_guards(), t0_ms + 30'000);
  CHECK(first_hop(t0_ms + 30'001) == guards[3]);
  s.report_success(guards[2], t0_ms + 30'002);
  for (int i = 0; i < 50; ++i)
    CHECK(first_hop(t0_ms + 30'003) == guards[2]);
}

TEST_CASE("when every guard is failing, the first hop is the least recently failed primary",
          "[paths]") {
  auto d = path_network(20, 20, 53);
  auto rng = seeded_random(53);
  PathSelector s({}, rng);
  s.set_directory(d);
  const auto guards = s.guards();
  // The backups failed first, so they are the least recently failed guards,
  // but the client keeps its address to its primary guards: the fallback is
  // the primary guard that failed longest ago.
  fail_all(s, s.backup_guards(), t0_ms);
  s.report_failure(guards[1], t0_ms + 10);
  s.report_failure(guards[0], t0_ms + 20);
  s.report_failure(guards[2], t0_ms + 30);
  for (const NodeId& dest : non_guards(s, *d)) {
    auto p = s.path_to_node(dest, t0_ms + 100);
    REQUIRE(p.ok());
    CHECK(p->relays[0] == guards[1]);
    CHECK(p->fallback);
    CHECK(p->guard_first);
  }
  CHECK(s.stats().backup_guard_first_hops == 0);
  // A backup whose backoff ended is the first hop again until a primary's does.
  CHECK(s.path_to_node(non_guards(s, *d).front(), t0_ms + 30'000)->relays[0] == guards[3]);
}

TEST_CASE("without a usable primary guard the first hop is a backup, not any node", "[paths]") {
  auto d = path_network(20, 20, 54);
  SECTION("backup guards") {
    auto rng = seeded_random(54);
    PathConfig cfg;
    cfg.guard_count = 1;
    PathSelector s(cfg, rng);
    s.set_directory(d);
    REQUIRE(s.guards().size() == 4);
    // The one primary guard is the destination.
    auto p = s.path_to_node(s.guards()[0], t0_ms);
    REQUIRE(p.ok());
    CHECK(p->relays[0] == s.guards()[1]);
    CHECK(p->guard_first);
    CHECK(s.stats().backup_guard_first_hops == 1);
    CHECK(s.stats().non_guard_first_hops == 0);
  }
  SECTION("no backup guards: any node, as before") {
    auto rng = seeded_random(54);
    PathConfig cfg;
    cfg.guard_count = 1;
    cfg.backup_guards = 0;
    PathSelector s(cfg, rng);
    s.set_directory(d);
    REQUIRE(s.guards().size() == 1);
    auto p = s.path_to_node(s.guards()[0], t0_ms);
    REQUIRE(p.ok());
    CHECK_FALSE(p->guard_first);
    CHECK(s.stats().non_guard_first_hops == 1);
    CHECK(s.stats().backup_guard_first_hops == 0);
  }
}

TEST_CASE("with backup_guards = 0 a client falls back among its primary guards", "[paths]") {
  auto d = path_network(20, 20, 55);
  auto rng = seeded_random(55);
  PathConfig cfg;
  cfg.backup_guards = 0;
  PathSelector s(cfg, rng);
  s.set_directory(d);
  const auto guards = s.guards();
  REQUIRE(guards.size() == 3);
  CHECK(s.backup_guards().empty());
  s.report_failure(guards[2], t0_ms);
  s.report_failure(guards[0], t0_ms + 10);
  s.report_failure(guards[1], t0_ms + 20);
  for (const NodeId& dest : non_guards(s, *d)) {
    auto p = s.path_to_node(dest, t0_ms + 100);
    REQUIRE(p.ok());
    CHECK(p->relays[0] == guards[2]);
    CHECK(p->fallback);
  }
  CHECK(s.stats().fallback_paths == s.stats().paths);
  CHECK(s.stats().backup_guard_first_hops == 0);
}
