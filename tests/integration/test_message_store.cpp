// The message store on a real RocksDB database in a temporary directory.
// Time is always an explicit now_ms: nothing here sleeps or reads a clock.
#include <rocksdb/db.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "swarm/message_store.hpp"
#include "swarm/message_store_impl.hpp"
#include "tests/integration/store_test_util.hpp"
#include "tests/support/log_capture.hpp"

using namespace nightjar;
using namespace nightjar::test;

namespace {

constexpr std::uint64_t t0 = 1'700'000'000'000;  // a "now" in unix milliseconds
constexpr std::uint64_t hour = 3'600'000;

// What a refused operation must leave untouched.
struct Snapshot {
  StoreSummary summary;
  std::uint64_t count;
  std::uint64_t bytes;
  std::vector<StoredMessage> messages;
  bool operator==(const Snapshot& o) const {
    return summary == o.summary && count == o.count && bytes == o.bytes &&
           same_messages(messages, o.messages);
  }
};
Snapshot snapshot(const MessageStore& s, const Ed25519PublicKey& r, std::uint64_t now) {
  return {s.summary(), s.message_count(), s.body_bytes(), s.all_of(r, 100'000, now)};
}

}  // namespace

TEST_CASE("put, get and retrieve follow timestamp and ID order, and cursors page through",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto alice = test_recipient(1);
  const auto bob = test_recipient(2);
  std::mt19937_64 rng(7);
  std::vector<StoredMessage> mine;
  for (int i = 0; i < 40; ++i) {
    // Timestamps out of insertion order, with ties broken by ID.
    auto m = random_message(rng, alice, t0 - static_cast<std::uint64_t>((i * 7) % 13), t0 + hour);
    REQUIRE(store->put(m, t0).ok());
    mine.push_back(m);
    REQUIRE(store->put(random_message(rng, bob, t0, t0 + hour), t0).ok());
  }
  std::sort(mine.begin(), mine.end(), [](const auto& a, const auto& b) {
    return std::pair(a.timestamp_ms, a.id.bytes) < std::pair(b.timestamp_ms, b.id.bytes);
  });
  CHECK(store->message_count() == 80);

  const auto all = store->retrieve(alice, Cursor{}, 1000, t0);
  REQUIRE(all.size() == mine.size());
  CHECK(same_messages(all, mine));
  CHECK(store->all_of(alice, 1000, t0).size() == 40);
  CHECK(store->retrieve(alice, cursor_of(all.back()), 1000, t0).empty());
  CHECK(store->retrieve(alice, Cursor{}, 0, t0).empty());

  for (const std::size_t page : {1u, 3u, 7u, 40u}) {
    std::vector<StoredMessage> paged;
    Cursor c;
    for (int guard = 0; guard < 100; ++guard) {
      auto got = store->retrieve(alice, c, page, t0);
      if (got.empty()) break;
      CHECK(got.size() <= page);
      c = cursor_of(got.back());
      paged.insert(paged.end(), got.begin(), got.end());
    }
    CHECK(ids_of(paged) == ids_of(mine));
  }

  const auto got = store->get(mine[5].id, t0);
  REQUIRE(got);
  CHECK(same_messages({*got}, {mine[5]}));
  CHECK_FALSE(store->get(message_id(alice, as_bytes("never stored")), t0));
  CHECK(store->contains(mine[5].id));
}

TEST_CASE("put is idempotent, keeps the first timestamp and takes the later expiry",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto r = test_recipient(3);
  auto m = text_message(r, "hello", t0, t0 + hour);
  REQUIRE(store->put(m, t0).value() == PutResult::stored);
  const auto after_first = store->summary();

  auto again = m;
  again.timestamp_ms = t0 + 5;
  again.expiry_ms = t0 + hour / 2;
  CHECK(store->put(again, t0 + 5).value() == PutResult::duplicate);
  CHECK(store->summary() == after_first);
  CHECK(store->message_count() == 1);
  CHECK(store->body_bytes() == 5);

  again.expiry_ms = t0 + 2 * hour;
  CHECK(store->put(again, t0 + 5).value() == PutResult::duplicate);
  const auto got = store->get(m.id, t0 + 10);
  REQUIRE(got);
  CHECK(got->timestamp_ms == t0);
  CHECK(got->expiry_ms == t0 + 2 * hour);
  CHECK(store->summary() != after_first);
  CHECK(store->summary() == recompute_summary(*store));
  CHECK(store->retrieve(r, Cursor{}, 10, t0).size() == 1);
  // The old expiry no longer applies; the new one does.
  CHECK(store->get(m.id, t0 + hour + 1));
  CHECK(store->sweep_expired(t0 + hour + 1) == 0);
  CHECK(store->sweep_expired(t0 + 2 * hour) == 1);
}

TEST_CASE("a put whose ID is not the hash of its recipient and body is refused",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  auto m = text_message(test_recipient(4), "body", t0, t0 + hour);
  m.id.bytes[0] ^= 1;
  CHECK(store->put(m, t0).error() == StoreError::bad_id);
  m = text_message(test_recipient(4), "body", t0, t0 + hour);
  m.recipient = test_recipient(5);
  CHECK(store->put(m, t0).error() == StoreError::bad_id);
  CHECK(store->message_count() == 0);
  CHECK(store->summary() == StoreSummary{});
}

TEST_CASE("expired messages are never returned and the sweep removes them",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto r = test_recipient(6);
  auto early = text_message(r, "early", t0, t0 + 1000);
  auto late = text_message(r, "late", t0 + 1, t0 + hour);
  CHECK(store->put(text_message(r, "too late", t0, t0), t0).error() == StoreError::expired);
  REQUIRE(store->put(early, t0).ok());
  const auto with_late_only = [&] {
    TempDir other_dir;
    auto other = open_store(other_dir.path());
    REQUIRE(other->put(late, t0).ok());
    return other->summary();
  }();
  REQUIRE(store->put(late, t0).ok());

  const std::uint64_t at_expiry = t0 + 1000;
  CHECK(store->get(early.id, at_expiry - 1));
  CHECK_FALSE(store->get(early.id, at_expiry));
  CHECK(ids_of(store->retrieve(r, Cursor{}, 10, at_expiry)) == std::vector{late.id});
  CHECK(ids_of(store->all_of(r, 10, at_expiry)) == std::vector{late.id});
  CHECK(store->retrieve(r, Cursor{}, 1, at_expiry).size() == 1);  // skipped, not the limit
  CHECK(store->contains(early.id));                               // until the sweep

  CHECK(store->sweep_expired(at_expiry - 1) == 0);
  CHECK(store->message_count() == 2);
  CHECK(store->sweep_expired(at_expiry) == 1);
  CHECK_FALSE(store->contains(early.id));
  CHECK(store->message_count() == 1);
  CHECK(store->body_bytes() == 4);
  CHECK(store->summary() == with_late_only);
  CHECK(store->summary() == recompute_summary(*store));
  CHECK(store->sweep_expired(at_expiry) == 0);

  SECTION("an expired but unswept message is replaced by a fresh put of its ID") {
    auto first = text_message(r, "again", t0, t0 + 10);
    REQUIRE(store->put(first, t0).ok());
    auto second = first;
    second.timestamp_ms = t0 + 20;
    second.expiry_ms = t0 + hour;
    CHECK(store->put(second, t0 + 20).value() == PutResult::stored);
    const auto got = store->get(first.id, t0 + 20);
    REQUIRE(got);
    CHECK(got->timestamp_ms == t0 + 20);
    CHECK(store->message_count() == 2);
    CHECK(store->retrieve(r, Cursor{}, 10, t0 + 20).size() == 2);
    CHECK(store->summary() == recompute_summary(*store));
  }
}

TEST_CASE("the sweep works in bounded batches", "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  std::mt19937_64 rng(11);
  const std::size_t n = MessageStore::sweep_batch * 2 + 10;
  std::vector<StoredMessage> ms;
  for (std::size_t i = 0; i < n; ++i)
    ms.push_back(random_message(rng, test_recipient(static_cast<std::uint8_t>(i % 50)), t0,
                                t0 + 1 + i % 100));
  for (const auto& r : store->put_batch(ms, t0))
    REQUIRE(r.ok());
  CHECK(store->sweep_expired(t0 + 1000, 15) == 15);
  CHECK(store->message_count() == n - 15);
  CHECK(store->sweep_expired(t0 + 1000) == n - 15);
  CHECK(store->message_count() == 0);
  CHECK(store->body_bytes() == 0);
  CHECK(store->summary() == StoreSummary{});
  CHECK(store->recipients(std::nullopt, 100).empty());
}

TEST_CASE("tombstones block a re-put and are swept at their expiry", "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto r = test_recipient(7);
  auto m = text_message(r, "secret", t0, t0 + hour);
  REQUIRE(store->put(m, t0).ok());
  CHECK_FALSE(store->erase(test_recipient(8), m.id, t0).value());  // not theirs
  CHECK(store->erase(r, m.id, t0 + 1).value());
  CHECK_FALSE(store->erase(r, m.id, t0 + 2).value());
  CHECK_FALSE(store->get(m.id, t0 + 2));
  CHECK(store->retrieve(r, Cursor{}, 10, t0 + 2).empty());
  CHECK(store->contains(m.id));
  CHECK(store->message_count() == 0);
  CHECK(store->body_bytes() == 0);
  CHECK(store->put(m, t0 + 3).error() == StoreError::deleted);
  const auto entries = store->bucket_entries(m.id.bytes[0]);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0] == EntryState{m.id, true, t0 + hour});
  CHECK(store->summary() == recompute_summary(*store));

