// Internals of MessageStore, shared by its .cpp files (not for other
// callers): the layout of the column families, and Impl, which holds the open
// database and builds one atomic write at a time.
//
// Column families (all integers big-endian, so byte order is numeric order;
// `mailbox` is mailbox_key(): the recipient's account key for messages, a
// hash of namespace and owner for the other namespaces):
//   messages  mailbox(32) || timestamp_ms(8) || id(32)  ->  expiry_ms(8) || body
//   ids       id(32)  ->  state(1) || owner(32) || timestamp_ms(8) || expiry_ms(8)
//                         || body_bytes(8) || seq(8) || namespace(1)  (state 1 live,
//                         2 tombstone; seq: the live message's arrival number, 0 for a
//                         tombstone; schema 1 entries end before seq and read as seq 0,
//                         schema 1 and 2 entries before the namespace: messages)
//   expiry    expiry_ms(8) || id(32)  ->  empty     (live messages and tombstones)
//   arrivals  mailbox(32) || seq(8)  ->  timestamp_ms(8) || id(32)   (live messages,
//                         in the order they arrived here)
//   meta      "schema_version"  ->  u32
//             "incarnation"  ->  u64, drawn at random when the store is created
//             "clock_ms"  ->  u64, the latest clock reading an arrival number was made from
//             'u' || mailbox(32)  ->  count(8) || body_bytes(8) || last_seq(8)
//                         [|| namespace(1) || owner(32), for namespaces other than
//                         messages, whose mailbox key does not name the owner]
//                         (live messages, for quotas; the mailbox's latest arrival
//                         number; schema 1 records lack it and read as 0)
// The totals (message_count, body_bytes) are not stored: open() recounts
// them from the ids column family while it rebuilds the summary.
//
// Arrival numbers are per recipient, so what a recipient learns from them
// says nothing about anyone else's traffic. They are a hybrid clock:
//   seq = max(the recipient's last_seq + 1, clock_ms << seq_clock_shift)
// where clock_ms never goes back (the store keeps the latest one it used).
// A recipient cannot get 2^20 messages in one millisecond, so every number
// given at clock t is below (t + 1) << 20; a recipient's counter record may
// therefore go once its messages are gone, except in the millisecond its last
// number was given (commit keeps it then), and numbers never repeat. A store
// that is wiped and created again draws a new incarnation, which makes every
// old arrival cursor foreign to it.
//
// A write (Pending) is a WriteBatch plus what it changes in memory: an
// overlay of the ID entries and usage counters it has touched (so later
// operations staged into it see earlier ones), the summary changes and the
// totals. Nothing in memory changes unless the batch is written.
//
// Group commit: every operation stages its changes into the open Pending.
// Without a writer it is written before the operation returns. With one (see
// message_store_writer.cpp) the open Pending is handed to the writer at the
// end of the loop's turn, or as soon as the batch in flight is durable; an
// operation staged meanwhile reads through the open overlay, then the one in
// flight, then the committed database. The loop reads the database through a
// snapshot taken when the last batch was applied, so it sees a batch exactly
// from the moment its summary changes and totals apply.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "routing/runtime.hpp"
#include "swarm/message_store.hpp"

