// Closed groups (client/group.hpp) with real keys, members exchanging their
// controls in memory (tests/support/group_net.hpp): membership converges,
// removed members open nothing new, new members nothing old, concurrent
// admins end on one membership, an offline member catches up, sender keys
// rotate on removals only, and the state survives encode/decode.
#include <catch2/catch.hpp>

#include <set>

#include "tests/support/group_net.hpp"

using namespace nightjar;
using namespace nightjar::client;
using namespace nightjar::client::group;
using nightjar::test::GroupNet;

namespace {

std::multiset<std::string> bag(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// Every person holding the group agrees on its head.
void check_converged(GroupNet& net, const std::vector<std::size_t>& who) {
  const EpochState& first = net.group(who.front()).head();
  for (std::size_t i : who) {
    INFO("person " << i);
    CHECK(net.group(i).head().hash == first.hash);
    CHECK(net.group(i).head().members == first.members);
    CHECK(net.group(i).name() == first.name);
  }
}

}  // namespace

TEST_CASE("group: create, add, every member opens every message once", "[group]") {
  GroupNet net(4);
  net.create(0, "climbers");
  REQUIRE(net.add(0, {1, 2, 3}).ok());
  net.deliver_all();
  for (std::size_t i = 1; i < 4; ++i) REQUIRE(net.persons[i].group);
  check_converged(net, {0, 1, 2, 3});
  CHECK(net.group(0).head().members.size() == 4);
  CHECK(net.group(2).name() == "climbers");
  CHECK(net.group(2).admin() == false);
  CHECK(net.group(0).admin());

  net.send(0, "from 0");
  net.send(1, "from 1");
  net.send(3, "from 3");
  net.read_all();
  net.read_all();  // reading again opens nothing twice
  CHECK(bag(net.texts(0)) == bag({"from 1", "from 3"}));
  CHECK(bag(net.texts(1)) == bag({"from 0", "from 3"}));
  CHECK(bag(net.texts(2)) == bag({"from 0", "from 1", "from 3"}));
  CHECK(net.open_failures == 0);
  // Every person has one chain from each of the others.
  CHECK(net.group(2).sender_keys_held() == 3);
}

TEST_CASE("group: a removed member opens nothing sent after, the others carry on", "[group]") {
  GroupNet net(4);
  net.create(0, "g");
  REQUIRE(net.add(0, {1, 2, 3}).ok());
  net.deliver_all();
  net.send(1, "before");
  net.read_all();
  const auto old_mailbox = *net.group(1).head_mailbox();
  const std::uint32_t generation = net.group(1).generation();

  REQUIRE(net.remove(0, 3).ok());
  net.deliver_all();
  CHECK_FALSE(net.group(3).member());
  CHECK(net.persons[3].events.back().kind == GroupEvent::Kind::you_were_removed);
  check_converged(net, {0, 1, 2});
  // Everyone rotated their chain; the mailbox moved.
  CHECK(net.group(1).generation() == generation + 1);
  CHECK(*net.group(1).head_mailbox() != old_mailbox);

  net.send(1, "after");
  net.send(2, "after too");
  net.read_all();
  CHECK(bag(net.texts(3)) == bag({"before"}));
  CHECK(bag(net.texts(0)) == bag({"before", "after", "after too"}));

  // Even handed the new envelopes, the removed member cannot open them: it
  // has neither the mailbox's epoch nor the new chains.
  for (const auto& env : net.mailboxes[*net.group(1).head_mailbox()]) {
    auto r = net.group(3).open(*net.group(1).head_mailbox(), env, net.now);
    CHECK(r.status == OpenStatus::unknown_mailbox);
  }
  CHECK(net.group(3).mailboxes(net.now + Group::grace_ms).empty());
  CHECK_FALSE(net.group(3).seal(v2::Content{}, 440, net.rng).ok());
}

TEST_CASE("group: a new member opens nothing sent before it joined", "[group]") {
  GroupNet net(3);
  net.create(0, "g");
  REQUIRE(net.add(0, {1}).ok());
  net.deliver_all();
  net.send(0, "old");
  net.send(1, "old too");
  net.read_all();
  REQUIRE(net.add(0, {2}).ok());
  net.deliver_all();
  // Neither mailbox nor chain positions reach back.
  const auto& mailboxes = net.group(2).mailboxes(net.now);
  REQUIRE(mailboxes.size() == 1);
  net.send(1, "new");
  net.read_all();
  CHECK(bag(net.texts(2)) == bag({"new"}));
  CHECK(bag(net.texts(0)) == bag({"old too", "new"}));
}

TEST_CASE("group: two admins changing it at once end with the same membership", "[group]") {
  for (const bool reverse : {false, true}) {
    GroupNet net(7);
    net.create(0, "g");
    REQUIRE(net.add(0, {1}, Role::admin).ok());
    REQUIRE(net.add(0, {2, 3, 4}).ok());
    net.deliver_all();
    check_converged(net, {0, 1, 2, 3, 4});
    // Both commit on the same epoch without seeing each other's.
    REQUIRE(net.add(0, {5}).ok());
    REQUIRE(net.remove(1, 4).ok());
    REQUIRE(net.change(1, {{ChangeType::add, net.account(6), Role::member, {}},
                           {ChangeType::rename, {}, Role::member, "renamed"}})
                .ok());
    net.deliver_all({}, reverse);
    const std::vector<std::size_t> members{0, 1, 2, 3, 5, 6};
    check_converged(net, members);
    const auto& m = net.group(0).head().members;
    CHECK(m.size() == 6);
    CHECK(net.group(0).head().find(net.account(4)) == nullptr);
    CHECK(net.group(2).name() == "renamed");
    CHECK_FALSE(net.group(4).member());
    // And they can all talk.
    for (std::size_t i : members) net.send(i, "hi from " + std::to_string(i));
    net.read_all();
    for (std::size_t i : members) {
      INFO("person " << i << (reverse ? " (reverse order)" : ""));
      CHECK(net.texts(i).size() == members.size() - 1);
    }
    CHECK(net.texts(4).empty());
  }
}

TEST_CASE("group: a member offline during three changes catches up", "[group]") {
  GroupNet net(6);
  net.create(0, "g");
  REQUIRE(net.add(0, {1, 2, 3}).ok());
  net.deliver_all();
  // Person 2 is offline: nothing reaches it for a while.
  net.send(1, "epoch 1");
  REQUIRE(net.add(0, {4}).ok());
  net.deliver_all({2});
  net.send(4, "epoch 2");
  REQUIRE(net.remove(0, 3).ok());
  net.deliver_all({2});
  net.send(1, "epoch 3");
  REQUIRE(net.change(0, {{ChangeType::rename, {}, Role::member, "later"}}).ok());
  net.deliver_all({2});
  net.send(0, "epoch 4");
  net.read_all();
  // Back online: controls arrive newest first, then it polls.
  net.deliver_all({}, true);
  net.read_all();
  check_converged(net, {0, 1, 2, 4});
  CHECK(net.group(2).name() == "later");
  CHECK(bag(net.texts(2)) == bag({"epoch 1", "epoch 2", "epoch 3", "epoch 4"}));
}

TEST_CASE("group: leave, then be added again", "[group]") {
  GroupNet net(3);
  net.create(0, "g");
  REQUIRE(net.add(0, {1, 2}).ok());
  net.deliver_all();
  REQUIRE(net.leave(2).ok());
  CHECK_FALSE(net.group(2).member());
  net.deliver_all();  // the admin removes it
  CHECK(net.group(0).head().find(net.account(2)) == nullptr);
  check_converged(net, {0, 1});
  net.send(1, "while away");
  net.read_all();
  CHECK(net.texts(2).empty());

  REQUIRE(net.add(0, {2}).ok());
  net.deliver_all();
  CHECK(net.group(2).member());
  check_converged(net, {0, 1, 2});
  net.send(1, "welcome back");
  net.read_all();
  CHECK(bag(net.texts(2)) == bag({"welcome back"}));
}

TEST_CASE("group: bad changes are refused with their reason", "[group]") {
  GroupNet net(3);
  net.create(0, "g");
  REQUIRE(net.add(0, {1}).ok());
  net.deliver_all();
  CHECK(net.add(1, {2}).error() == GroupError::not_admin);
  CHECK(net.add(0, {1}).error() == GroupError::already_member);
  CHECK(net.remove(0, 2).error() == GroupError::unknown_member);
  CHECK(net.remove(0, 0).error() == GroupError::cannot_remove_self);
  CHECK(net.change(0, {}).error() == GroupError::no_change);
  CHECK(net.change(0, {{ChangeType::rename, {}, Role::member, std::string(65, 'x')}}).error() ==
        GroupError::bad_name);
  CHECK(net.change(0, {{ChangeType::rename, {}, Role::member, "bell\a"}}).error() ==
        GroupError::bad_name);
  CHECK(net.leave(0).error() == GroupError::last_admin);
  CHECK(net.change(0, {{ChangeType::promote, net.account(1), Role::member, {}}}).ok());
  net.deliver_all();
  CHECK(net.group(1).admin());
  CHECK(net.leave(0).ok());
  CHECK(net.add(0, {2}).error() == GroupError::not_member);
  CHECK(to_string(GroupError::not_admin) == std::string("only an admin of the group can do that"));
  // A commit that is not an admin's is ignored by the others.
  Commit forged;
  forged.group = net.group(1).key();
  forged.parent_epoch = net.group(1).head().epoch;
  forged.parent_hash = net.group(1).head().hash;
  forged.committer = net.account(2);
  forged.changes = {{ChangeType::add, net.account(2), Role::admin, {}}};
  sign(forged, net.persons[2].identity.signing_key());
  CHECK(apply_commit(net.group(1).head(), net.group(1).key(), forged).error() ==
        GroupError::not_admin);
}

TEST_CASE("group: a message whose sender key comes later opens when it does", "[group]") {
  GroupNet net(3);
  net.create(0, "g");
  REQUIRE(net.add(0, {1, 2}).ok());
  // Person 2 gets its welcome, but 1's sender key is held back.
  net.deliver_all({2});
  std::deque<GroupNet::Delivery> for_two;
  for (auto& d : net.pending) for_two.push_back(std::move(d));
  net.pending.clear();
  for (auto& d : for_two)
    if (d.from == 0) net.deliver(d);
  net.send(1, "early");
  net.read(2);
  CHECK(net.texts(2).empty());
  for (auto& d : for_two)
    if (d.from == 1) net.deliver(d);
  net.deliver_all();
  CHECK(bag(net.texts(2)) == bag({"early"}));
}

TEST_CASE("group: messages out of order and replayed open exactly once", "[group]") {
  GroupNet net(2);
  net.create(0, "g");
  REQUIRE(net.add(0, {1}).ok());
  net.deliver_all();
  for (int i = 0; i < 20; ++i) net.send(0, "m" + std::to_string(i));
  auto& box = net.mailboxes[*net.group(0).head_mailbox()];
  std::reverse(box.begin(), box.end());
  box.push_back(box.front());  // a replica delivered twice
  net.read(1);
  CHECK(net.texts(1).size() == 20);
  CHECK(net.open_failures == 0);
}

TEST_CASE("group: the state survives encode and decode", "[group]") {
  GroupNet net(3);
  net.create(0, "g");
  REQUIRE(net.add(0, {1, 2}).ok());
  net.deliver_all();
  net.send(0, "one");
  net.send(0, "two");
  auto& box = net.mailboxes[*net.group(0).head_mailbox()];
  std::swap(box[0], box[1]);  // leaves a skipped key at person 1 after the first read
  net.read(1);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto bytes = net.group(i).encode();
    auto back = Group::decode(net.persons[i].identity, bytes);
    REQUIRE(back.ok());
    CHECK(back->encode() == bytes);
    net.persons[i].group.emplace(std::move(*back));
  }
  net.send(1, "three");
  REQUIRE(net.remove(0, 2).ok());
  net.deliver_all();
  net.send(0, "four");
  net.read_all();
  CHECK(bag(net.texts(1)) == bag({"one", "two", "four"}));
  CHECK(bag(net.texts(0)) == bag({"three"}));
  CHECK(bag(net.texts(2)) == bag({"one", "two", "three"}));

