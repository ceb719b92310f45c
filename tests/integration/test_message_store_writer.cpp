// The message store's writer (group commit) on a real RocksDB database and a
// real libuv loop: writes staged in one turn share one batch; what is staged
// while a batch is being written goes in the next and is checked against it;
// nothing is visible (retrieved, counted, summarised, numbered) before its
// batch is durable; a failed batch fails what was staged on it; the sweep
// keeps the expiry index exact. A file system whose WAL syncs can be held
// (or made to fail) pins a batch in flight, so the interleavings are forced,
// not hoped for.
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "swarm/message_store.hpp"
#include "tests/integration/store_test_util.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace nightjar::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t t0 = 1'700'000'000'000;
constexpr std::uint64_t hour = 3'600'000;

// Holds (or fails) the syncs of RocksDB's write-ahead log while told to.
struct SyncGate {
  std::mutex mutex;
  std::condition_variable cv;
  bool closed = false;
  bool fail = false;
  std::atomic<int> waiting{0};

  rocksdb::IOStatus pass() {
    std::unique_lock lock(mutex);
    ++waiting;
    cv.wait(lock, [this] { return !closed; });
    --waiting;
    return fail ? rocksdb::IOStatus::IOError("sync refused by the test") : rocksdb::IOStatus::OK();
  }
  void set(bool close, bool fail_syncs = false) {
    {
      std::lock_guard lock(mutex);
      closed = close;
      fail = fail_syncs;
    }
    cv.notify_all();
  }
};

class GatedFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  GatedFile(std::unique_ptr<rocksdb::FSWritableFile>&& f, SyncGate& gate)
      : FSWritableFileOwnerWrapper(std::move(f)), gate_(gate) {}
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (auto s = gate_.pass(); !s.ok()) return s;
    return target()->Sync(o, d);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (auto s = gate_.pass(); !s.ok()) return s;
    return target()->Fsync(o, d);
  }

 private:
  SyncGate& gate_;
};

class GatedFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit GatedFileSystem(SyncGate& gate)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), gate_(gate) {}
  const char* Name() const override { return "NightjarGatedFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    auto s = target()->NewWritableFile(f, o, r, d);
    // Only the write-ahead log: what a write waits for.
    if (s.ok() && *r && f.size() > 4 && f.compare(f.size() - 4, 4, ".log") == 0)
      *r = std::make_unique<GatedFile>(std::move(*r), gate_);
    return s;
  }

 private:
  SyncGate& gate_;
};

StoreOptions synced_options(std::shared_ptr<rocksdb::Env> env = nullptr) {
  StoreOptions o = test_options();
  o.sync = true;
  o.env = std::move(env);
  return o;
}

std::shared_ptr<rocksdb::Env> gated_env(SyncGate& gate) {
  return rocksdb::NewCompositeEnv(std::make_shared<GatedFileSystem>(gate));
}

// Waits on the loop for everything staged so far.
bool durable(TestLoop& loop, MessageStore& store) {
  std::optional<bool> result;
  store.when_durable([&](bool ok) { result = ok; });
  if (!loop.run_until([&] { return result.has_value(); }, 10s)) return false;
  return *result;
}

}  // namespace