namespace nightjar {

namespace store_layout {

// Schema 3 added namespaces (values only: a schema 2 store opens as is).
inline constexpr std::uint32_t schema_version = 3;

enum Family : std::size_t { messages, ids, expiry, meta, arrival_index, family_count };
inline constexpr std::array<const char*, family_count> family_names = {"messages", "ids", "expiry",
                                                                       "meta", "arrivals"};

inline constexpr std::size_t message_key_bytes = 32 + 8 + 32;
inline constexpr std::size_t id_value_v1_bytes = 1 + 32 + 8 + 8 + 8;
inline constexpr std::size_t id_value_v2_bytes = id_value_v1_bytes + 8;
inline constexpr std::size_t id_value_bytes = id_value_v2_bytes + 1;
inline constexpr std::size_t arrival_key_bytes = 32 + 8;
inline constexpr std::size_t arrival_value_bytes = 8 + 32;
inline constexpr std::size_t expiry_key_bytes = 8 + 32;
inline constexpr std::size_t usage_key_bytes = 1 + 32;
inline constexpr char usage_prefix = 'u';
inline constexpr const char* schema_key = "schema_version";
inline constexpr const char* incarnation_key = "incarnation";
inline constexpr const char* clock_key = "clock_ms";
inline constexpr unsigned seq_clock_shift = 20;
inline constexpr std::size_t usage_value_v1_bytes = 16;
inline constexpr std::size_t usage_value_bytes = 24;
inline constexpr std::size_t usage_value_owner_bytes = usage_value_bytes + 1 + 32;

// One ID index entry.
struct IdEntry {
  bool tombstone = false;
  Ed25519PublicKey recipient;  // the mailbox's owner
  Namespace ns = Namespace::messages;
  std::uint64_t timestamp_ms = 0;
  std::uint64_t expiry_ms = 0;
  std::uint64_t body_bytes = 0;  // 0 for a tombstone
  std::uint64_t seq = 0;         // arrival number of a live message; 0 for a tombstone
};

struct Usage {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  std::uint64_t last_seq = 0;  // the mailbox's latest arrival number
  Mailbox mailbox;             // whose counters these are
  friend bool operator==(const Usage&, const Usage&) = default;
};

void append_be64(std::string& out, std::uint64_t v);
std::uint64_t read_be64(const char* p);
template <std::size_t N, class Tag>
void append_bytes(std::string& out, const FixedBytes<N, Tag>& b) {
  out.append(reinterpret_cast<const char*>(b.data()), N);
}
template <class T>
T fixed_from(const char* p) {
  T t;
  std::copy(p, p + T::size(), reinterpret_cast<char*>(t.data()));
  return t;
}

std::string message_key(const MailboxKey& mailbox, std::uint64_t timestamp_ms,
                        const MessageId& id);
std::string message_value(std::uint64_t expiry_ms, Bytes body);
std::string id_key(const MessageId& id);
std::string id_value(const IdEntry& e);
std::optional<IdEntry> parse_id_value(const rocksdb::Slice& v);
std::string expiry_key(std::uint64_t expiry_ms, const MessageId& id);
std::string arrival_key(const MailboxKey& mailbox, std::uint64_t seq);
std::string arrival_value(std::uint64_t timestamp_ms, const MessageId& id);
std::string be64_string(std::uint64_t v);
std::string usage_key(const MailboxKey& mailbox);
std::string usage_value(const Usage& u);
// `key` is the record's mailbox key (without the prefix): it names the
// mailbox of a messages-namespace record.
std::optional<Usage> parse_usage_value(const rocksdb::Slice& v, const MailboxKey& key);
// The mailbox key of an entry.
inline MailboxKey mailbox_key_of(const IdEntry& e) { return mailbox_key(Mailbox{e.ns, e.recipient}); }

// The smallest key greater than every key that starts with `prefix`; nullopt
// when there is none (all bytes 0xff).
std::optional<std::string> prefix_successor(std::string prefix);

// Adds or removes (the same operation: XOR) one entry in a summary.
void toggle_entry(StoreSummary& summary, const EntryState& e, bool add);

// What MessageStore::open says when RocksDB refuses to open `dir`.
std::string open_error(const std::filesystem::path& dir, const rocksdb::Status& s);

}  // namespace store_layout

struct MessageStore::Impl {
  using IdEntry = store_layout::IdEntry;
  using Usage = store_layout::Usage;
  using Key32 = std::array<std::uint8_t, 32>;

  struct UsageSlot {
    Usage loaded;   // as in the database
    Usage current;  // after this write
  };
  struct Pending {
    rocksdb::WriteBatch batch;
    std::map<Key32, std::optional<IdEntry>> entries;  // nullopt: removed by this write
    std::map<Key32, UsageSlot> usage;
    std::vector<std::pair<EntryState, bool>> summary_changes;  // (entry, added)
    std::int64_t count_delta = 0;
    std::int64_t bytes_delta = 0;
    std::uint64_t clock_ms = 0;  // the clock this write's arrival numbers come from; 0: none
    // The smallest expiry this write gave an expiry index key (the sweep's
    // range delete must not cover a key it did not visit).
    std::uint64_t min_expiry_put_ms = UINT64_MAX;
    // A read failed while an operation was half staged: nothing of this
    // write may be written.
    bool failed = false;
    std::vector<std::function<void(bool)>> on_durable;  // called once it is written, or not
    rocksdb::Status status;  // the writer's result
    std::size_t operations = 0;
  };

  Impl() = default;
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  rocksdb::ColumnFamilyHandle* family(store_layout::Family f) const { return handles[f]; }
  void log_failure(const char* what, const rocksdb::Status& s) const;

  // Reads, through the overlay of `p` when given.
  Result<std::optional<IdEntry>, StoreError> entry(Pending* p, const MessageId& id) const;
  Result<Usage, StoreError> usage(Pending* p, const Mailbox& mailbox) const;
  // Messages of `mailbox` strictly after `after` (nullopt: from the first),
  // unexpired at now_ms, up to `limit`.
  std::vector<StoredMessage> scan_recipient(const Mailbox& mailbox,
                                            const std::optional<Cursor>& after, std::size_t limit,
                                            std::uint64_t now_ms) const;
  // Reads the message of an ID entry; nullopt if it is missing (logged) or
  // `e` is a tombstone.
  std::optional<StoredMessage> read_message(const MessageId& id, const IdEntry& e) const;

