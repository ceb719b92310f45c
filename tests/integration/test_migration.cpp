// Migration when the directory moves under it: the Replicator of one node,
// on a real RocksDB store, with a transport that only records frames, so the
// test decides when (and what) the other swarm acknowledges.
//
// Under repeated kills the directory changes every epoch and a recipient can
// move away and back while a migration's pushes are out. A migration that
// then dropped all of the recipient's messages lost the ones this node had
// taken meanwhile (the long swarm-kills run: 7 acknowledged messages gone
// from every node).
#include <catch2/catch.hpp>

#include <random>

#include "swarm/replication.hpp"
#include "swarm/swarm_ring.hpp"
#include "tests/integration/store_test_util.hpp"
#include "tests/support/directory_samples.hpp"
#include "tests/support/log_capture.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace nightjar::replication;

namespace {

constexpr std::uint64_t t0 = 1'700'000'000'000;
constexpr std::uint64_t hour = 3'600'000;

struct RecordingTransport : ReplicationTransport {
  std::vector<std::pair<NodeId, std::vector<std::uint8_t>>> sent;
  bool send(const NodeId& peer, Bytes frame) override {
    sent.emplace_back(peer, std::vector<std::uint8_t>(frame.begin(), frame.end()));
    return true;
  }
};

NodeId node_id(std::mt19937_64& rng) {
  NodeId id;
  for (auto& b : id.bytes)
    b = static_cast<std::uint8_t>(rng());
  return id;
}

// A directory of the given nodes, each in the given swarm.
std::shared_ptr<const Directory> directory(std::uint64_t epoch,
                                           const std::vector<std::pair<NodeId, SwarmId>>& nodes) {
  std::mt19937_64 rng(epoch);
  Directory d = make_directory(0);
  d.epoch = epoch;
  for (const auto& [id, swarm] : nodes) {
    NodeDescriptor desc = random_descriptor(rng);
    desc.id = id;
    d.entries.push_back({desc, swarm});
  }
  d.sort_entries();
  return std::make_shared<const Directory>(std::move(d));
}

struct Harness {
  TempDir dir;
  std::unique_ptr<MessageStore> store;
  RecordingTransport net;
  std::uint64_t now = t0;
  std::unique_ptr<Replicator> replicator;
  std::mt19937_64 rng{7};
  NodeId self = node_id(rng), peer = node_id(rng);
  std::vector<NodeId> others = {node_id(rng), node_id(rng), node_id(rng)};
  Ed25519PublicKey recipient = test_recipient(1);
  // The recipient's ring position is its nearest swarm ID: `there` holds it
  // whenever it is listed; `here` (this node's swarm) is opposite on the ring.
  SwarmId there = ring_position(recipient);
  SwarmId here = there + (std::uint64_t{1} << 63);

  Harness() {
    StoreOptions o;
    o.sync = false;
    o.log = capture_logger("store");
    store = *MessageStore::open(dir.path() / "messages", o);
    ReplicationConfig c;
    c.clock = [this] { return now; };
    c.log = capture_logger("replicator");
    replicator = std::make_unique<Replicator>(*store, net, self, c);
  }
  // This node and its peer in `here`; the three others in `there` (when
  // listed): the recipient belongs to `there`, or to `here` without it.
  std::shared_ptr<const Directory> with_other_swarm(std::uint64_t epoch) const {
    return directory(epoch, {{self, here}, {peer, here}, {others[0], there}, {others[1], there},
                             {others[2], there}});
  }
  std::shared_ptr<const Directory> without_other_swarm(std::uint64_t epoch) const {
    return directory(epoch, {{self, here}, {peer, here}});
  }
  StoredMessage put(std::uint64_t at) {
    auto m = random_message(rng, recipient, at, at + hour);
    REQUIRE(store->put(m, at).ok());
    return m;
  }
  // The pushes sent so far to the other swarm's members, by request ID.
  std::vector<std::pair<NodeId, std::uint64_t>> migration_pushes() const {
    std::vector<std::pair<NodeId, std::uint64_t>> out;
    for (const auto& [to, frame] : net.sent) {
      if (std::find(others.begin(), others.end(), to) == others.end()) continue;
      if (auto p = decode_push(frame)) out.emplace_back(to, p->request_id);
    }
    return out;
  }
  void acknowledge_all() {
    for (const auto& [from, rid] : migration_pushes())
      replicator->handle_frame(from, encode(PushAck{rid, AckStatus::stored}), [](Bytes) {});
  }
  std::size_t held() const { return store->all_of(recipient, 1000, now).size(); }
};

}  // namespace

TEST_CASE("a migration acknowledged by the new swarm drops the messages it moved", "[replication]") {
  Harness h;
  h.put(t0);
  h.put(t0 + 1);
  h.replicator->set_directory(h.with_other_swarm(1));
  h.replicator->tick();  // the scan starts the migration
  REQUIRE(h.migration_pushes().size() == 6);  // 2 messages x 3 members
  h.acknowledge_all();
  CHECK(h.held() == 0);
  CHECK(h.replicator->stats().migrated_messages == 2);
}

TEST_CASE("a recipient that comes back during its migration keeps what arrived meanwhile",
          "[replication]") {
  Harness h;
  h.put(t0);
  h.replicator->set_directory(h.with_other_swarm(1));
  h.replicator->tick();
  REQUIRE(h.migration_pushes().size() == 3);

  // The other swarm leaves the directory: the recipient is this swarm's
  // again, and a client stores a new message here.
  h.replicator->set_directory(h.without_other_swarm(2));
  h.now += 100;
  h.put(h.now);
  REQUIRE(h.held() == 2);

  // The old migration's acknowledgements arrive: nothing may be dropped.
  h.acknowledge_all();
  CHECK(h.held() == 2);
  CHECK(h.replicator->stats().migrated_messages == 0);
}

TEST_CASE("a migration drops only what was pushed, and a later scan moves the rest",
          "[replication]") {
  Harness h;
  const auto first = h.put(t0);
  h.replicator->set_directory(h.with_other_swarm(1));
  h.replicator->tick();
  REQUIRE(h.migration_pushes().size() == 3);

  // Away and back within the migration: a message taken while the recipient
  // was this swarm's, then the other swarm is listed again.
  h.replicator->set_directory(h.without_other_swarm(2));
  h.now += 100;
  const auto second = h.put(h.now);
  h.replicator->set_directory(h.with_other_swarm(3));

  h.acknowledge_all();  // acknowledges `first` only
  auto left = h.store->all_of(h.recipient, 10, h.now);
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == second.id);
  CHECK_FALSE(h.store->contains(first.id));

  // The rescan pushes `second`; once acknowledged, nothing is left.
  h.net.sent.clear();
  for (int i = 0; i < 100 && h.migration_pushes().empty(); ++i) {
    h.now += 100;
    h.replicator->tick();
  }
  REQUIRE(h.migration_pushes().size() == 3);
  h.acknowledge_all();
  CHECK(h.held() == 0);
}