  CHECK(store->sweep_expired(t0 + hour - 1) == 0);
  CHECK(store->sweep_expired(t0 + hour) == 1);
  CHECK_FALSE(store->contains(m.id));
  CHECK(store->summary() == StoreSummary{});
  m.expiry_ms = t0 + 2 * hour;
  CHECK(store->put(m, t0 + hour).value() == PutResult::stored);
}

TEST_CASE("put_tombstone deletes a present message and blocks one never seen",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto r = test_recipient(9);
  auto present = text_message(r, "present", t0, t0 + hour);
  auto unseen = text_message(r, "unseen", t0, t0 + hour);
  REQUIRE(store->put(present, t0).ok());

  REQUIRE(store->put_tombstone(r, unseen.id, t0 + hour).ok());
  CHECK(store->contains(unseen.id));
  CHECK(store->put(unseen, t0).error() == StoreError::deleted);

  REQUIRE(store->put_tombstone(r, present.id, t0 + hour / 2).ok());
  CHECK_FALSE(store->get(present.id, t0));
  CHECK(store->message_count() == 0);
  // The later of the two expiries stays, whichever arrives first.
  CHECK(store->bucket_entries(present.id.bytes[0]) ==
        std::vector{EntryState{present.id, true, t0 + hour}});
  REQUIRE(store->put_tombstone(r, unseen.id, t0 + 2 * hour).ok());
  REQUIRE(store->put_tombstone(r, unseen.id, t0 + 1).ok());
  CHECK(store->bucket_entries(unseen.id.bytes[0]) ==
        std::vector{EntryState{unseen.id, true, t0 + 2 * hour}});
  CHECK(store->summary() == recompute_summary(*store));

  // A tombstone past its expiry no longer blocks the ID, swept or not.
  auto late = text_message(r, "late", t0, t0 + 3 * hour);
  REQUIRE(store->put_tombstone(r, late.id, t0 + 10).ok());
  CHECK(store->put(late, t0 + 9).error() == StoreError::deleted);
  CHECK(store->put(late, t0 + 10).value() == PutResult::stored);
  CHECK(store->bucket_entries(late.id.bytes[0]) ==
        std::vector{EntryState{late.id, false, t0 + 3 * hour}});
  CHECK(store->summary() == recompute_summary(*store));
}