  // The recipient's counters in the overlay of `p`, loaded on first use. Load
  // them before the first change, so that no change is followed by a failed read.
  Result<Usage*, StoreError> usage_slot(Pending& p, const Mailbox& mailbox) const;

  // One message of a put_batch: checks it against the store as `p` leaves it
  // and records its changes in `p`. The bool says whether it changed anything.
  // `timestamp_ms`, if given, receives the stored copy's timestamp (the first
  // copy's, for a duplicate).
  Result<std::pair<PutResult, bool>, StoreError> stage_put(Pending& p, const StoredMessage& m,
                                                           std::uint64_t now_ms,
                                                           std::uint64_t* timestamp_ms = nullptr);

  // Changes, recorded in `p`. Each keeps the batch, the overlay, the usage
  // counters, the totals and the summary consistent with one another.
  Result<void, StoreError> insert_live(Pending& p, const StoredMessage& m, std::uint64_t now_ms);
  void insert_tombstone(Pending& p, const MessageId& id, const IdEntry& tombstone);
  // Removes the entry (and its message, if live). With `keep_expiry_key` the
  // expiry index entry is left for the caller (the sweep deletes a range).
  Result<void, StoreError> remove(Pending& p, const MessageId& id, const IdEntry& e,
                                  bool keep_expiry_key = false);
  // Replaces a live message by a tombstone with `expiry_ms`, or moves a
  // tombstone to `expiry_ms`.
  Result<void, StoreError> make_tombstone(Pending& p, const MessageId& id, const IdEntry& e,
                                          std::uint64_t expiry_ms);
  // A live message's expiry moves to `expiry_ms` (a duplicate with a later one).
  void extend_live(Pending& p, const StoredMessage& m, const IdEntry& e, std::uint64_t expiry_ms);

  // Calls `action` on each live message of `recipient` (expired or not); counts
  // the calls that return true.
  using MessageAction = std::function<Result<bool, StoreError>(const IdEntry&, const MessageId&)>;
  Result<std::size_t, StoreError> for_each_message_of(Pending& p, const Mailbox& mailbox,
                                                      const MessageAction& action);

  // Opening: reads the schema version (writing it, with a fresh incarnation,
  // into a new store), upgrades an older schema, and loads the arrival
  // counters.
  Result<void, std::string> check_schema(const std::filesystem::path& dir);
  Result<void, std::string> upgrade_from_v1(const std::string& where);

  // The open Pending, made when first needed.
  Pending& staging();
  // What the totals and the arrival clock will be once every staged write
  // is applied.
  std::uint64_t staged_count(const Pending& p) const;
  std::uint64_t staged_bytes(const Pending& p) const;
  std::uint64_t staged_clock() const;
  // A read failed while an operation was half staged: the open Pending must
  // not be written (its operations fail), and later ones start a new one.
  void poison();
  // Ends an operation that staged changes: without a writer, writes the open
  // Pending now (io_error if that fails); with one, tells the writer.
  // `operations` counts what it staged (for the writer's statistics); without
  // `sync`, a write without a writer is not synced (the sweep's).
  Result<void, StoreError> end_operation(std::size_t operations = 1, bool sync = true);
  // Without a writer: writes the open Pending and applies it.
  Result<void, StoreError> commit_open(bool sync = true);
  // Adds the usage records and the clock to the batch.
  void seal(Pending& p);
  // After the batch is written: the summary, the totals, the clock, the snapshot.
  void apply(const Pending& p);
  rocksdb::ReadOptions read_options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    return ro;
  }

  // The writer (message_store_writer.cpp).
  void start_writer(uv_loop_t* loop);
  void writer_wake();    // something was staged
  void dispatch();       // hands the open Pending to the writer, if it is free
  void written();        // the batch in flight is written (or failed)
  static void complete(Pending& p, bool ok);

  StoreOptions options;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<rocksdb::Cache> cache;
  rocksdb::DB* db = nullptr;
  // Ours first, in Family order, then any others the database has (opened
  // because RocksDB insists, never used).
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::uint64_t message_count = 0;
  std::uint64_t body_bytes = 0;
  std::uint64_t incarnation = 0;
  std::uint64_t clock_ms = 0;  // the latest clock an arrival number came from (committed)

  std::unique_ptr<Pending> open;      // staged, not yet handed to the writer
  std::unique_ptr<Pending> inflight;  // being written
  std::vector<std::unique_ptr<Pending>> poisoned;  // to be completed as failed
  const rocksdb::Snapshot* snapshot = nullptr;  // with a writer: what the loop reads
  StoreSummary* summary = nullptr;              // the MessageStore's
  std::unique_ptr<BackgroundJob> job;
  std::unique_ptr<TurnEnd> turn_end;
  WriterStats writer_stats;

 private:
  void set_entry(Pending& p, const MessageId& id, std::optional<IdEntry> e);
};

}  // namespace nightjar