TEST_CASE("with a writer, what one turn stages is one batch, visible once it is durable",
          "[store][writer][integration]") {
  TempDir dir("nightjar-writer");
  TestLoop loop;
  {
    auto store = open_store(dir.path(), synced_options());
    store->start_writer(loop.get());
    REQUIRE(store->has_writer());
    std::mt19937_64 rng(7);
    const auto a = test_recipient(1), b = test_recipient(2);
    std::vector<StoredMessage> ms;
    for (int i = 0; i < 100; ++i)
      ms.push_back(random_message(rng, i % 2 ? a : b, t0 + static_cast<std::uint64_t>(i), t0 + hour));
    for (const auto& m : ms)
      REQUIRE(store->put(m, t0).value() == PutResult::stored);
    std::uint64_t first_time = 0;
    auto again = ms[0];
    again.timestamp_ms = t0 + 500;
    CHECK(store->put(again, t0, &first_time).value() == PutResult::duplicate);
    CHECK(first_time == ms[0].timestamp_ms);  // the staged copy's

    // Staged, not written: the loop has not turned.
    CHECK(store->writes_in_progress() == 100);
    CHECK(store->message_count() == 0);
    CHECK_FALSE(store->get(ms[0].id, t0));
    CHECK(store->arrivals(a, 0, Cursor{}, 1000, t0).empty());
    CHECK(store->last_seq(a) == 0);
    CHECK(store->summary() == StoreSummary{});

    REQUIRE(durable(loop, *store));
    CHECK(store->writes_in_progress() == 0);
    CHECK(store->writer_stats().batches == 1);
    CHECK(store->writer_stats().largest_batch == 100);
    CHECK(store->message_count() == 100);
    REQUIRE(store->get(ms[0].id, t0));
    const auto arrived = store->arrivals(a, 0, Cursor{}, 1000, t0);
    REQUIRE(arrived.size() == 50);
    CHECK(store->last_seq(a) == arrived.back().seq);
    CHECK(store->summary() == recompute_summary(*store));
  }
  // Durable means on disk: a reopened store has them all.
  auto reopened = open_store(dir.path(), synced_options());
  CHECK(reopened->message_count() == 100);
  CHECK(loop.drain_and_close());
}

TEST_CASE("writes staged while a batch is written go in the next, checked against it",
          "[store][writer][integration]") {
  TempDir dir("nightjar-writer");
  TestLoop loop;
  SyncGate gate;
  auto options = synced_options(gated_env(gate));
  options.quota_messages = 3;
  auto store = open_store(dir.path(), options);
  store->start_writer(loop.get());
  const auto r = test_recipient(3);
  const auto first = text_message(r, "first", t0, t0 + hour);

  gate.set(true);
  REQUIRE(store->put(first, t0).value() == PutResult::stored);
  std::optional<bool> first_durable;
  store->when_durable([&](bool ok) { first_durable = ok; });
  // The batch is handed over at the end of the turn and held in its sync.
  REQUIRE(loop.run_until([&] { return gate.waiting.load() > 0; }, 5s));
  CHECK_FALSE(first_durable);

  // Staged meanwhile: checked against the batch in flight.
  std::uint64_t when = 0;
  auto copy = first;
  copy.timestamp_ms = t0 + 9;
  CHECK(store->put(copy, t0 + 10, &when).value() == PutResult::duplicate);
  CHECK(when == t0);
  const auto second = text_message(r, "second", t0 + 10, t0 + hour);
  const auto third = text_message(r, "third", t0 + 11, t0 + hour);
  CHECK(store->put(second, t0 + 10).value() == PutResult::stored);
  CHECK(store->put(third, t0 + 11).value() == PutResult::stored);
  auto fourth = store->put(text_message(r, "fourth", t0 + 12, t0 + hour), t0 + 12);
  REQUIRE_FALSE(fourth);
  CHECK(fourth.error() == StoreError::quota_messages);  // counts the staged and the in flight
  CHECK(store->message_count() == 0);
  std::optional<bool> rest_durable;
  store->when_durable([&](bool ok) { rest_durable = ok; });

  gate.set(false);
  REQUIRE(loop.run_until([&] { return rest_durable.has_value(); }, 10s));
  CHECK(first_durable == true);
  CHECK(rest_durable == true);
  CHECK(store->writer_stats().batches == 2);
  CHECK(store->message_count() == 3);
  const auto arrived = store->arrivals(r, 0, Cursor{}, 10, t0 + 20);
  REQUIRE(arrived.size() == 3);
  CHECK(arrived[0].id == first.id);
  CHECK(arrived[1].id == second.id);
  CHECK(arrived[2].id == third.id);
  CHECK(arrived[0].seq < arrived[1].seq);
  CHECK(store->summary() == recompute_summary(*store));
  store.reset();
  CHECK(loop.drain_and_close());
}

