// Public records (the records namespace of the storage API) on a real network
// on loopback: one authority and five service nodes forming one swarm,
// requests through real onion paths, real RocksDB stores. A record is
// published at one member, read by anyone (unsigned lookups) from every
// member, replaced by a newer version everywhere (last writer wins by
// version), repaired by anti-entropy on a member that was down, and refused
// when it is not the owner's, forged, expired, older or not a record.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "swarm/public_record.hpp"
#include "tests/support/storage_client.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
using storage::Status;

namespace {

constexpr std::uint8_t bundle_type = static_cast<std::uint8_t>(RecordType::prekey_bundle);

NetworkParams one_swarm_of_five() {
  NetworkParams p = TestNetwork::small_params();
  p.swarm = SwarmSizes{5, 5, 9};
  p.ttl_min_seconds = 1;
  return p;
}

struct Started {
  TestLoop& loop;
  TestNetwork net;
  StorageClient client;
  Started(TestLoop& l, std::size_t nodes)
      : loop(l), net(l, one_swarm_of_five()), client(l, (net.start_authorities(1), net.config())) {
    net.add_nodes(nodes);
    REQUIRE(loop.run_until([&] { return net.agree_on(nodes); }, std::chrono::seconds(15)));
    client.set_directory(net.nodes()[0]->directory().current());
  }
  NodeId id(std::size_t i) { return net.nodes()[i]->id(); }
};

std::vector<std::uint8_t> record(const Ed25519KeyPair& signer, const Ed25519PublicKey& owner,
                                 std::uint64_t version, const std::string& payload,
                                 std::uint64_t expires_ms = system_unix_ms() + 3'600'000,
                                 std::uint8_t type = bundle_type) {
  PublicRecord r;
  r.type = type;
  r.owner = owner;
  r.version = version;
  r.expires_ms = expires_ms;
  r.payload.assign(payload.begin(), payload.end());
  sign_record(r, signer.sec);
  return encode(r);
}

Status publish(StorageClient& c, const NodeId& to, const Ed25519PublicKey& owner,
               std::vector<std::uint8_t> body, std::uint32_t ttl_seconds = 600) {
  storage::StoreRequest r;
  r.ns = Namespace::records;
  r.recipient = owner;
  r.ttl_seconds = ttl_seconds;
  r.body = std::move(body);
  auto a = c.call(to, r, storage::Method::store);
  REQUIRE(a.ok());
  return a->status;
}

// The record a member answers with, or empty with its status.
std::pair<Status, std::vector<std::uint8_t>> lookup(StorageClient& c, const NodeId& at,
                                                    const Ed25519PublicKey& owner,
                                                    std::uint8_t type = bundle_type) {
  auto a = c.call(at, storage::LookupRequest{owner, type}, storage::Method::lookup);
  if (!a) FAIL("lookup failed: " << to_string(a.error().error));
  if (a->status != Status::ok) return {a->status, {}};
  return {a->status, std::get<storage::LookupResult>(a->body).record};
}

// The live records of `owner` a node holds.
std::size_t held(Node& n, const Ed25519PublicKey& owner) {
  return n.store()->all_of(Mailbox{Namespace::records, owner}, 100, system_unix_ms()).size();
}

}  // namespace

