// Closed groups between real clients on a loopback network (client/group.hpp,
// client/client_groups.cpp): controls go over 1:1 version 2 conversations,
// group messages are stored once in the epoch's mailbox (namespace 02) and
// every member polls it. Membership changes, removal, leaving and rejoining,
// and a member that was offline.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "tests/support/client_setup.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using nightjar::client::Client;
using nightjar::client::ClientOptions;
using nightjar::client::GroupChangeReport;
using nightjar::client::GroupKey;
using nightjar::client::ReceivedMessage;
namespace group = nightjar::client::group;

namespace {

struct Member {
  std::unique_ptr<Client> client;
  std::vector<ReceivedMessage> got;
  std::vector<group::GroupEvent> events;
  std::multiset<std::string> texts(const GroupKey& g) const {
    std::multiset<std::string> out;
    for (const auto& m : got)
      if (m.group && *m.group == g) out.emplace(m.text.begin(), m.text.end());
    return out;
  }
  std::optional<client::GroupInfo> info(const GroupKey& g) const {
    for (auto& i : client->groups())
      if (i.id == g) return i;
    return std::nullopt;
  }
};

struct Groups {
  TestLoop& loop;
  TestNetwork& net;
  std::vector<Member> people;

  Member& start(const std::string& name) {
    people.emplace_back();
    Member& m = people.back();
    m.client = start_client(loop, net.config(), net.dir() / name, name, [&m](ClientOptions& o) {
      o.on_group_event = [&m](const GroupKey&, const group::GroupEvent& e) { m.events.push_back(e); };
    });
    return m;
  }
  void subscribe_all() {
    for (auto& m : people) {
      Member* p = &m;
      m.client->subscribe([p](const ReceivedMessage& r) { p->got.push_back(r); });
    }
  }
  GroupKey create(Member& admin, const std::string& name) {
    std::optional<Result<GroupKey, std::string>> got;
    admin.client->create_group(name, [&](auto r) { got = std::move(r); });
    REQUIRE(loop.run_until([&] { return got.has_value(); }, std::chrono::seconds(5)));
    REQUIRE(got->ok());
    return got->value();
  }
  GroupChangeReport change(Member& admin, const GroupKey& g, std::vector<group::Change> changes) {
    std::optional<Result<GroupChangeReport, std::string>> got;
    admin.client->change_group(g, std::move(changes), [&](auto r) { got = std::move(r); });
    REQUIRE(loop.run_until([&] { return got.has_value(); }, std::chrono::seconds(120)));
    if (!got->ok()) FAIL("change failed: " << got->error());
    INFO("first problem: " << (got->value().problems.empty() ? "" : got->value().problems.front()));
    CHECK(got->value().queued == 0);
    return got->value();
  }
  GroupChangeReport add(Member& admin, const GroupKey& g, const std::vector<Member*>& who) {
    std::vector<group::Change> ch;
    for (Member* w : who)
      ch.push_back({group::ChangeType::add, w->client->identity().account(), group::Role::member, {}});
    return change(admin, g, std::move(ch));
  }
  void send(Member& from, const GroupKey& g, const std::string& text) {
    std::optional<Result<client::SendReceipt, client::SendFailure>> got;
    from.client->send_group(g, as_bytes(text), [&](auto r) { got = std::move(r); });
    REQUIRE(loop.run_until([&] { return got.has_value(); }, std::chrono::seconds(60)));
    if (!*got) FAIL("group send failed: " << got->error().detail);
    CHECK(got->value().forward_secret);
  }
  // Everyone in `who` holds the same membership as `ref`.
  bool converged(const GroupKey& g, const std::vector<Member*>& who) {
    const auto first = who.front()->info(g);
    if (!first) return false;
    const auto members = first->members;
    const auto epoch = first->epoch;
    for (Member* m : who) {
      const auto i = m->info(g);
      if (!i || !i->member || i->members != members || i->epoch != epoch) return false;
    }
    return true;
  }
};

}  // namespace