TEST_CASE("erase_all tombstones every message of one recipient only", "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  const auto r = test_recipient(10);
  const auto other = test_recipient(11);
  std::mt19937_64 rng(3);
  std::vector<StoredMessage> ms;
  for (int i = 0; i < 20; ++i)
    ms.push_back(random_message(rng, r, t0 + static_cast<std::uint64_t>(i), t0 + hour));
  ms.push_back(random_message(rng, r, t0, t0 + 50));  // expired by then: no tombstone
  const auto kept = random_message(rng, other, t0, t0 + hour);
  ms.push_back(kept);
  for (const auto& res : store->put_batch(ms, t0))
    REQUIRE(res.ok());

  CHECK(store->erase_all(r, t0 + 100).value() == 20);
  CHECK(store->all_of(r, 100, t0 + 100).empty());
  CHECK(store->message_count() == 1);
  CHECK(store->body_bytes() == kept.body.size());
  CHECK(store->recipients(std::nullopt, 10) == std::vector<Mailbox>{other});
  for (int i = 0; i < 20; ++i) {
    const auto& m = ms[static_cast<std::size_t>(i)];
    CHECK(store->contains(m.id));
    CHECK(store->put(m, t0 + 100).error() == StoreError::deleted);
  }
  CHECK_FALSE(store->contains(ms[20].id));
  CHECK(store->get(kept.id, t0 + 100));
  CHECK(store->summary() == recompute_summary(*store));
  CHECK(store->erase_all(r, t0 + 100).value() == 0);
}

