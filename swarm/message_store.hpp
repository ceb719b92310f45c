// MessageStore: a node's durable copy of the messages its swarm holds, in
// RocksDB. Every message carries its own expiry, checked on every read and
// enforced by a sweep of the expiry index. Deletes leave tombstones (kept
// until the message would have expired) so that replication does not bring a
// deleted message back. A write is one WriteBatch (message, ID index, expiry
// index, quota counters), synced to the write-ahead log before it is
// acknowledged, so an acknowledged message survives kill -9.
//
// Group commit: on a node, writes leave the event loop. start_writer(loop)
// gives the store a writer; from then on a write operation checks and stages
// its changes at once (its result says what it will do: stored, duplicate,
// quota_bytes...) and returns; the staged changes are written, with
// everything else staged in the same turn of the loop or while the previous
// batch was being synced, as one WriteBatch and one fsync on libuv's thread
// pool. when_durable(done) calls done once everything staged so far is on
// disk: whoever promises durability (the answer to a client's store, a
// replica's acknowledgement) waits for it. Reads see the store as of the last
// batch written: a staged message is not retrieved, counted, summarised or
// given out as an arrival until its batch is durable. Staged writes are seen
// by the checks of later writes (a second copy of an ID staged twice is a
// duplicate; quotas count what is staged). Without a writer (tools, tests)
// every write operation is written before it returns, as before.
//
// Order and cursors: a recipient's messages are ordered by (timestamp_ms, id).
// The timestamp is assigned once, by the node that first accepts the message,
// and travels with every replica, so a cursor means the same on every member
// of the swarm.
//
// Arrival order: each message also gets an arrival number (seq) when it is
// first stored here, from a counter per recipient that never goes back, so
// "what arrived after N" finds a replica that came late with an early
// timestamp. Arrival numbers are local to this store (and tell a recipient
// nothing about other recipients); an ArrivalCursor names the store by its
// incarnation (random, drawn when the store was created) so that a cursor
// from another node, or from before a wipe, is recognised as foreign.
//
// Anti-entropy support: message IDs fall into 256 buckets by their first
// byte; a bucket's summary (count and XOR of per-entry hashes, covering live
// messages and tombstones) is kept up to date in memory, so two replicas find
// the buckets where they differ without reading the database. Entries that
// have expired but are not yet swept still count, until sweep_expired.
//
// Convergence: when two copies of one ID disagree on the expiry (the same
// body stored twice with different TTLs, or a tombstone replicated with
// another expiry), the later expiry wins, on every path (put, put_tombstone),
// and an unexpired tombstone beats a live copy. Both merges are
// order-independent, so replicas that exchange entries end up identical. An
// entry whose expiry has passed counts as absent: a put of its ID stores the
// message afresh.
//
// Resources, with many stores in one process in mind (the simnet): flushes
// and compactions run on the process-wide rocksdb::Env::Default() pool (one
// thread each, whatever the number of stores); a store has about 0.5 MB of
// fixed heap, memtables of at most 8 MiB together, its own block cache of
// cache_bytes, and a handful of file descriptors. Creating a store costs
// about 17 fsyncs, reopening one about 8.
//
// Single-threaded: call from one thread (the node's loop, or a worker that
// owns it); the writer's thread only runs the WriteBatch it was handed.
// Called by node/ request handlers and swarm/ replication.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/result.hpp"

namespace spdlog {
class logger;
}
namespace rocksdb {
class Cache;
class Env;
}  // namespace rocksdb
struct uv_loop_s;