TEST_CASE("a batch that fails to be written fails what was staged on top of it",
          "[store][writer][integration]") {
  TempDir dir("nightjar-writer");
  TestLoop loop;
  SyncGate gate;
  auto store = open_store(dir.path(), synced_options(gated_env(gate)));
  store->start_writer(loop.get());
  const auto r = test_recipient(4);

  gate.set(true, /*fail_syncs=*/true);
  REQUIRE(store->put(text_message(r, "lost", t0, t0 + hour), t0).value() == PutResult::stored);
  std::optional<bool> first, second;
  store->when_durable([&](bool ok) { first = ok; });
  REQUIRE(loop.run_until([&] { return gate.waiting.load() > 0; }, 5s));
  REQUIRE(store->put(text_message(r, "on top", t0, t0 + hour), t0).value() == PutResult::stored);
  store->when_durable([&](bool ok) { second = ok; });
  gate.set(false, /*fail_syncs=*/true);
  REQUIRE(loop.run_until([&] { return first.has_value() && second.has_value(); }, 10s));
  CHECK(*first == false);
  CHECK(*second == false);
  CHECK(store->message_count() == 0);
  CHECK(store->summary() == StoreSummary{});
  CHECK(store->writer_stats().failed_batches >= 1);
  store.reset();
  CHECK(loop.drain_and_close());
}

TEST_CASE("with a writer the sweep leaves no expiry key behind, even for a staged due tombstone",
          "[store][writer][integration]") {
  TempDir dir("nightjar-writer");
  TestLoop loop;
  auto store = open_store(dir.path(), synced_options());
  store->start_writer(loop.get());
  const auto r = test_recipient(5);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 30; ++i)
    REQUIRE(store->put(random_message(rng, r, t0, t0 + 1'000), t0).ok());
  REQUIRE(durable(loop, *store));
  REQUIRE(store->message_count() == 30);

  // A tombstone already due, staged in the same batch as the sweep: the
  // sweep's committed view does not show it, so its range delete must not
  // take the tombstone's expiry key.
  const auto ghost = message_id(r, Bytes{});
  REQUIRE(store->put_tombstone(r, ghost, t0 + 500).ok());
  CHECK(store->sweep_expired(t0 + 2'000) == 30);
  CHECK(store->message_count() == 30);  // not before it is written
  REQUIRE(durable(loop, *store));
  CHECK(store->message_count() == 0);
  CHECK(store->contains(ghost));
  CHECK(store->sweep_expired(t0 + 2'000) == 1);  // found through its expiry key
  REQUIRE(durable(loop, *store));
  CHECK_FALSE(store->contains(ghost));
  CHECK(store->summary() == StoreSummary{});
  store.reset();
  CHECK(loop.drain_and_close());
}

TEST_CASE("a store destroyed while a batch is being written waits for it, and calls nothing back",
          "[store][writer][integration]") {
  TempDir dir("nightjar-writer");
  TestLoop loop;
  SyncGate gate;
  const auto r = test_recipient(6);
  bool called = false;
  {
    auto store = open_store(dir.path(), synced_options(gated_env(gate)));
    store->start_writer(loop.get());
    gate.set(true);
    REQUIRE(store->put(text_message(r, "in flight", t0, t0 + hour), t0).ok());
    store->when_durable([&](bool) { called = true; });
    REQUIRE(loop.run_until([&] { return gate.waiting.load() > 0; }, 5s));
    std::thread opener([&] {
      std::this_thread::sleep_for(50ms);
      gate.set(false);
    });
    store.reset();  // blocks until the sync is let through
    opener.join();
  }
  loop.run_for(20ms);
  CHECK_FALSE(called);
  auto reopened = open_store(dir.path(), synced_options());
  CHECK(reopened->message_count() == 1);
  CHECK(loop.drain_and_close());
}