TEST_CASE("each quota and the disk cap refuse a put and change nothing", "[store][integration]") {
  TempDir dir;
  const auto r = test_recipient(12);
  std::mt19937_64 rng(5);

  SECTION("message quota") {
    auto options = test_options();
    options.quota_messages = 3;
    auto store = open_store(dir.path(), options);
    std::vector<StoredMessage> ms;
    for (int i = 0; i < 3; ++i) {
      ms.push_back(random_message(rng, r, t0, t0 + hour));
      REQUIRE(store->put(ms.back(), t0).ok());
    }
    const auto before = snapshot(*store, r, t0);
    const auto fourth = random_message(rng, r, t0, t0 + hour);
    CHECK(store->put(fourth, t0).error() == StoreError::quota_messages);
    CHECK(snapshot(*store, r, t0) == before);
    CHECK_FALSE(store->contains(fourth.id));
    CHECK(store->put(ms[0], t0).value() == PutResult::duplicate);  // still idempotent
    CHECK(store->put(random_message(rng, test_recipient(13), t0, t0 + hour), t0).ok());
    REQUIRE(store->erase(r, ms[0].id, t0).value());
    CHECK(store->put(fourth, t0).ok());
  }
  SECTION("byte quota") {
    auto options = test_options();
    options.quota_bytes = 1000;
    auto store = open_store(dir.path(), options);
    REQUIRE(store->put(random_message(rng, r, t0, t0 + hour, 600), t0).ok());
    const auto before = snapshot(*store, r, t0);
    CHECK(store->put(random_message(rng, r, t0, t0 + hour, 401), t0).error() ==
          StoreError::quota_bytes);
    CHECK(snapshot(*store, r, t0) == before);
    CHECK(store->put(random_message(rng, r, t0, t0 + hour, 400), t0).ok());
  }
  SECTION("disk cap") {
    auto options = test_options();
    options.disk_cap_bytes = 3 * (100 + message_overhead_bytes);
    auto store = open_store(dir.path(), options);
    for (std::uint8_t i = 0; i < 3; ++i)
      REQUIRE(store->put(random_message(rng, test_recipient(i), t0, t0 + hour, 100), t0).ok());
    const auto before = snapshot(*store, r, t0);
    CHECK(store->put(random_message(rng, r, t0, t0 + hour, 1), t0).error() ==
          StoreError::disk_full);
    CHECK(snapshot(*store, r, t0) == before);
    CHECK(store->sweep_expired(t0 + hour) == 3);
    CHECK(store->put(random_message(rng, r, t0 + hour, t0 + 2 * hour, 100), t0 + hour).ok());
  }
}