namespace nightjar {

using MessageId = Hash256;

// Storage namespaces: what kind of mailbox an entry belongs to. Every
// namespace is stored, replicated, repaired by anti-entropy and migrated by
// the same rules; placement is always by the owner's key (its swarm), and
// only the storage API's rules differ (who may read and write, and what a
// body must be: docs/STORAGE-FORMAT.md, "Namespaces").
enum class Namespace : std::uint8_t {
  messages = 0,  // a recipient's messages (an account ID)
  records = 1,   // an account's public records (swarm/public_record.hpp)
  groups = 2,    // a group epoch's mailbox (its owner: the epoch's mailbox key, client/group.hpp)
};
inline constexpr std::uint8_t namespace_count = 3;
const char* to_string(Namespace ns);

// A mailbox: a namespace and the key that owns it. A plain account key is
// its messages mailbox.
struct Mailbox {
  Namespace ns = Namespace::messages;
  Ed25519PublicKey owner;
  Mailbox() = default;
  Mailbox(const Ed25519PublicKey& account) : owner(account) {}  // NOLINT: implicit on purpose
  Mailbox(Namespace n, const Ed25519PublicKey& o) : ns(n), owner(o) {}
  friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

// The 32 bytes a mailbox is filed under: the owner's key itself for the
// messages namespace (so messages keep the keys and IDs they always had),
// BLAKE2b-256("nightjar mailbox v1" || ns || owner) for the others.
using MailboxKey = Hash256;
MailboxKey mailbox_key(const Mailbox& mailbox);

// BLAKE2b-256(mailbox_key(mailbox) || body): for messages, BLAKE2b-256(recipient || body).
MessageId message_id(const Mailbox& mailbox, Bytes body);

struct StoredMessage {
  Ed25519PublicKey recipient;  // the mailbox's owner
  MessageId id;
  std::uint64_t timestamp_ms = 0;  // cursor order; assigned by the first node
  std::uint64_t expiry_ms = 0;     // unix milliseconds; gone after this
  std::vector<std::uint8_t> body;  // ciphertext, never logged
  // Where it is in this store's arrival order (set by arrivals() and get(); 0
  // otherwise).
  // Local to one store: replication neither sends nor keeps it.
  std::uint64_t seq = 0;
  Namespace ns = Namespace::messages;  // with `recipient`, the mailbox
  Mailbox mailbox() const { return Mailbox{ns, recipient}; }
};

// Retrieve returns messages strictly after the cursor. The zero cursor is
// before everything.
struct Cursor {
  std::uint64_t timestamp_ms = 0;
  MessageId id;
  friend bool operator==(const Cursor&, const Cursor&) = default;
  // The retrieve order: by time, then by ID.
  friend bool operator<(const Cursor& a, const Cursor& b) {
    return a.timestamp_ms < b.timestamp_ms || (a.timestamp_ms == b.timestamp_ms && a.id < b.id);
  }
};
Cursor cursor_of(const StoredMessage& m);

// A position in one store's arrival order: everything with a higher seq
// arrived later. The zero cursor is foreign to every store.
struct ArrivalCursor {
  std::uint64_t incarnation = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const ArrivalCursor&, const ArrivalCursor&) = default;
};

enum class StoreError {
  quota_messages,  // the recipient already has the most messages allowed
  quota_bytes,     // the recipient's messages would exceed the byte quota
  disk_full,       // the node's disk cap would be exceeded
  expired,         // expiry_ms is not in the future
  deleted,         // a tombstone says the recipient deleted this message
  bad_id,          // the ID is not message_id(recipient, body)
  io_error,        // RocksDB failed (logged with its status)
};
const char* to_string(StoreError e);

enum class PutResult { stored, duplicate };

// What the disk cap charges for one message besides its body: its three keys,
// the index values and RocksDB's per-entry overhead (about 210 bytes of keys
// and values, rounded up). Without it a flood of tiny bodies would be free.
inline constexpr std::uint64_t message_overhead_bytes = 256;

struct StoreOptions {
  // Node-wide, over all live messages: body_bytes() + message_count() *
  // message_overhead_bytes. Tombstones (small, short-lived) are not charged.
  std::uint64_t disk_cap_bytes = 10ull << 30;
  std::uint32_t quota_messages = 10'000;   // per recipient
  std::uint64_t quota_bytes = 8ull << 20;  // per recipient (bodies only)
  bool sync = true;                        // fsync the WAL on every write
  std::size_t cache_bytes = 8u << 20;      // RocksDB block cache, shared by the column families
  // A block cache shared with other stores (the simnet's many nodes in one
  // process); when set, cache_bytes is ignored.
  std::shared_ptr<rocksdb::Cache> shared_cache;
  // The file system RocksDB works on; null: rocksdb::Env::Default(). The
  // simnet's in-process nodes use one without fsyncs or directory handles.
  std::shared_ptr<rocksdb::Env> env;
  std::shared_ptr<spdlog::logger> log;  // null: spdlog's default logger
};

// What the writer did (group commit).
struct WriterStats {
  std::uint64_t batches = 0;         // WriteBatches written (one fsync each)
  std::uint64_t operations = 0;      // write operations they carried
  std::uint64_t largest_batch = 0;   // the most operations in one batch
  std::uint64_t failed_batches = 0;  // failed to write, or poisoned by a failed read
};

struct BucketSummary {
  std::uint32_t count = 0;
  Hash256 digest;  // XOR of entry_hash over the bucket's entries
  friend bool operator==(const BucketSummary&, const BucketSummary&) = default;
};
inline constexpr std::size_t summary_buckets = 256;
using StoreSummary = std::array<BucketSummary, summary_buckets>;

// One entry of a bucket, as replicas exchange them.
struct EntryState {
  MessageId id;
  bool tombstone = false;
  std::uint64_t expiry_ms = 0;
  friend bool operator==(const EntryState&, const EntryState&) = default;
};
// BLAKE2b-256 of (id || tombstone flag || expiry): what summaries XOR.
Hash256 entry_hash(const EntryState& e);

class MessageStore {
 public:
  static Result<std::unique_ptr<MessageStore>, std::string> open(const std::filesystem::path& dir,
                                                                 StoreOptions options);
  ~MessageStore();
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  // Makes the store's writes go through a writer on `loop` (see the top).
  // Call once, on the loop's thread, before the loop runs the store's users.
  void start_writer(uv_loop_s* loop);
  bool has_writer() const;
  // Calls done(true) once everything staged so far is durable, done(false)
  // if its batch failed to be written. Without a writer, or with nothing
  // staged or in flight, at once. Never called if the store is destroyed
  // first.
  void when_durable(std::function<void(bool ok)> done);
  // Write operations staged or being written.
  std::size_t writes_in_progress() const;
  const WriterStats& writer_stats() const;