  auto bytes = net.group(0).encode();
  bytes.back() ^= 1;
  CHECK_FALSE(Group::decode(net.persons[0].identity, bytes).ok());
  bytes.pop_back();
  CHECK_FALSE(Group::decode(net.persons[0].identity, bytes).ok());
}

TEST_CASE("group: envelopes have the version 2 sizes and flat cost in the group's size",
          "[group]") {
  GroupNet net(2);
  net.create(0, "g");
  REQUIRE(net.add(0, {1}).ok());
  net.deliver_all();
  const auto sizes = v2::buckets(440);
  for (std::size_t len : {0u, 10u, 100u, 200u, 248u}) {
    net.send(0, std::string(len, 'x'));
    const auto& env = net.mailboxes[*net.group(0).head_mailbox()].back();
    CHECK(std::find(sizes.begin(), sizes.end(), env.size()) != sizes.end());
  }
  CHECK(capacity(440) == 440 - group::envelope_overhead);
  v2::Content big;
  big.body.assign(capacity(440) + 1, 'x');
  CHECK(net.group(0).seal(big, 440, net.rng).error() == SealError::body_too_large);
}

TEST_CASE("group: a welcome forged by a member (or a removed one) is not taken", "[group]") {
  GroupNet net(3);
  net.create(0, "g");
  REQUIRE(net.add(0, {1, 2}).ok());
  net.deliver_all();
  REQUIRE(net.remove(0, 2).ok());
  net.deliver_all();
  const Hash256 head = net.group(1).head().hash;
  // Person 2 writes a welcome to a later epoch naming itself admin.
  Welcome forged;
  forged.genesis = net.group(1).genesis();
  forged.epoch = net.group(1).head().epoch + 1;
  forged.epoch_hash = crypto::blake2b_256(as_bytes("forged"));
  forged.epoch_secret = SymmetricKey::from(forged.epoch_hash.view());
  forged.name = "mine now";
  forged.members = {{net.account(1), Role::member}, {net.account(2), Role::admin}};
  std::sort(forged.members.begin(), forged.members.end(),
            [](const Member& a, const Member& b) { return a.account < b.account; });
  std::vector<Control> controls;
  controls.emplace_back(std::move(forged));
  net.deliver(GroupNet::Delivery{2, 1, encode_controls(controls)});
  CHECK(net.group(1).head().hash == head);
  CHECK(net.group(1).name() == "g");
}