TEST_CASE("a public record is read from every member, and a newer version replaces it everywhere",
          "[storage][records]") {
  TestLoop loop;
  {
    Started s(loop, 5);
    const auto owner = crypto::ed25519_generate();
    const auto v1 = record(owner, owner.pub, 1, "first bundle");
    REQUIRE(publish(s.client, s.id(0), owner.pub, v1) == Status::ok);
    REQUIRE(loop.run_until(
        [&] {
          for (auto& n : s.net.nodes())
            if (held(*n, owner.pub) != 1) return false;
          return true;
        },
        std::chrono::seconds(20)));
    for (std::size_t i = 0; i < 5; ++i) {
      INFO("member " << i);
      CHECK(lookup(s.client, s.id(i), owner.pub) == std::pair{Status::ok, v1});
    }
    // Namespaces are apart: the owner's messages do not list the record.
    CHECK(s.client.retrieve_all(s.id(2), owner).empty());
    CHECK(lookup(s.client, s.id(0), owner.pub, 2).first == Status::not_found);

    // Version 2 while member 4 is down: the others replace version 1.
    const NodeId fourth = s.id(4);
    s.net.stop_node(4);
    s.client.set_avoided({fourth});
    const auto v2 = record(owner, owner.pub, 2, "second bundle");
    REQUIRE(publish(s.client, s.id(1), owner.pub, v2) == Status::ok);
    REQUIRE(loop.run_until(
        [&] {
          for (std::size_t i = 0; i < 4; ++i)
            if (held(*s.net.nodes()[i], owner.pub) != 1 ||
                lookup(s.client, s.id(i), owner.pub).second != v2)
              return false;
          return true;
        },
        std::chrono::seconds(20)));

    // Member 4 comes back holding version 1: anti-entropy brings version 2
    // and version 1's tombstone.
    s.net.restart_node(4);
    s.client.set_avoided({});
    REQUIRE(loop.run_until(
        [&] {
          auto& n = *s.net.nodes()[4];
          if (!n.store()) return false;
          auto live = n.store()->all_of(Mailbox{Namespace::records, owner.pub}, 10, system_unix_ms());
          return live.size() == 1 && live[0].body == v2;
        },
        std::chrono::seconds(30)));
    // The relays reach member 4 at its new address once the directory lists
    // it: ask until the path gets through (bounded), then check the answer.
    std::optional<storage::Response> answer;
    for (int attempt = 0; attempt < 60 && !answer; ++attempt) {
      s.client.set_directory(s.net.nodes()[0]->directory().current());
      auto a = s.client.call(s.id(4), storage::LookupRequest{owner.pub, bundle_type},
                             storage::Method::lookup);
      if (a) answer = *a;
      else loop.run_for(std::chrono::milliseconds(500));
    }
    REQUIRE(answer);
    REQUIRE(answer->status == Status::ok);
    CHECK(std::get<storage::LookupResult>(answer->body).record == v2);

    // Older (or another record of the same version) is stale; the same one
    // again is a duplicate.
    CHECK(publish(s.client, s.id(3), owner.pub, v1) == Status::stale);
    CHECK(publish(s.client, s.id(3), owner.pub, record(owner, owner.pub, 2, "rival")) ==
          Status::stale);
    CHECK(publish(s.client, s.id(0), owner.pub, v2) == Status::ok);
    // Another type lives beside it.
    const auto other_type = record(owner, owner.pub, 1, "another type", system_unix_ms() + 3'600'000, 9);
    CHECK(publish(s.client, s.id(0), owner.pub, other_type) == Status::ok);
    CHECK(lookup(s.client, s.id(0), owner.pub, 9) == std::pair{Status::ok, other_type});
    CHECK(lookup(s.client, s.id(0), owner.pub) == std::pair{Status::ok, v2});
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a node refuses records that are not the owner's, forged, expired or not records, "
          "and the owner can unpublish",
          "[storage][records]") {
  TestLoop loop;
  {
    Started s(loop, 5);
    const auto owner = crypto::ed25519_generate();
    const auto mallory = crypto::ed25519_generate();
    const NodeId at = s.id(0);
    // Mallory's own record, filed in the owner's mailbox.
    CHECK(publish(s.client, at, owner.pub, record(mallory, mallory.pub, 5, "x")) == Status::bad_request);
    // A record naming the owner, signed by Mallory.
    CHECK(publish(s.client, at, owner.pub, record(mallory, owner.pub, 5, "x")) == Status::bad_signature);
    // Expired, and not a record at all.
    CHECK(publish(s.client, at, owner.pub, record(owner, owner.pub, 5, "x", system_unix_ms() - 1)) ==
          Status::ttl_out_of_range);
    CHECK(publish(s.client, at, owner.pub, {1, 2, 3}) == Status::bad_request);
    CHECK(lookup(s.client, at, owner.pub).first == Status::not_found);

    // A record's own expiry caps how long a node keeps it.
    const std::uint64_t expires = system_unix_ms() + 30'000;
    const auto r = record(owner, owner.pub, 7, "short-lived", expires);
    REQUIRE(publish(s.client, at, owner.pub, r, 3600) == Status::ok);
    auto live = s.net.nodes()[0]->store()->all_of(Mailbox{Namespace::records, owner.pub}, 10,
                                                  system_unix_ms());
    REQUIRE(live.size() == 1);
    CHECK(live[0].expiry_ms == expires);

    // The owner deletes it (a signed delete in the records namespace).
    storage::DeleteRequest del;
    del.ns = Namespace::records;
    del.recipient = owner.pub;
    del.id = live[0].id;
    del.timestamp_ms = system_unix_ms();
    storage::sign(del, owner.sec);
    auto d = s.client.call(s.id(1), del, storage::Method::erase);
    REQUIRE(d.ok());
    CHECK(d->status == Status::ok);
    CHECK(lookup(s.client, s.id(1), owner.pub).first == Status::not_found);
    // Signed for the messages namespace, the same delete does not verify here.
    del.ns = Namespace::messages;
    storage::sign(del, owner.sec);
    del.ns = Namespace::records;
    CHECK(s.client.call(s.id(1), del, storage::Method::erase)->status == Status::bad_signature);
  }
  CHECK(loop.drain_and_close());
}