  // Stores (idempotently: the same ID again is `duplicate`, and keeps the first
  // copy's timestamp, which `timestamp_ms` receives when given; a later expiry
  // extends the stored one). Durable when it returns ok (with options.sync)
  // without a writer, at when_durable() with one. Checks, in order: expired,
  // bad_id, deleted or duplicate, quota_messages, quota_bytes, disk_full; a
  // refused put changes nothing.
  Result<PutResult, StoreError> put(const StoredMessage& m, std::uint64_t now_ms,
                                    std::uint64_t* timestamp_ms = nullptr);
  // Several messages in one WriteBatch and one sync; one result each, as if
  // put one after another (a later copy of an ID in the batch is a duplicate).
  // If the write fails, every message that would have been stored is io_error.
  std::vector<Result<PutResult, StoreError>> put_batch(std::span<const StoredMessage> ms,
                                                       std::uint64_t now_ms,
                                                       std::uint64_t* timestamps_ms = nullptr);

  // Up to `limit` unexpired messages of `recipient` after `after`, in order.
  std::vector<StoredMessage> retrieve(const Mailbox& mailbox, const Cursor& after,
                                      std::size_t limit, std::uint64_t now_ms) const;
  // Up to `limit` unexpired messages of `recipient` that arrived here after
  // arrival number `after_seq` and sort after `floor` in cursor order, in
  // arrival order; each carries its seq.
  std::vector<StoredMessage> arrivals(const Mailbox& mailbox, std::uint64_t after_seq,
                                      const Cursor& floor, std::size_t limit,
                                      std::uint64_t now_ms) const;
  // This store's incarnation, and the recipient's latest arrival number
  // (written): every message for it that arrives from now on gets a higher
  // one. 0 when it has none here (or RocksDB failed: logged).
  std::uint64_t incarnation() const;
  std::uint64_t last_seq(const Mailbox& mailbox) const;