TEST_CASE("a group on a loopback network: members join, talk, one is removed, one leaves and "
          "comes back",
          "[integration][groups]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    Groups gs{loop, net, {}};
    gs.people.reserve(5);
    for (const char* name : {"ann", "ben", "cat", "dan", "eve"}) gs.start(name);
    for (auto& m : gs.people) wait_for_bundle_published(loop, *m.client);
    gs.subscribe_all();
    Member& ann = gs.people[0];
    Member& ben = gs.people[1];
    Member& cat = gs.people[2];
    Member& dan = gs.people[3];
    Member& eve = gs.people[4];
    const GroupKey g = gs.create(ann, "hikers");
    const auto report = gs.add(ann, g, {&ben, &cat, &dan});
    CHECK(report.delivered == 3);
    std::vector<Member*> all{&ann, &ben, &cat, &dan};
    REQUIRE(loop.run_until([&] { return gs.converged(g, all); }, std::chrono::seconds(30)));
    CHECK(ben.info(g)->name == "hikers");
    CHECK_FALSE(ben.info(g)->admin);
    CHECK(ann.info(g)->admin);
    CHECK_FALSE(eve.info(g).has_value());

    // Everyone gets the others' sender keys, then every message once.
    gs.send(ann, g, "from ann");
    gs.send(ben, g, "from ben");
    gs.send(dan, g, "from dan");
    REQUIRE(loop.run_until([&] { return cat.texts(g).size() == 3 && ann.texts(g).size() == 2 &&
                                        ben.texts(g).size() == 2 && dan.texts(g).size() == 2; },
                           std::chrono::seconds(30)));
    CHECK(cat.texts(g) == std::multiset<std::string>{"from ann", "from ben", "from dan"});
    for (const auto& m : cat.got) {
      REQUIRE(m.group.has_value());
      CHECK(*m.group == g);
    }
    CHECK(eve.got.empty());

    // Dan is removed: he opens nothing sent after; the others carry on.
    gs.change(ann, g, {{group::ChangeType::remove, dan.client->identity().account(), group::Role::member, {}}});
    std::vector<Member*> rest{&ann, &ben, &cat};
    REQUIRE(loop.run_until([&] { return gs.converged(g, rest); }, std::chrono::seconds(30)));
    REQUIRE(loop.run_until([&] { return dan.info(g) && !dan.info(g)->member; }, std::chrono::seconds(30)));
    CHECK(std::any_of(dan.events.begin(), dan.events.end(), [](const auto& e) {
      return e.kind == group::GroupEvent::Kind::you_were_removed;
    }));
    gs.send(ben, g, "after dan");
    REQUIRE(loop.run_until([&] { return cat.texts(g).count("after dan") == 1 && ann.texts(g).count("after dan") == 1; },
                           std::chrono::seconds(30)));
    loop.run_for(std::chrono::seconds(2));
    CHECK(dan.texts(g).count("after dan") == 0);

    // Cat leaves; an admin removes her; she is added again and reads what
    // is sent after, not what was sent while she was away.
    std::optional<Result<GroupChangeReport, std::string>> left;
    cat.client->leave_group(g, [&](auto r) { left = std::move(r); });
    REQUIRE(loop.run_until([&] { return left.has_value(); }, std::chrono::seconds(60)));
    REQUIRE(left->ok());
    std::vector<Member*> two{&ann, &ben};
    REQUIRE(loop.run_until([&] { return gs.converged(g, two) && ann.info(g)->members.size() == 2; },
                           std::chrono::seconds(30)));
    gs.send(ann, g, "while cat is away");
    REQUIRE(loop.run_until([&] { return ben.texts(g).count("while cat is away") == 1; }, std::chrono::seconds(30)));
    gs.add(ann, g, {&cat, &eve});
    std::vector<Member*> back{&ann, &ben, &cat, &eve};
    REQUIRE(loop.run_until([&] { return gs.converged(g, back); }, std::chrono::seconds(30)));
    gs.send(eve, g, "hello from eve");
    REQUIRE(loop.run_until([&] { return cat.texts(g).count("hello from eve") == 1 &&
                                        ann.texts(g).count("hello from eve") == 1 &&
                                        ben.texts(g).count("hello from eve") == 1; },
                           std::chrono::seconds(30)));
    CHECK(cat.texts(g).count("while cat is away") == 0);
    CHECK(eve.texts(g).count("after dan") == 0);
    for (auto& m : gs.people) m.client->stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a 100-member group on a loopback network: 20 members send, every member receives "
          "every message exactly once",
          "[integration][groups]") {
  constexpr std::size_t members = 100;
  constexpr std::size_t senders = 20;
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(10);
    REQUIRE(loop.run_until([&] { return net.agree_on(10); }, std::chrono::seconds(20)));
    Groups gs{loop, net, {}};
    gs.people.reserve(members);
    // Profiles in memory: a hundred clients' conversation files would make
    // the test about the disk.
    for (std::size_t i = 0; i < members; ++i) {
      gs.people.emplace_back();
      Member& m = gs.people.back();
      m.client = start_client(loop, net.config(), {}, "m" + std::to_string(i), [&m](ClientOptions& o) {
        o.on_group_event = [&m](const GroupKey&, const group::GroupEvent& e) { m.events.push_back(e); };
      });
    }
    for (auto& m : gs.people) wait_for_bundle_published(loop, *m.client);
    gs.subscribe_all();
    Member& admin = gs.people[0];
    const GroupKey g = gs.create(admin, "hundred");
    std::vector<Member*> all;
    for (auto& m : gs.people) all.push_back(&m);
    // 99 invitations: two commits (64 changes at most in one).
    gs.add(admin, g, std::vector<Member*>(all.begin() + 1, all.begin() + 65));
    gs.add(admin, g, std::vector<Member*>(all.begin() + 65, all.end()));
    REQUIRE(loop.run_until([&] { return gs.converged(g, all); }, std::chrono::seconds(120)));
    CHECK(admin.info(g)->members.size() == members);

    for (std::size_t s = 0; s < senders; ++s)
      gs.send(gs.people[s * (members / senders)], g, "message " + std::to_string(s));
    auto complete = [&] {
      for (std::size_t i = 0; i < members; ++i) {
        const bool is_sender = i % (members / senders) == 0;
        if (gs.people[i].texts(g).size() < senders - (is_sender ? 1 : 0)) return false;
      }
      return true;
    };
    const bool all_in = loop.run_until(complete, std::chrono::seconds(120));
    loop.run_for(std::chrono::seconds(1));  // time for a duplicate to show
    std::size_t short_of = 0, duplicates = 0;
    for (std::size_t i = 0; i < members; ++i) {
      const auto got = gs.people[i].texts(g);
      for (std::size_t s = 0; s < senders; ++s) {
        if (s * (members / senders) == i) continue;
        const auto n = got.count("message " + std::to_string(s));
        if (n == 0) ++short_of;
        if (n > 1) duplicates += n - 1;
      }
    }
    INFO(short_of << " messages missing, " << duplicates << " duplicates");
    CHECK(all_in);
    CHECK(short_of == 0);
    CHECK(duplicates == 0);
    for (auto& m : gs.people) m.client->stop();
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("two admins change a group at once and every member ends with the same list, and a member "
          "offline during three changes catches up",
          "[integration][groups]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(8);
    REQUIRE(loop.run_until([&] { return net.agree_on(8); }, std::chrono::seconds(15)));
    Groups gs{loop, net, {}};
    gs.people.reserve(7);
    for (const char* name : {"ann", "ben", "cat", "dan", "eve", "fay", "gus"}) gs.start(name);
    for (auto& m : gs.people) wait_for_bundle_published(loop, *m.client);
    Member& ann = gs.people[0];
    Member& ben = gs.people[1];
    Member& cat = gs.people[2];
    Member& dan = gs.people[3];
    Member& eve = gs.people[4];
    Member& fay = gs.people[5];
    Member& gus = gs.people[6];
    // Dan is offline (not polling) from the start of the changes to the end.
    for (Member* m : {&ann, &ben, &cat, &eve, &fay, &gus}) {
      m->client->subscribe([m](const ReceivedMessage& r) { m->got.push_back(r); });
    }
    const GroupKey g = gs.create(ann, "crew");
    gs.change(ann, g, {{group::ChangeType::add, ben.client->identity().account(), group::Role::admin, {}},
                       {group::ChangeType::add, cat.client->identity().account(), group::Role::member, {}},
                       {group::ChangeType::add, dan.client->identity().account(), group::Role::member, {}},
                       {group::ChangeType::add, eve.client->identity().account(), group::Role::member, {}}});
    // Dan takes the welcome once (and sends his key), then goes offline.
    bool passed = false;
    dan.client->receive([&](const ReceivedMessage& r) { dan.got.push_back(r); },
                        [&](Result<void, std::string> r) { passed = r.ok(); });
    REQUIRE(loop.run_until([&] { return passed; }, std::chrono::seconds(30)));
    std::vector<Member*> five{&ann, &ben, &cat, &dan, &eve};
    REQUIRE(loop.run_until([&] { return gs.converged(g, five); }, std::chrono::seconds(30)));
    gs.send(ben, g, "epoch 1");

    // Change 1 and 2, at once, by two admins: Ann adds Fay, Ben removes Eve
    // and renames the group. Neither has seen the other's.
    std::optional<Result<GroupChangeReport, std::string>> by_ann, by_ben;
    ann.client->change_group(g, {{group::ChangeType::add, fay.client->identity().account(), group::Role::member, {}}},
                             [&](auto r) { by_ann = std::move(r); });
    ben.client->change_group(g, {{group::ChangeType::remove, eve.client->identity().account(), group::Role::member, {}},
                                 {group::ChangeType::rename, {}, group::Role::member, "crew two"}},
                             [&](auto r) { by_ben = std::move(r); });
    REQUIRE(loop.run_until([&] { return by_ann && by_ben; }, std::chrono::seconds(60)));
    REQUIRE((by_ann->ok() && by_ben->ok()));
    std::vector<Member*> online{&ann, &ben, &cat, &fay};
    auto settled = [&] {
      if (!gs.converged(g, online)) return false;
      const auto i = ann.info(g);
      return i->members.size() == 5 && i->name == "crew two";
    };
    REQUIRE(loop.run_until(settled, std::chrono::seconds(60)));
    CHECK(ann.info(g)->members == fay.info(g)->members);
    gs.send(cat, g, "after the two changes");
    // Change 3: Gus joins.
    gs.change(ann, g, {{group::ChangeType::add, gus.client->identity().account(), group::Role::member, {}}});
    online.push_back(&gus);
    REQUIRE(loop.run_until([&] { return gs.converged(g, online); }, std::chrono::seconds(60)));
    gs.send(gus, g, "gus is here");
    REQUIRE(loop.run_until([&] { return ann.texts(g).count("gus is here") == 1; }, std::chrono::seconds(30)));
    CHECK(eve.texts(g).count("after the two changes") == 0);

    // Dan comes back: he takes the three changes and reads what was sent
    // to him while he was a member.
    dan.client->subscribe([&](const ReceivedMessage& r) { dan.got.push_back(r); });
    std::vector<Member*> everyone{&ann, &ben, &cat, &dan, &fay, &gus};
    REQUIRE(loop.run_until([&] { return gs.converged(g, everyone); }, std::chrono::seconds(60)));
    REQUIRE(loop.run_until([&] { return dan.texts(g).size() == 3; }, std::chrono::seconds(60)));
    CHECK(dan.texts(g) == std::multiset<std::string>{"epoch 1", "after the two changes", "gus is here"});
    CHECK(dan.info(g)->name == "crew two");
    for (auto& m : gs.people) m.client->stop();
  }
  CHECK(loop.drain_and_close());
}
