// The storage API and replication on a real network on loopback: one
// authority and service nodes in one process, requests through real onion
// paths, real RocksDB stores in temporary directories. Epochs are 1 s and
// anti-entropy runs every 0.5 s; every wait is bounded.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "tests/support/log_capture.hpp"
#include "tests/support/storage_client.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using storage::Status;

namespace {

NetworkParams one_swarm_of_five() {
  NetworkParams p = TestNetwork::small_params();
  p.swarm = SwarmSizes{5, 5, 9};  // 5..9 nodes form a single swarm
  p.ttl_min_seconds = 1;
  p.recipient_quota_messages = 5000;
  return p;
}

std::vector<std::uint8_t> body_of(int i) {
  std::string s = "message body number " + std::to_string(i);
  return {s.begin(), s.end()};
}

// Runs until every running node holds exactly `count` messages.
bool all_hold(TestLoop& loop, TestNetwork& net, std::uint64_t count,
              std::chrono::seconds limit = std::chrono::seconds(30)) {
  return loop.run_until(
      [&] {
        for (auto& n : net.nodes())
          if (n && n->store()->message_count() != count) return false;
        return true;
      },
      limit);
}

struct Started {
  TestLoop& loop;
  TestNetwork net;
  StorageClient client;
  Started(TestLoop& l, std::size_t nodes, NetworkParams params = one_swarm_of_five())
      : loop(l), net(l, params), client(l, (net.start_authorities(1), net.config())) {
    net.add_nodes(nodes);
    REQUIRE(loop.run_until([&] { return net.agree_on(nodes); }, std::chrono::seconds(15)));
    client.set_directory(net.nodes()[0]->directory().current());
  }
};

}  // namespace