TEST_CASE("summaries agree across stores with the same content and find the buckets that differ",
          "[store][integration]") {
  TempDir dir_a, dir_b;
  auto a = open_store(dir_a.path());
  auto b = open_store(dir_b.path());
  std::mt19937_64 rng(17);
  std::vector<StoredMessage> ms;
  for (int i = 0; i < 300; ++i)
    ms.push_back(random_message(rng, test_recipient(static_cast<std::uint8_t>(i % 9)),
                                t0 + static_cast<std::uint64_t>(i), t0 + hour + (rng() % hour)));
  for (const auto& m : ms)
    REQUIRE(a->put(m, t0).ok());
  std::vector<StoredMessage> shuffled = ms;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const auto& res : b->put_batch(shuffled, t0))
    REQUIRE(res.ok());
  // The same deletes, one by erase and one by replication.
  REQUIRE(a->erase(ms[0].recipient, ms[0].id, t0).value());
  REQUIRE(b->put_tombstone(ms[0].recipient, ms[0].id, ms[0].expiry_ms).ok());
  CHECK(a->summary() == b->summary());
  CHECK(a->summary() == recompute_summary(*a));

  // b gets one extra message and one extra delete.
  const auto extra = random_message(rng, test_recipient(1), t0, t0 + hour);
  REQUIRE(b->put(extra, t0).ok());
  REQUIRE(b->erase(ms[1].recipient, ms[1].id, t0).value());
  std::set<std::size_t> expected = {extra.id.bytes[0], ms[1].id.bytes[0]};
  std::set<std::size_t> differing;
  for (std::size_t i = 0; i < summary_buckets; ++i)
    if (!(a->summary()[i] == b->summary()[i])) differing.insert(i);
  CHECK(differing == expected);
  CHECK(b->summary() == recompute_summary(*b));

  // Rebuilt on open from the ID index.
  const auto before = b->summary();
  b.reset();
  b = open_store(dir_b.path());
  CHECK(b->summary() == before);
}

TEST_CASE("drop_messages removes the listed messages of a recipient without tombstones",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  std::mt19937_64 rng(19);
  const auto moved = test_recipient(20);
  const auto stays = test_recipient(21);
  std::vector<StoredMessage> ms;
  for (int i = 0; i < 10; ++i)
    ms.push_back(random_message(rng, moved, t0, t0 + hour));
  const auto kept = random_message(rng, stays, t0, t0 + hour);
  for (const auto& m : ms)
    REQUIRE(store->put(m, t0).ok());
  REQUIRE(store->put(kept, t0).ok());
  REQUIRE(store->erase(moved, ms[0].id, t0).value());

  // The last message arrived after the move was acknowledged: not listed, it
  // stays; another recipient's message and the tombstone are not touched even
  // when listed.
  std::set<MessageId, std::less<>> acknowledged;
  for (int i = 0; i < 9; ++i) acknowledged.insert(ms[static_cast<std::size_t>(i)].id);
  acknowledged.insert(kept.id);
  CHECK(store->drop_messages(moved, acknowledged).value() == 8);
  CHECK(store->all_of(moved, 100, t0).size() == 1);
  CHECK(store->contains(ms[9].id));
  CHECK(store->message_count() == 2);
  CHECK(store->body_bytes() == kept.body.size() + ms[9].body.size());
  CHECK(store->drop_messages(moved, {ms[9].id}).value() == 1);
  CHECK(store->all_of(moved, 100, t0).empty());
  CHECK(store->recipients(std::nullopt, 10) == std::vector<Mailbox>{stays});
  for (int i = 1; i < 10; ++i) {
    CHECK_FALSE(store->contains(ms[static_cast<std::size_t>(i)].id));
    CHECK(store->put(ms[static_cast<std::size_t>(i)], t0).value() == PutResult::stored);
  }
  CHECK(store->contains(ms[0].id));  // the tombstone stays
  CHECK(store->contains(kept.id));
  CHECK(store->summary() == recompute_summary(*store));
}

