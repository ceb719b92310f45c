// Storage namespaces in the message store, on a real RocksDB database: one
// owner's mailboxes (messages, public records) kept apart in every read,
// count and delete, told apart by migration's listing, and kept across a
// reopen; a schema 2 store opens as schema 3. Time is an explicit now_ms.
#include <rocksdb/db.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "swarm/message_store.hpp"
#include "swarm/message_store_impl.hpp"
#include "tests/integration/store_test_util.hpp"

using namespace nightjar;
using namespace nightjar::test;

namespace {

constexpr std::uint64_t t0 = 1'700'000'000'000;
constexpr std::uint64_t hour = 3'600'000;

StoredMessage in_namespace(Namespace ns, const Ed25519PublicKey& owner, std::string_view text,
                           std::uint64_t timestamp_ms) {
  StoredMessage m;
  m.recipient = owner;
  m.ns = ns;
  m.body.assign(text.begin(), text.end());
  m.id = message_id(m.mailbox(), m.body);
  m.timestamp_ms = timestamp_ms;
  m.expiry_ms = t0 + hour;
  return m;
}

// Runs `edit` on a raw RocksDB handle of the store's database (closed).
template <class Edit>
void edit_database(const std::filesystem::path& dir, Edit edit) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.string(), families, &h, &db).ok());
  auto family = [&](const char* name) {
    return h[static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin())];
  };
  edit(*db, family);
  for (auto* x : h) REQUIRE(db->DestroyColumnFamilyHandle(x).ok());
  REQUIRE(db->Close().ok());
  delete db;
}

}  // namespace

TEST_CASE("mailbox keys: the account itself for messages, a labelled hash otherwise", "[store]") {
  const auto owner = test_recipient(1);
  CHECK(mailbox_key(Mailbox{owner}) == MailboxKey{owner.bytes});
  const MailboxKey records = mailbox_key(Mailbox{Namespace::records, owner});
  CHECK_FALSE(records == MailboxKey{owner.bytes});
  std::vector<std::uint8_t> input;
  const std::string label = "nightjar mailbox v1";
  input.assign(label.begin(), label.end());
  input.push_back(1);
  input.insert(input.end(), owner.bytes.begin(), owner.bytes.end());
  CHECK(records == crypto::blake2b_256(input));
  // The same body in two namespaces is two messages.
  const std::vector<std::uint8_t> body = {1, 2, 3};
  CHECK_FALSE(message_id(Mailbox{owner}, body) == message_id(Mailbox{Namespace::records, owner}, body));
}

TEST_CASE("one owner's mailboxes stay apart in reads, counts, deletes and migration's listing",
          "[store][integration]") {
  TempDir dir;
  const auto owner = test_recipient(7);
  const Mailbox messages{owner};
  const Mailbox records{Namespace::records, owner};
  const auto msg = in_namespace(Namespace::messages, owner, "same bytes", t0);
  const auto rec = in_namespace(Namespace::records, owner, "same bytes", t0);
  REQUIRE_FALSE(msg.id == rec.id);
  {
    auto store = open_store(dir.path());
    REQUIRE(store->put(msg, t0).ok());
    REQUIRE(store->put(rec, t0).ok());
    // An ID made for the other namespace is refused.
    auto wrong = rec;
    wrong.id = msg.id;
    CHECK(store->put(wrong, t0).error() == StoreError::bad_id);

    CHECK(ids_of(store->all_of(messages, 10, t0)) == std::vector{msg.id});
    CHECK(ids_of(store->all_of(records, 10, t0)) == std::vector{rec.id});
    CHECK(ids_of(store->retrieve(messages, Cursor{}, 10, t0)) == std::vector{msg.id});
    CHECK(ids_of(store->arrivals(records, 0, Cursor{}, 10, t0)) == std::vector{rec.id});
    const auto got = store->get(rec.id, t0);
    REQUIRE(got);
    CHECK(got->ns == Namespace::records);
    CHECK(got->recipient == owner);
    CHECK(store->index_entry(rec.id)->ns == Namespace::records);
    CHECK(store->last_seq(messages) != 0);
    CHECK(store->last_seq(records) != 0);

    auto listed = store->recipients(std::nullopt, 10);
    std::sort(listed.begin(), listed.end(),
              [](const Mailbox& a, const Mailbox& b) { return a.ns < b.ns; });
    CHECK(listed == std::vector<Mailbox>{messages, records});

    // A delete names its mailbox: the record is not a message of the owner.
    CHECK_FALSE(*store->erase(messages, rec.id, t0));
    CHECK(store->message_count() == 2);
  }
  {
    // Reopened: everything where it was.
    auto store = open_store(dir.path());
    CHECK(store->message_count() == 2);
    CHECK(ids_of(store->all_of(records, 10, t0)) == std::vector{rec.id});
    CHECK(store->recipients(std::nullopt, 10).size() == 2);
    CHECK(store->summary() == recompute_summary(*store));
    // delete_all of the records leaves the messages.
    CHECK(*store->erase_all(records, t0) == 1);
    CHECK(store->all_of(records, 10, t0).empty());
    CHECK(ids_of(store->all_of(messages, 10, t0)) == std::vector{msg.id});
    const auto tomb = store->index_entry(rec.id);
    REQUIRE(tomb);
    CHECK(tomb->tombstone);
    CHECK(tomb->ns == Namespace::records);
    // Migration drops by mailbox.
    CHECK(*store->drop_messages(records, {msg.id}) == 0);
    CHECK(*store->drop_messages(messages, {msg.id}) == 1);
    CHECK(store->recipients(std::nullopt, 10).empty());
  }
}

TEST_CASE("a schema 2 store opens as schema 3 and reads its entries as messages",
          "[store][integration]") {
  TempDir dir;
  const auto alice = test_recipient(3);
  const auto m = text_message(alice, "from schema 2", t0, t0 + hour);
  {
    auto store = open_store(dir.path());
    REQUIRE(store->put(m, t0).ok());
  }
  edit_database(dir.path(), [&](rocksdb::DB& db, auto family) {
    // Schema 2 ID entries end before the namespace byte.
    rocksdb::WriteBatch b;
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), family("ids")));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const auto v = it->value().ToString();
      REQUIRE(v.size() == store_layout::id_value_bytes);
      b.Put(family("ids"), it->key(), v.substr(0, store_layout::id_value_v2_bytes));
    }
    b.Put(family("meta"), store_layout::schema_key, std::string("\0\0\0\x02", 4));
    REQUIRE(db.Write(rocksdb::WriteOptions(), &b).ok());
  });
  {
    auto store = open_store(dir.path());
    CHECK(ids_of(store->all_of(alice, 10, t0)) == std::vector{m.id});
    const auto e = store->index_entry(m.id);
    REQUIRE(e);
    CHECK(e->ns == Namespace::messages);
    REQUIRE(store->erase(alice, m.id, t0).ok());
  }
  std::string version;
  edit_database(dir.path(), [&](rocksdb::DB& db, auto family) {
    REQUIRE(db.Get(rocksdb::ReadOptions(), family("meta"), store_layout::schema_key, &version).ok());
  });
  CHECK(version == std::string("\0\0\0\x03", 4));
}