TEST_CASE("every member of a 5-member swarm lists the same messages, and a floor means the same on each",
          "[storage]") {
  TestLoop loop;
  {
    Started s(loop, 5);
    const auto account = crypto::ed25519_generate();
    for (int i = 0; i < 40; ++i) {
      auto r = s.client.store(s.net.nodes()[0]->id(), account.pub, body_of(i));
      REQUIRE(r.ok());
      REQUIRE(r->status == Status::ok);
      CHECK(std::get<storage::StoreResult>(r->body).replicas >= 3);
    }
    REQUIRE(all_hold(loop, s.net, 40));

    // Page through every member (by its arrival cursor) with pages of 7:
    // the same messages everywhere, with the same timestamps, though each
    // member lists them in the order they arrived there.
    std::vector<std::vector<Cursor>> sequences;
    for (auto& n : s.net.nodes()) {
      auto all = s.client.retrieve_all(n->id(), account, 7);
      std::vector<Cursor> seq;
      for (const auto& m : all) seq.push_back(cursor_of(m));
      std::sort(seq.begin(), seq.end());
      sequences.push_back(seq);
    }
    REQUIRE(sequences[0].size() == 40);
    for (const auto& seq : sequences) CHECK(seq == sequences[0]);

    // A floor from one member means the same on another: the 20 messages
    // stamped after the 20th.
    const Cursor middle = sequences[0][19];
    const std::vector<Cursor> after_middle(sequences[0].begin() + 20, sequences[0].end());
    for (auto& n : s.net.nodes()) {
      auto r = s.client.retrieve(n->id(), account, middle, 100);
      REQUIRE(r.ok());
      std::vector<Cursor> got;
      for (const auto& m : std::get<storage::RetrieveResult>(r->body).messages)
        got.push_back(cursor_of(m));
      std::sort(got.begin(), got.end());
      CHECK(got == after_middle);
    }
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a member stopped while 1,000 messages are stored catches up after restart",
          "[storage]") {
  TestLoop loop;
  {
    Started s(loop, 5);
    const auto account = crypto::ed25519_generate();
    s.net.stop_node(4);
    // 1,000 stores through member 0, 50 in flight at a time.
    int sent = 0, answered = 0, ok = 0;
    while (answered < 1000) {
      while (sent < 1000 && sent - answered < 50) {
        storage::StoreRequest r;
        r.recipient = account.pub;
        r.ttl_seconds = 600;
        r.body = body_of(sent++);
        // Relays among the running members (node 4 is stopped).
        std::vector<NodeId> relays = {s.net.nodes()[1]->id(), s.net.nodes()[2]->id(),
                                      s.net.nodes()[3]->id()};
        const NodeId dest = s.net.nodes()[0]->id();
        s.client.onion().send(relays, dest, storage::encode(r), [&](auto res) {
          ++answered;
          if (!res) {
            std::cerr << "request failed: " << to_string(res.error().error) << "\n";
            return;
          }
          auto resp = storage::decode_response(storage::Method::store, *res);
          if (resp && resp->status == Status::ok) ++ok;
          else if (resp) std::cerr << "store answered " << storage::to_string(resp->status) << "\n";
        });
      }
      REQUIRE(loop.run_until(
          [&] { return answered == 1000 || (sent < 1000 && sent - answered < 50); },
          std::chrono::seconds(30)));
    }
    CHECK(ok == 1000);
    REQUIRE(all_hold(loop, s.net, 1000));

    const auto restarted = std::chrono::steady_clock::now();
    s.net.restart_node(4);
    REQUIRE(all_hold(loop, s.net, 1000, std::chrono::seconds(60)));
    const double catch_up_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count();
    // Reported, not judged: timing belongs in benchmarks.
    WARN("restarted member caught up with 1,000 messages in " << catch_up_s << " s");
    auto all = s.client.retrieve_all(s.net.nodes()[4]->id(), account, 200);
    CHECK(all.size() == 1000);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a swarm partitioned 3/2 with stores on both sides converges after healing",
          "[storage]") {
  TestLoop loop;
  {
    // Members 1-3 and 4-5 cannot replicate to each other until healed.
    auto partitioned = std::make_shared<bool>(true);
    auto side = std::make_shared<std::map<NodeId, int>>();
    TestNetwork* netp = nullptr;
    NetworkParams params = one_swarm_of_five();
    TestLoop& l = loop;
    TestNetwork net(l, params);
    netp = &net;
    net.customize = [partitioned, side](const std::string& name, NodeOptions& o) {
      const int my_side = (name == "node4" || name == "node5") ? 2 : 1;
      auto self_id = std::make_shared<std::optional<NodeId>>();
      o.replication_filter = [partitioned, side, my_side](const NodeId& peer) {
        if (!*partitioned) return true;
        auto it = side->find(peer);
        return it == side->end() || it->second == my_side;
      };
    };
    net.start_authorities(1);
    net.add_nodes(5);
    REQUIRE(loop.run_until([&] { return net.agree_on(5); }, std::chrono::seconds(15)));
    for (std::size_t i = 0; i < 5; ++i) (*side)[net.nodes()[i]->id()] = i < 3 ? 1 : 2;
    (void)netp;
    StorageClient client(loop, net.config());
    client.set_directory(net.nodes()[0]->directory().current());

    const auto account = crypto::ed25519_generate();
    int majority_ok = 0, minority_short = 0;
    for (int i = 0; i < 20; ++i) {
      auto a = client.store(net.nodes()[0]->id(), account.pub, body_of(i));
      REQUIRE(a.ok());
      if (a->status == Status::ok) ++majority_ok;
      auto b = client.store(net.nodes()[3]->id(), account.pub, body_of(100 + i));
      REQUIRE(b.ok());
      if (b->status == Status::quorum_failed) ++minority_short;
    }
    // The side of 3 reaches the quorum of 3; the side of 2 cannot.
    CHECK(majority_ok == 20);
    CHECK(minority_short == 20);
    loop.run_for(std::chrono::milliseconds(1500));
    CHECK(net.nodes()[0]->store()->message_count() == 20);
    CHECK(net.nodes()[3]->store()->message_count() == 20);

    *partitioned = false;
    REQUIRE(all_hold(loop, net, 40));
    auto a = client.retrieve_all(net.nodes()[1]->id(), account);
    auto b = client.retrieve_all(net.nodes()[4]->id(), account);
    CHECK(a.size() == 40);
    CHECK(b.size() == 40);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a joining member receives everything, and a swarm split moves messages away",
          "[storage]") {
  TestLoop loop;
  {
    Started s(loop, 5);
    // Messages for 40 recipients, 3 each.
    std::vector<Ed25519KeyPair> accounts;
    for (int a = 0; a < 40; ++a) {
      accounts.push_back(crypto::ed25519_generate());
      for (int i = 0; i < 3; ++i) {
        auto r = s.client.store(s.net.nodes()[static_cast<std::size_t>(a % 5)]->id(), accounts.back().pub,
                                body_of(a * 10 + i));
        REQUIRE(r.ok());
        REQUIRE(r->status == Status::ok);
      }
    }
    REQUIRE(all_hold(loop, s.net, 120));

    // A sixth node joins the (single) swarm and receives all 120.
    s.net.add_nodes(1);
    REQUIRE(loop.run_until([&] { return s.net.agree_on(6); }, std::chrono::seconds(15)));
    REQUIRE(all_hold(loop, s.net, 120));

    // Growing to 10 nodes splits the ring into two swarms: each recipient's
    // messages end up on exactly the members of its swarm.
    s.net.add_nodes(4);
    REQUIRE(loop.run_until([&] { return s.net.agree_on(10); }, std::chrono::seconds(15)));
    auto dir = s.net.nodes()[0]->directory().current();
    REQUIRE(dir->swarms().size() == 2);
    const bool placed = loop.run_until(
        [&] {
          auto d = s.net.nodes()[0]->directory().current();
          for (const auto& acct : accounts) {
            const SwarmId home = *d->swarm_for(acct.pub);
            for (auto& n : s.net.nodes()) {
              const bool member = d->find(n->id())->swarm == home;
              const auto held = n->store()->all_of(acct.pub, 10, static_cast<std::uint64_t>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count()));
              if (held.size() != (member ? 3u : 0u)) return false;
            }
          }
          return true;
        },
        std::chrono::seconds(60));
    CHECK(placed);
    std::uint64_t migrated = 0;
    for (auto& n : s.net.nodes()) migrated += n->replicator()->stats().migrated_messages;
    CHECK(migrated > 0);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("limits, bad signatures, stale timestamps and wrong swarms get their errors",
          "[storage]") {
  TestLoop loop;
  {
    NetworkParams p = one_swarm_of_five();
    p.swarm = SwarmSizes{2, 3, 3};  // 6 nodes: two swarms of 3
    p.recipient_quota_messages = 3;
    p.max_body_bytes = 300;
    p.ttl_max_seconds = 3600;
    Started s(loop, 6, p);
    auto dir = s.net.nodes()[0]->directory().current();
    REQUIRE(dir->swarms().size() == 2);
    const auto account = crypto::ed25519_generate();
    const SwarmId home = *dir->swarm_for(account.pub);
    NodeId member, outsider;
    for (const auto& e : dir->entries) (e.swarm == home ? member : outsider) = e.node.id;

    auto status = [](const Result<storage::Response, RequestFailure>& r) {
      REQUIRE(r.ok());
      return r->status;
    };
    CHECK(status(s.client.store(member, account.pub, body_of(1), 0)) == Status::ttl_out_of_range);
    CHECK(status(s.client.store(member, account.pub, body_of(1), 3601)) == Status::ttl_out_of_range);
    std::vector<std::uint8_t> big(301, 'x');
    CHECK(status(s.client.store(member, account.pub, big)) == Status::body_too_large);

    // Wrong swarm: the answer names the right one and its members.
    auto wrong = s.client.store(outsider, account.pub, body_of(1));
    REQUIRE(status(wrong) == Status::wrong_swarm);
    const auto& ws = std::get<storage::WrongSwarm>(wrong->body);
    CHECK(ws.swarm == home);
    CHECK(ws.members.size() == dir->members(home).size());

    // Quota of 3 messages: the 4th is refused, the others stay.
    for (int i = 0; i < 3; ++i) CHECK(status(s.client.store(member, account.pub, body_of(i))) == Status::ok);
    CHECK(status(s.client.store(member, account.pub, body_of(3))) == Status::quota_messages);

    // A retrieve signed by another key.
    const auto other = crypto::ed25519_generate();
    storage::RetrieveRequest forged;
    forged.recipient = account.pub;
    forged.limit = 10;
    forged.timestamp_ms = static_cast<std::uint64_t>(std::time(nullptr)) * 1000;
    storage::sign(forged, other.sec);
    CHECK(status(s.client.call(member, forged, storage::Method::retrieve)) == Status::bad_signature);

    // A stale timestamp: answered with the server's time.
    const std::uint64_t stale = static_cast<std::uint64_t>(std::time(nullptr) - 600) * 1000;
    auto skew = s.client.retrieve(member, account, Cursor{}, 10, 0, stale);
    REQUIRE(status(skew) == Status::clock_skew);
    const auto server = std::get<storage::ClockSkew>(skew->body).server_time_ms;
    CHECK(server > stale + 500'000);

    // Expired messages are never returned: a 1-second message is gone after 1.5 s.
    const auto shortlived = crypto::ed25519_generate();
    const SwarmId home2 = *dir->swarm_for(shortlived.pub);
    NodeId member2;
    for (const auto& e : dir->entries)
      if (e.swarm == home2) member2 = e.node.id;
    CHECK(status(s.client.store(member2, shortlived.pub, body_of(7), 1)) == Status::ok);
    CHECK(s.client.retrieve_all(member2, shortlived).size() == 1);
    loop.run_for(std::chrono::milliseconds(1500));
    CHECK(s.client.retrieve_all(member2, shortlived).empty());
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("deletes reach every member, and a replayed delete_all spares newer messages",
          "[storage]") {
  TestLoop loop;
  {
    Started s(loop, 5);
    const auto account = crypto::ed25519_generate();
    for (int i = 0; i < 6; ++i)
      REQUIRE(s.client.store(s.net.nodes()[0]->id(), account.pub, body_of(i))->status == Status::ok);
    REQUIRE(all_hold(loop, s.net, 6));
    auto all = s.client.retrieve_all(s.net.nodes()[1]->id(), account);
    REQUIRE(all.size() == 6);

    // delete one message through member 2: every member drops it.
    storage::DeleteRequest del;
    del.recipient = account.pub;
    del.id = all[0].id;
    del.timestamp_ms = static_cast<std::uint64_t>(std::time(nullptr)) * 1000;
    storage::sign(del, account.sec);
    auto r = s.client.call(s.net.nodes()[2]->id(), del, storage::Method::erase);
    REQUIRE(r.ok());
    CHECK(r->status == Status::ok);
    REQUIRE(all_hold(loop, s.net, 5));
    // Deleting it again: not found. Storing it again: refused as deleted.
    del.timestamp_ms += 1;
    storage::sign(del, account.sec);
    CHECK(s.client.call(s.net.nodes()[3]->id(), del, storage::Method::erase)->status ==
          Status::not_found);
    CHECK(s.client.store(s.net.nodes()[4]->id(), account.pub, body_of(0))->status == Status::deleted);

    // A signed delete_all, kept by an eavesdropper and replayed after a new
    // message arrived, deletes only what was there when it was signed.
    storage::DeleteAllRequest wipe;
    wipe.recipient = account.pub;
    wipe.timestamp_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    storage::sign(wipe, account.sec);
    auto first = s.client.call(s.net.nodes()[0]->id(), wipe, storage::Method::erase_all);
    REQUIRE(first.ok());
    CHECK(std::get<storage::DeleteResult>(first->body).deleted == 5);
    REQUIRE(all_hold(loop, s.net, 0));
    loop.run_for(std::chrono::milliseconds(20));
    REQUIRE(s.client.store(s.net.nodes()[0]->id(), account.pub, body_of(99))->status == Status::ok);
    auto replay = s.client.call(s.net.nodes()[1]->id(), wipe, storage::Method::erase_all);
    REQUIRE(replay.ok());
    CHECK(std::get<storage::DeleteResult>(replay->body).deleted == 0);
    REQUIRE(all_hold(loop, s.net, 1));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a long poll parked at a member that leaves the recipient's swarm is answered at once",
          "[storage]") {
  TestLoop loop;
  // A long poll (30 s) for each of 40 accounts, parked at one member each.
  // The polls outlive the client: closing it answers the ones still waiting.
  struct Poll {
    Ed25519KeyPair account;
    NodeId member;
    std::optional<Result<std::vector<std::uint8_t>, RequestFailure>> answer;
    std::chrono::steady_clock::time_point answered;
  };
  std::vector<Poll> polls(40);
  {
    Started s(loop, 6);  // one swarm of 6
    const auto dir = s.net.nodes()[0]->directory().current();
    for (std::size_t i = 0; i < polls.size(); ++i) {
      Poll& p = polls[i];
      p.account = crypto::ed25519_generate();
      p.member = s.net.nodes()[i % 6]->id();
      storage::RetrieveRequest r;
      r.recipient = p.account.pub;
      r.limit = 10;
      r.wait_ms = 30'000;
      r.timestamp_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch())
                                                      .count());
      storage::sign(r, p.account.sec);
      std::vector<NodeId> relays;
      for (std::size_t k = 1; k <= 3; ++k) relays.push_back(s.net.nodes()[(i + k) % 6]->id());
      s.client.onion().send(
          relays, p.member, storage::encode(storage::Request{r}),
          [&p](auto answer) {
            p.answer = std::move(answer);
            p.answered = std::chrono::steady_clock::now();
          },
          std::chrono::seconds(40));
    }
    REQUIRE(loop.run_until(
        [&] {
          std::uint64_t waiting = 0;
          for (auto& n : s.net.nodes()) waiting += n->storage()->stats().waiting;
          return waiting == polls.size();
        },
        std::chrono::seconds(15)));

    // Ten nodes make two swarms: about half of the accounts now belong to a
    // swarm without the member their poll waits at.
    s.net.add_nodes(4);
    REQUIRE(loop.run_until([&] { return s.net.agree_on(10); }, std::chrono::seconds(15)));
    const auto split = std::chrono::steady_clock::now();
    const auto now_dir = s.net.nodes()[0]->directory().current();
    REQUIRE(now_dir->swarms().size() == 2);
    std::vector<Poll*> moved;
    for (auto& p : polls)
      if (now_dir->find(p.member)->swarm != *now_dir->swarm_for(p.account.pub)) moved.push_back(&p);
    REQUIRE(!moved.empty());
    // Each is answered wrong_swarm within a few seconds, not after its 30 s.
    REQUIRE(loop.run_until(
        [&] {
          return std::all_of(moved.begin(), moved.end(), [](Poll* p) { return p->answer.has_value(); });
        },
        std::chrono::seconds(10)));
    for (Poll* p : moved) {
      REQUIRE(p->answer->ok());
      auto resp = storage::decode_response(storage::Method::retrieve, p->answer->value());
      REQUIRE(resp.ok());
      CHECK(resp->status == Status::wrong_swarm);
      CHECK(p->answered - split < std::chrono::seconds(10));
    }
    // The others still wait (their member is still theirs).
    for (auto& p : polls)
      if (std::find(moved.begin(), moved.end(), &p) == moved.end()) CHECK_FALSE(p.answer.has_value());
  }
  CHECK(loop.drain_and_close());
}

namespace {

std::uint64_t unix_now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

storage::RetrieveRequest streamed_poll(const Ed25519KeyPair& account, std::uint32_t wait_ms,
                                       ArrivalCursor since = {}) {
  storage::RetrieveRequest r;
  r.recipient = account.pub;
  r.since = since;
  r.limit = 10;
  r.wait_ms = wait_ms;
  r.stream = true;
  r.timestamp_ms = unix_now_ms();
  storage::sign(r, account.sec);
  return r;
}

}  // namespace

TEST_CASE("a streamed long poll answers each arrival with a segment and stays open until its wait ends",
          "[storage]") {
  TestLoop loop;
  {
    Started s(loop, 5);
    auto& member = *s.net.nodes()[0];
    const std::vector<NodeId> relays{s.net.nodes()[1]->id(), s.net.nodes()[2]->id(),
                                     s.net.nodes()[3]->id()};
    const auto account = crypto::ed25519_generate();
    std::vector<storage::Response> segments;
    std::optional<Result<std::vector<std::uint8_t>, RequestFailure>> last;
    s.client.onion().send(
        relays, member.id(), storage::encode(storage::Request{streamed_poll(account, 4000)}),
        [&](auto answer) { last = std::move(answer); }, std::chrono::seconds(10),
        [&](std::vector<std::uint8_t> bytes) {
          auto resp = storage::decode_response(storage::Method::retrieve, bytes);
          REQUIRE(resp.ok());
          segments.push_back(*resp);
        });
    REQUIRE(loop.run_until([&] { return member.storage()->stats().waiting == 1; },
                           std::chrono::seconds(5)));

    // Three messages, one at a time: each comes alone, in a segment of the
    // same request, which stays parked.
    ArrivalCursor cursor;
    for (int i = 0; i < 3; ++i) {
      auto stored = s.client.store(s.net.nodes()[4]->id(), account.pub, body_of(i));
      REQUIRE(stored.ok());
      REQUIRE(stored->status == Status::ok);
      REQUIRE(loop.run_until([&] { return segments.size() == static_cast<std::size_t>(i) + 1; },
                             std::chrono::seconds(5)));
      const auto& seg = segments.back();
      REQUIRE(seg.status == Status::ok);
      const auto& got = std::get<storage::RetrieveResult>(seg.body);
      REQUIRE(got.messages.size() == 1);
      CHECK(got.messages[0].body == body_of(i));
      CHECK_FALSE(got.more);
      CHECK(got.cursor.seq > cursor.seq);
      cursor = got.cursor;
      CHECK_FALSE(last.has_value());
      CHECK(member.storage()->stats().waiting == 1);
    }
    CHECK(member.storage()->stats().poll_segments == 3);
    CHECK(member.storage()->stats().long_polls == 1);

    // The wait ends: the last answer, empty, from the last segment's cursor.
    REQUIRE(loop.run_until([&] { return last.has_value(); }, std::chrono::seconds(8)));
    REQUIRE(last->ok());
    auto final_answer = storage::decode_response(storage::Method::retrieve, last->value());
    REQUIRE(final_answer.ok());
    REQUIRE(final_answer->status == Status::ok);
    const auto& got = std::get<storage::RetrieveResult>(final_answer->body);
    CHECK(got.messages.empty());
    CHECK(got.cursor == cursor);
    CHECK(member.storage()->stats().waiting == 0);
    CHECK(segments.size() == 3);

    // A request that asked for segments but whose sender takes none fails
    // with bad_reply at the first one: segments only go to who asked.
    std::optional<Result<std::vector<std::uint8_t>, RequestFailure>> refused;
    s.client.onion().send(relays, member.id(),
                          storage::encode(storage::Request{streamed_poll(account, 4000, cursor)}),
                          [&](auto answer) { refused = std::move(answer); }, std::chrono::seconds(10));
    REQUIRE(loop.run_until([&] { return member.storage()->stats().waiting == 1; },
                           std::chrono::seconds(5)));
    REQUIRE(s.client.store(s.net.nodes()[4]->id(), account.pub, body_of(99)).ok());
    REQUIRE(loop.run_until([&] { return refused.has_value(); }, std::chrono::seconds(5)));
    REQUIRE_FALSE(refused->ok());
    CHECK(refused->error().error == RequestError::bad_reply);
  }
  CHECK(loop.drain_and_close());
}