TEST_CASE("recipients pages through every recipient with messages in key order",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  std::mt19937_64 rng(23);
  std::vector<Ed25519PublicKey> all;
  for (std::uint8_t i = 0; i < 25; ++i) {
    all.push_back(test_recipient(i));
    REQUIRE(store->put(random_message(rng, all.back(), t0, t0 + hour), t0).ok());
  }
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.bytes < y.bytes; });
  std::vector<Ed25519PublicKey> paged;
  std::optional<Mailbox> after;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = store->recipients(after, 4);
    if (page.empty()) break;
    CHECK(page.size() <= 4);
    after = page.back();
    for (const Mailbox& m : page) {
      CHECK(m.ns == Namespace::messages);
      paged.push_back(m.owner);
    }
  }
  CHECK(paged == all);
  CHECK(store->recipients(std::nullopt, 0).empty());
  CHECK(store->recipients(all.back(), 10).empty());
}

TEST_CASE("a reopened store keeps messages, tombstones, counters and the summary",
          "[store][integration]") {
  TempDir dir;
  std::mt19937_64 rng(29);
  const auto r = test_recipient(30);
  std::vector<StoredMessage> ms;
  StoreSummary summary;
  std::uint64_t bytes = 0;
  {
    auto store = open_store(dir.path());
    for (int i = 0; i < 50; ++i) {
      ms.push_back(random_message(rng, r, t0 + static_cast<std::uint64_t>(i), t0 + hour));
      REQUIRE(store->put(ms.back(), t0).ok());
    }
    REQUIRE(store->erase(r, ms[0].id, t0).value());
    summary = store->summary();
    bytes = store->body_bytes();
  }
  auto options = test_options();
  options.quota_messages = 50;  // 49 stored: the counters survived if one more fits, not two
  auto store = open_store(dir.path(), options);
  CHECK(store->summary() == summary);
  CHECK(store->message_count() == 49);
  CHECK(store->body_bytes() == bytes);
  CHECK(same_messages(store->all_of(r, 100, t0), {ms.begin() + 1, ms.end()}));
  CHECK(store->put(ms[0], t0).error() == StoreError::deleted);
  CHECK(store->put(random_message(rng, r, t0, t0 + hour), t0).ok());
  CHECK(store->put(random_message(rng, r, t0, t0 + hour), t0).error() ==
        StoreError::quota_messages);
  CHECK(store->disk_bytes() > 0);
}

