// The message store's arrival order (MessageStore::arrivals, arrival
// cursors) on a real RocksDB database: what a long poll relies on to hand
// out a replica that arrives late with an early timestamp, and the upgrade
// of a schema 1 store. Time is an explicit now_ms throughout.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <catch2/catch.hpp>
#include <random>

#include "swarm/message_store.hpp"
#include "swarm/message_store_impl.hpp"
#include "tests/integration/store_test_util.hpp"
#include "tests/support/log_capture.hpp"

using namespace nightjar;
using namespace nightjar::test;

namespace {

constexpr std::uint64_t t0 = 1'700'000'000'000;
constexpr std::uint64_t hour = 3'600'000;

// Every message of `r` after `after`, paging `page` at a time by arrival number.
std::vector<StoredMessage> all_arrivals(const MessageStore& s, const Ed25519PublicKey& r,
                                        std::uint64_t after, const Cursor& floor, std::size_t page,
                                        std::uint64_t now) {
  std::vector<StoredMessage> out;
  for (int i = 0; i < 10'000; ++i) {
    auto got = s.arrivals(r, after, floor, page, now);
    if (got.empty()) break;
    after = got.back().seq;
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

}  // namespace

TEST_CASE("arrivals lists messages in the order they arrived, whatever their timestamps",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto alice = test_recipient(1);
  const auto bob = test_recipient(2);
  std::mt19937_64 rng(11);
  std::vector<StoredMessage> put_order;
  for (int i = 0; i < 30; ++i) {
    // Timestamps going backwards: each arrives "late".
    auto m = random_message(rng, alice, t0 - static_cast<std::uint64_t>(i) * 1000, t0 + hour);
    REQUIRE(store->put(m, t0 + static_cast<std::uint64_t>(i)).ok());
    put_order.push_back(m);
    REQUIRE(store->put(random_message(rng, bob, t0, t0 + hour), t0).ok());
  }
  const auto all = store->arrivals(alice, 0, Cursor{}, 1000, t0 + 100);
  CHECK(ids_of(all) == ids_of(put_order));
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i].seq > all[i - 1].seq);
  CHECK(store->last_seq(alice) == all.back().seq);
  // Paging by the last arrival number gives the same list, pages of any size.
  for (std::size_t page : {1u, 7u, 30u})
    CHECK(ids_of(all_arrivals(*store, alice, 0, Cursor{}, page, t0 + 100)) == ids_of(put_order));
  // After the last one: nothing, until a message arrives, however old its stamp.
  const std::uint64_t cursor = store->last_seq(alice);
  CHECK(store->arrivals(alice, cursor, Cursor{}, 10, t0 + 100).empty());
  const auto late = random_message(rng, alice, t0 - 10 * hour, t0 + hour);
  REQUIRE(store->put(late, t0 + 200).ok());
  CHECK(ids_of(store->arrivals(alice, cursor, Cursor{}, 10, t0 + 200)) == std::vector{late.id});
  CHECK(store->get(late.id, t0 + 200)->seq > cursor);
  // A floor skips what is stamped at or before it.
  const Cursor floor{t0 - 5'000, MessageId{}};
  for (const auto& m : store->arrivals(alice, 0, floor, 1000, t0 + 200))
    CHECK(floor < cursor_of(m));
  // t0 - 0..5 s: one stamped at the floor's time sorts after it (its ID is zero).
  CHECK(store->arrivals(alice, 0, floor, 1000, t0 + 200).size() == 6);
  CHECK(store->arrivals(alice, 0, Cursor{}, 0, t0).empty());
}

TEST_CASE("arrival numbers are per recipient and never repeat, across deletes and reopening",
          "[store][integration]") {
  TempDir dir;
  const auto alice = test_recipient(1);
  const auto bob = test_recipient(2);
  std::uint64_t incarnation = 0;
  std::uint64_t last = 0;
  {
    auto store = open_store(dir.path());
    incarnation = store->incarnation();
    CHECK(incarnation != 0);
    auto a1 = text_message(alice, "a1", t0, t0 + hour);
    REQUIRE(store->put(a1, t0).ok());
    last = store->last_seq(alice);
    // Bob's traffic does not move Alice's numbers.
    for (int i = 0; i < 20; ++i)
      REQUIRE(store->put(text_message(bob, "b" + std::to_string(i), t0, t0 + hour), t0).ok());
    CHECK(store->last_seq(alice) == last);
    // A duplicate keeps its number.
    REQUIRE(store->put(a1, t0 + 5) .ok());
    CHECK(store->last_seq(alice) == last);
    // Alice's only message goes in the same millisecond its number was
    // made: the counter record must stay, or the next number could repeat.
    REQUIRE(store->erase(alice, a1.id, t0).ok());
    CHECK(store->arrivals(alice, 0, Cursor{}, 10, t0).empty());
    auto a2 = text_message(alice, "a2", t0, t0 + hour);
    REQUIRE(store->put(a2, t0).ok());
    CHECK(store->last_seq(alice) > last);
    last = store->last_seq(alice);
    REQUIRE(store->erase(alice, a2.id, t0 + 1).ok());
  }
  {
    // Reopened, with a clock that went back an hour: still higher numbers.
    auto store = open_store(dir.path());
    CHECK(store->incarnation() == incarnation);
    auto a3 = text_message(alice, "a3", t0 - hour, t0 + hour);
    REQUIRE(store->put(a3, t0 - hour).ok());
    CHECK(store->last_seq(alice) > last);
    CHECK(ids_of(store->arrivals(alice, last, Cursor{}, 10, t0)) == std::vector{a3.id});
  }
  {
    // A wiped store draws another incarnation.
    std::filesystem::remove_all(dir.path());
    auto store = open_store(dir.path());
    CHECK(store->incarnation() != incarnation);
    CHECK(store->last_seq(alice) == 0);
  }
}

TEST_CASE("expired, deleted, dropped and swept messages leave the arrival order",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto r = test_recipient(3);
  auto short_lived = text_message(r, "short", t0, t0 + 10);
  auto erased = text_message(r, "erased", t0, t0 + hour);
  auto tombstoned = text_message(r, "tombstoned", t0, t0 + hour);
  auto dropped = text_message(r, "dropped", t0, t0 + hour);
  auto kept = text_message(r, "kept", t0, t0 + hour);
  for (const auto& m : {short_lived, erased, tombstoned, dropped, kept}) REQUIRE(store->put(m, t0).ok());
  CHECK(store->arrivals(r, 0, Cursor{}, 10, t0).size() == 5);
  CHECK(store->arrivals(r, 0, Cursor{}, 10, t0 + 10).size() == 4);  // expired: not listed
  REQUIRE(store->erase(r, erased.id, t0).ok());
  REQUIRE(store->put_tombstone(r, tombstoned.id, t0 + hour).ok());
  REQUIRE(store->drop_messages(r, {dropped.id}).ok());
  REQUIRE(store->sweep_expired(t0 + 10) >= 1);
  CHECK(ids_of(store->arrivals(r, 0, Cursor{}, 10, t0)) == std::vector{kept.id});
  // The index holds nothing for them any more, expired or not.
  CHECK(ids_of(store->arrivals(r, 0, Cursor{}, 10, 0)) == std::vector{kept.id});
}

TEST_CASE("a schema 1 store is upgraded: every message numbered in timestamp order",
          "[store][integration]") {
  TempDir dir;
  const auto alice = test_recipient(1);
  const auto bob = test_recipient(2);
  std::vector<StoredMessage> alices;
  {
    // A store as schema 1 left it: no arrival numbers in the ID entries or
    // counter records, no arrival index, no incarnation or clock.
    auto store = open_store(dir.path());
    for (int i = 0; i < 5; ++i) {
      auto m = text_message(alice, "a" + std::to_string(i), t0 - static_cast<std::uint64_t>(i), t0 + hour);
      REQUIRE(store->put(m, t0).ok());
      alices.push_back(m);
    }
    REQUIRE(store->put(text_message(bob, "b", t0, t0 + hour), t0).ok());
    auto gone = text_message(alice, "gone", t0, t0 + hour);
    REQUIRE(store->put(gone, t0).ok());
    REQUIRE(store->erase(alice, gone.id, t0).ok());  // a tombstone stays one
  }
  {
    std::vector<std::string> names;
    REQUIRE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path().string(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.path().string(), families, &h, &db).ok());
    auto family = [&](const char* name) {
      return h[static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin())];
    };
    rocksdb::WriteBatch b;
    for (auto* f : {family("ids"), family("meta")}) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), f));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const auto v = it->value().ToString();
        if (f == family("ids") && v.size() == store_layout::id_value_bytes)
          b.Put(f, it->key(), v.substr(0, store_layout::id_value_v1_bytes));
        if (f == family("meta") && it->key().starts_with("u") && v.size() == store_layout::usage_value_bytes)
          b.Put(f, it->key(), v.substr(0, store_layout::usage_value_v1_bytes));
      }
    }
    b.DeleteRange(family("arrivals"), "", std::string(41, '\xff'));
    b.Delete(family("meta"), store_layout::incarnation_key);
    b.Delete(family("meta"), store_layout::clock_key);
    b.Put(family("meta"), store_layout::schema_key, std::string("\0\0\0\x01", 4));
    REQUIRE(db->Write(rocksdb::WriteOptions(), &b).ok());
    for (auto* x : h) REQUIRE(db->DestroyColumnFamilyHandle(x).ok());
    REQUIRE(db->Close().ok());
    delete db;
  }
  auto store = open_store(dir.path());
  CHECK(store->incarnation() != 0);
  std::sort(alices.begin(), alices.end(),
            [](const auto& a, const auto& b) { return cursor_of(a) < cursor_of(b); });
  const auto listed = store->arrivals(alice, 0, Cursor{}, 100, t0);
  CHECK(ids_of(listed) == ids_of(alices));
  CHECK(store->arrivals(bob, 0, Cursor{}, 100, t0).size() == 1);
  CHECK(store->message_count() == 6);
  REQUIRE_FALSE(listed.empty());
  CHECK(store->last_seq(alice) == listed.back().seq);
  // Later messages come after them, even stamped at the same millisecond.
  auto next = text_message(alice, "next", t0, t0 + hour);
  REQUIRE(store->put(next, t0).ok());
  CHECK(ids_of(store->arrivals(alice, listed.back().seq, Cursor{}, 10, t0)) == std::vector{next.id});
}