  std::optional<StoredMessage> get(const MessageId& id, std::uint64_t now_ms) const;
  // Live or tombstone, expired or not, until the sweep removes it (what the
  // summaries cover). False also when RocksDB fails (logged).
  bool contains(const MessageId& id) const;
  // The ID index's record of `id` (live or tombstone, expired or not, until
  // swept): what replication needs to pass on a tombstone.
  struct IndexEntry {
    Ed25519PublicKey recipient;  // the mailbox's owner
    Namespace ns = Namespace::messages;
    std::uint64_t timestamp_ms = 0;
    std::uint64_t expiry_ms = 0;
    bool tombstone = false;
  };
  std::optional<IndexEntry> index_entry(const MessageId& id) const;

  // Deletes one unexpired message of `recipient`, leaving a tombstone with the
  // message's expiry (which `expiry_ms` receives when given). False if there
  // was no such live message (staged ones count).
  Result<bool, StoreError> erase(const Mailbox& mailbox, const MessageId& id,
                                 std::uint64_t now_ms, std::uint64_t* expiry_ms = nullptr);
  // Replication of a delete: records a tombstone for `id`, deleting the
  // message if it is here (the tombstone keeps the later of the two expiries).
  // An already expired tombstone is recorded too, and goes at the next sweep.
  Result<void, StoreError> put_tombstone(const Mailbox& mailbox, const MessageId& id,
                                         std::uint64_t expiry_ms);
  // Deletes all of a recipient's unexpired messages, leaving a tombstone for
  // each; returns how many. Its expired messages go without a tombstone.
  // Messages still being written (with a writer) are not among them.
  Result<std::size_t, StoreError> erase_all(const Mailbox& mailbox,
                                            std::uint64_t now_ms);

  // Removes up to `max` expired messages and tombstones, oldest expiry first,
  // in rounds of at most sweep_batch entries (each its own unsynced
  // WriteBatch without a writer: a sweep lost in a crash is redone by the
  // next one; staged like any write with one); returns how many.
  static constexpr std::size_t sweep_batch = 1'000;
  std::size_t sweep_expired(std::uint64_t now_ms, std::size_t max = 10'000);

  // Anti-entropy.
  const StoreSummary& summary() const { return summary_; }
  std::vector<EntryState> bucket_entries(std::size_t bucket) const;

  // Migration: the mailboxes (of every namespace) that have messages stored
  // (from the quota counters, so one whose messages have all expired is
  // listed until the sweep), in mailbox_key order, from `after` (exclusive;
  // nullopt: from the start), at most `limit`.
  std::vector<Mailbox> recipients(std::optional<Mailbox> after, std::size_t limit) const;
  // All unexpired messages of a mailbox (for migration), in order, up to `limit`.
  std::vector<StoredMessage> all_of(const Mailbox& mailbox, std::size_t limit,
                                    std::uint64_t now_ms) const;
  // Migration: drops those of `ids` that are messages of `recipient` here,
  // expired or not, without tombstones (the swarm they moved to acknowledged
  // them); the recipient's other messages and its tombstones stay. Returns
  // how many.
  Result<std::size_t, StoreError> drop_messages(const Mailbox& mailbox,
                                                const std::set<MessageId, std::less<>>& ids);

  // Live messages stored (expired ones count until swept), and their bodies.
  // The network's per-recipient quota (from the directory) replaces the
  // configured one; it applies to puts from now on.
  void set_recipient_quota(std::uint32_t messages, std::uint64_t bytes);

  std::uint64_t message_count() const;
  std::uint64_t body_bytes() const;
  std::uint64_t disk_bytes() const;  // RocksDB's SST files + live WAL files
  void flush();                      // memtables to disk (not needed before shutdown)
  // True while RocksDB has a flush or compaction running or due: for metrics,
  // and for benchmarks that measure a settled store.
  bool background_work_pending() const;

 private:
  struct Impl;
  explicit MessageStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  StoreSummary summary_{};
};

}  // namespace nightjar