TEST_CASE("put_batch gives one result per message, as if put one by one", "[store][integration]") {
  TempDir dir;
  auto options = test_options();
  options.quota_messages = 4;
  auto store = open_store(dir.path(), options);
  std::mt19937_64 rng(31);
  const auto r = test_recipient(40);
  auto deleted = random_message(rng, r, t0, t0 + hour);
  REQUIRE(store->put_tombstone(r, deleted.id, t0 + hour).ok());
  auto bad = random_message(rng, r, t0, t0 + hour);
  bad.id.bytes[3] ^= 0x10;

  std::vector<StoredMessage> batch;
  batch.push_back(random_message(rng, r, t0, t0 + hour));  // stored
  batch.push_back(batch[0]);                               // duplicate within the batch
  batch.push_back(random_message(rng, r, t0, t0));         // expired
  batch.push_back(bad);                                    // bad_id
  batch.push_back(deleted);                                // deleted
  for (int i = 0; i < 4; ++i)                              // 3 stored, then the quota
    batch.push_back(random_message(rng, r, t0, t0 + hour));
  const auto res = store->put_batch(batch, t0);
  REQUIRE(res.size() == batch.size());
  CHECK(res[0].value() == PutResult::stored);
  CHECK(res[1].value() == PutResult::duplicate);
  CHECK(res[2].error() == StoreError::expired);
  CHECK(res[3].error() == StoreError::bad_id);
  CHECK(res[4].error() == StoreError::deleted);
  CHECK(res[5].value() == PutResult::stored);
  CHECK(res[6].value() == PutResult::stored);
  CHECK(res[7].value() == PutResult::stored);
  CHECK(res[8].error() == StoreError::quota_messages);
  CHECK(store->message_count() == 4);
  CHECK(store->all_of(r, 10, t0).size() == 4);
  CHECK(store->summary() == recompute_summary(*store));
  CHECK(store->put_batch({}, t0).empty());
}

TEST_CASE("a second open of the same directory fails with a clear message",
          "[store][integration]") {
  TempDir dir;
  auto store = open_store(dir.path());
  auto second = MessageStore::open(dir.path(), test_options());
  REQUIRE_FALSE(second.ok());
  CHECK_THAT(second.error(), Catch::Contains("already open"));
  CHECK_THAT(second.error(), Catch::Contains(dir.path().string()));
  store.reset();
  CHECK(MessageStore::open(dir.path(), test_options()).ok());
}

TEST_CASE("running out of file descriptors is said so, not taken for a second open",
          "[store][integration]") {
  // The statuses RocksDB 7.8 returns (a real open with RLIMIT_NOFILE lowered
  // gives the first; under the sanitizers RocksDB's own error path is not
  // safe to run, so the statuses are made here).
  const std::filesystem::path dir = "/var/lib/nightjar/messages";
  const auto emfile = store_layout::open_error(
      dir, rocksdb::Status::IOError("While open a file for lock: " + dir.string() + "/LOCK",
                                    "Too many open files"));
  CHECK_THAT(emfile, Catch::Contains("file descriptors"));
  CHECK_THAT(emfile, !Catch::Contains("already open"));
  const auto locked = store_layout::open_error(
      dir, rocksdb::Status::IOError("While lock file: " + dir.string() + "/LOCK",
                                    "Resource temporarily unavailable"));
  CHECK_THAT(locked, Catch::Contains("already open"));
  const auto other = store_layout::open_error(dir, rocksdb::Status::Corruption("bad block"));
  CHECK_THAT(other, Catch::StartsWith("cannot open message store " + dir.string()));
}

TEST_CASE("a store with an unknown schema version is refused", "[store][integration]") {
  TempDir dir;
  open_store(dir.path()).reset();
  {
    // Rewrite the version as a future build would.
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    std::vector<std::string> names;
    REQUIRE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path().string(), &names).ok());
    for (const auto& n : names)
      families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REQUIRE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir.path().string(), families, &handles, &db).ok());
    const auto meta = std::find(names.begin(), names.end(), "meta") - names.begin();
    REQUIRE(db->Put(rocksdb::WriteOptions(), handles[static_cast<std::size_t>(meta)],
                    "schema_version", std::string("\0\0\0\x63", 4))
                .ok());
    for (auto* h : handles)
      REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    REQUIRE(db->Close().ok());
    delete db;
  }
  auto r = MessageStore::open(dir.path(), test_options());
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("schema version 99"));
}

TEST_CASE("opening fails with a clear message when the directory cannot be made",
          "[store][integration]") {
  TempDir dir;
  const auto file = dir.path() / "a-file";
  std::filesystem::create_directories(dir.path());
  { std::ofstream(file) << "x"; }
  auto r = MessageStore::open(file / "store", test_options());
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("a-file"));
}
