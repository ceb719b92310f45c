// Opening and closing the message store: RocksDB options sized for many
// small stores in one process, the schema check (and the upgrade from schema
// 1), and the rebuild of the summary and totals from the ID index.
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <system_error>

#include "routing/runtime.hpp"
#include "swarm/message_store_impl.hpp"

namespace nightjar {

using namespace store_layout;

namespace {

constexpr std::size_t write_buffer_bytes = 4u << 20;       // per column family
constexpr std::size_t all_write_buffers_bytes = 8u << 20;  // per store
constexpr std::uint64_t max_wal_bytes = 16u << 20;
constexpr int max_open_files = 256;

rocksdb::DBOptions db_options() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  // One flush and one compaction at a time. The threads belong to the
  // process-wide default Env, so hundreds of stores in one simnet process
  // share these two instead of bringing their own.
  o.env = rocksdb::Env::Default();
  o.max_background_jobs = 2;
  o.max_file_opening_threads = 1;
  o.max_open_files = max_open_files;
  o.db_write_buffer_size = all_write_buffers_bytes;
  // The meta family takes a few bytes per write and would otherwise hold
  // every WAL file alive until it filled its own memtable.
  o.max_total_wal_size = max_wal_bytes;
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  o.keep_log_file_num = 2;
  o.max_log_file_size = 1u << 20;
  o.max_manifest_file_size = 8u << 20;
  o.stats_dump_period_sec = 0;
  o.stats_persist_period_sec = 0;
  return o;
}

rocksdb::ColumnFamilyOptions family_options(const std::shared_ptr<rocksdb::Cache>& cache,
                                            bool bloom, bool memtable_bloom = false) {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = write_buffer_bytes;
  // The ID of every message that arrives is looked up first (a retry, a
  // replica met twice, a tombstone) and is almost never there: a Bloom filter
  // over the memtable's keys (2 % of it, 80 KiB) answers most of those
  // misses without a skip-list search.
  if (memtable_bloom) {
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.02;
  }
  o.max_write_buffer_number = 2;
  // Bodies are ciphertext and keys are hashes: compression would cost CPU
  // and save nothing.
  o.compression = rocksdb::kNoCompression;
  o.bottommost_compression = rocksdb::kNoCompression;
  o.compression_per_level.clear();
  o.level_compaction_dynamic_level_bytes = true;
  o.target_file_size_base = 16u << 20;
  o.max_bytes_for_level_base = 64u << 20;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;  // so that the cache bounds their memory too
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  // Point lookups of IDs and quota counters mostly miss (a new message, a
  // new recipient): a Bloom filter answers those without reading a block.
  if (bloom) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

std::string be32(std::uint32_t v) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v >> shift)));
  return out;
}

std::optional<std::uint64_t> read_meta_u64(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta_family,
                                          const char* key) {
  std::string v;
  if (!db.Get(rocksdb::ReadOptions(), meta_family, key, &v).ok() || v.size() != 8)
    return std::nullopt;
  return read_be64(v.data());
}

}  // namespace

// Schema 1 -> 2: every live message gets an arrival number, in each
// recipient's timestamp order (clock << 20, plus its place), an arrival
// index entry, and its recipient's counter record its last number. Written
// in batches; the version moves to 2 only with the last one, so an upgrade
// cut short is simply done again (the first batch clears what a cut-short
// one left in the arrival index).
Result<void, std::string> MessageStore::Impl::upgrade_from_v1(const std::string& where) {
  Impl& impl = *this;
  constexpr std::size_t batch_entries = 1'000;
  const std::uint64_t now = system_unix_ms();  // opening a store has no node clock yet
  rocksdb::WriteBatch batch;
  batch.DeleteRange(impl.family(arrival_index), rocksdb::Slice(),
                    std::string(arrival_key_bytes + 1, '\xff'));
  rocksdb::WriteOptions wo;
  wo.sync = impl.options.sync;
  std::size_t numbered = 0;
  std::size_t malformed = 0;
  std::uint64_t most = 0;  // the most messages of one recipient
  std::optional<Ed25519PublicKey> recipient;
  std::uint64_t place = 0;
  // The recipient's counter record gets its last number.
  auto finish_recipient = [&]() -> Result<void, std::string> {
    if (!recipient || place == 0) return {};
    std::string value;
    const rocksdb::Status s =
        impl.db->Get(rocksdb::ReadOptions(), impl.family(meta), usage_key(MailboxKey{recipient->bytes}), &value);
    if (!s.ok() && !s.IsNotFound()) return fail("cannot upgrade message store " + where + ": " + s.ToString());
    const Usage none{0, 0, 0, Mailbox{*recipient}};
    Usage u = s.ok() ? parse_usage_value(value, MailboxKey{recipient->bytes}).value_or(none) : none;
    u.last_seq = (now << seq_clock_shift) + place - 1;
    batch.Put(impl.family(meta), usage_key(MailboxKey{recipient->bytes}), usage_value(u));
    most = std::max(most, place);
    return {};
  };
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl.db->NewIterator(ro, impl.family(messages)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() != message_key_bytes) {
      ++malformed;
      continue;
    }
    const auto id = fixed_from<MessageId>(key.data() + 40);
    std::string value;
    if (!impl.db->Get(rocksdb::ReadOptions(), impl.family(ids), id_key(id), &value).ok()) {
      ++malformed;
      continue;
    }
    auto e = parse_id_value(value);
    if (!e || e->tombstone) {
      ++malformed;
      continue;
    }
    if (!recipient || !(*recipient == e->recipient)) {
      if (auto r = finish_recipient(); !r) return r;
      recipient = e->recipient;
      place = 0;
    }
    e->seq = (now << seq_clock_shift) + place++;
    batch.Put(impl.family(ids), id_key(id), id_value(*e));
    batch.Put(impl.family(arrival_index), arrival_key(MailboxKey{e->recipient.bytes}, e->seq),
              arrival_value(e->timestamp_ms, id));
    ++numbered;
    if (batch.Count() >= 2 * batch_entries) {
      if (auto s = impl.db->Write(wo, &batch); !s.ok())
        return fail("cannot upgrade message store " + where + ": " + s.ToString());
      batch.Clear();
    }
  }
  if (!it->status().ok())
    return fail("cannot upgrade message store " + where + ": " + it->status().ToString());
  if (auto r = finish_recipient(); !r) return r;
  // Past every number given here, so that later ones are higher.
  const std::uint64_t clock = now + 1 + (most >> seq_clock_shift);
  batch.Put(impl.family(meta), incarnation_key, be64_string(crypto::random_u64()));
  batch.Put(impl.family(meta), clock_key, be64_string(clock));
  batch.Put(impl.family(meta), schema_key, be32(schema_version));
  if (auto s = impl.db->Write(wo, &batch); !s.ok())
    return fail("cannot upgrade message store " + where + ": " + s.ToString());
  if (malformed > 0)
    impl.log->error("message store: {} messages without a live ID entry left out of the upgrade",
                    malformed);
  impl.log->info("message store {} upgraded from schema 1 to {}: {} messages numbered", where,
                 schema_version, numbered);
  return {};
}

Result<void, std::string> MessageStore::Impl::check_schema(const std::filesystem::path& dir) {
  Impl& impl = *this;
  const std::string where = dir.string();
  std::string version;
  rocksdb::Status s = impl.db->Get(rocksdb::ReadOptions(), impl.family(meta), schema_key, &version);
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(
        impl.db->NewIterator(rocksdb::ReadOptions(), impl.family(ids)));
    it->SeekToFirst();
    if (it->Valid()) return fail("message store " + where + " holds messages but no schema version");
    // Not synced: the WAL is sequential, so the first synced message write
    // makes this durable too, and until then a lost version (and
    // incarnation: no client can hold an arrival cursor of a store that never
    // answered) is simply written again by the next open.
    rocksdb::WriteBatch batch;
    batch.Put(impl.family(meta), schema_key, be32(schema_version));
    batch.Put(impl.family(meta), incarnation_key, be64_string(crypto::random_u64()));
    batch.Put(impl.family(meta), clock_key, be64_string(0));
    s = impl.db->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return fail("cannot initialise message store " + where + ": " + s.ToString());
  } else if (!s.ok()) {
    return fail("cannot read message store " + where + ": " + s.ToString());
  } else {
    std::uint32_t found = 0;
    for (const char c : version)
      found = (found << 8) | static_cast<std::uint8_t>(c);
    if (version.size() == 4 && found == 1) {
      if (auto r = upgrade_from_v1(where); !r) return r;
    } else if (version.size() == 4 && found == 2) {
      // Schema 3 only added namespaces: schema 2 keys and values read as the
      // messages namespace, so the version is all that changes.
      rocksdb::WriteOptions wo;
      wo.sync = impl.options.sync;
      s = impl.db->Put(wo, impl.family(meta), schema_key, be32(schema_version));
      if (!s.ok()) return fail("cannot upgrade message store " + where + ": " + s.ToString());
    } else if (version.size() != 4 || found != schema_version) {
      return fail("message store " + where + " has schema version " +
                  (version.size() == 4 ? std::to_string(found) : "(malformed)") +
                  "; this build reads versions 1 to " + std::to_string(schema_version));
    }
  }
  const auto stored_incarnation = read_meta_u64(*impl.db, impl.family(meta), incarnation_key);
  const auto stored_clock = read_meta_u64(*impl.db, impl.family(meta), clock_key);
  if (!stored_incarnation || !stored_clock)
    return fail("message store " + where + " lacks its incarnation or arrival clock");
  impl.incarnation = *stored_incarnation;
  impl.clock_ms = *stored_clock;
  return {};
}


namespace store_layout {

namespace {
bool mentions_lock(const std::string& s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("lock") != std::string::npos;
}

}  // namespace

std::string open_error(const std::filesystem::path& dir, const rocksdb::Status& s) {
  const std::string status = s.ToString();
  // "while open a file for lock: ...: Too many open files" mentions the lock
  // too, but is the process's descriptor limit, not another holder.
  if (status.find("Too many open files") != std::string::npos)
    return "cannot open message store " + dir.string() +
           ": this process has run out of file descriptors (ulimit -n): " + status;
  if (s.IsIOError() && mentions_lock(status))
    return "message store " + dir.string() +
           " is already open (locked by this or another process): " + status;
  return "cannot open message store " + dir.string() + ": " + status;
}

}  // namespace store_layout

MessageStore::Impl::~Impl() {
  // A batch being written is finished first (its callbacks never run: the
  // answers waiting on it are not sent, which is what a crash would do too).
  job.reset();
  turn_end.reset();
  if (!db) return;
  if (snapshot) db->ReleaseSnapshot(snapshot);
  for (auto* h : handles)
    db->DestroyColumnFamilyHandle(h);
  const rocksdb::Status s = db->Close();
  if (!s.ok()) log_failure("closing", s);
  delete db;
}

MessageStore::MessageStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->summary = &summary_;
}
MessageStore::~MessageStore() = default;

Result<std::unique_ptr<MessageStore>, std::string> MessageStore::open(
    const std::filesystem::path& dir, StoreOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return fail("cannot create message store directory " + dir.string() + ": " + ec.message());

  auto impl = std::make_unique<Impl>();
  impl->log = options.log ? options.log : spdlog::default_logger();
  impl->options = std::move(options);
  impl->cache = impl->options.shared_cache ? impl->options.shared_cache
                                           : rocksdb::NewLRUCache(impl->options.cache_bytes);

  rocksdb::DBOptions db_opts = db_options();
  if (impl->options.env) db_opts.env = impl->options.env.get();
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (std::size_t f = 0; f < family_count; ++f)
    families.emplace_back(family_names[f], family_options(impl->cache, f != messages, f == ids));
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, family_options(impl->cache, false));
  // RocksDB refuses to open a database without all of its families; a newer
  // schema may have added some, and the version check below says so clearly.
  std::vector<std::string> existing;
  const bool exists = rocksdb::DB::ListColumnFamilies(db_opts, dir.string(), &existing).ok();
  for (const auto& name : existing) {
    const bool known = std::any_of(families.begin(), families.end(),
                                   [&](const auto& d) { return d.name == name; });
    if (!known) families.emplace_back(name, family_options(impl->cache, false));
  }
  // A new store: opening with create_missing_column_families rewrites and
  // syncs the OPTIONS file once per family; CreateColumnFamilies writes it
  // once for all. Creation time matters when a simnet makes hundreds.
  std::vector<rocksdb::ColumnFamilyDescriptor> to_create;
  if (!exists) {
    to_create.assign(families.begin(), families.begin() + family_count);
    families.erase(families.begin(), families.begin() + family_count);
  }
  rocksdb::Status s = rocksdb::DB::Open(db_opts, dir.string(), families, &impl->handles, &impl->db);
  if (!s.ok()) return fail(open_error(dir, s));
  if (!to_create.empty()) {
    std::vector<rocksdb::ColumnFamilyHandle*> created;
    s = impl->db->CreateColumnFamilies(to_create, &created);
    impl->handles.insert(impl->handles.begin(), created.begin(), created.end());
    if (!s.ok() || created.size() != family_count)
      return fail("cannot create message store " + dir.string() + ": " + s.ToString());
  }

  if (auto v = impl->check_schema(dir); !v) return v.failure();
  // The summary and totals live in memory only: recount them.
  std::unique_ptr<MessageStore> store(new MessageStore(std::move(impl)));
  Impl& in = *store->impl_;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 1u << 20;
  std::unique_ptr<rocksdb::Iterator> it(in.db->NewIterator(ro, in.family(ids)));
  std::size_t malformed = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto e = parse_id_value(it->value());
    if (it->key().size() != MessageId::size() || !e) {
      ++malformed;
      continue;
    }
    const auto id = fixed_from<MessageId>(it->key().data());
    toggle_entry(store->summary_, EntryState{id, e->tombstone, e->expiry_ms}, true);
    if (!e->tombstone) {
      in.message_count += 1;
      in.body_bytes += e->body_bytes;
    }
  }
  if (!it->status().ok())
    return fail("cannot read message store " + dir.string() + ": " + it->status().ToString());
  if (malformed > 0)
    in.log->error("message store: {} malformed ID index entries ignored", malformed);
  in.log->info("message store {} open: {} messages, {} body bytes", dir.string(), in.message_count,
               in.body_bytes);
  return store;
}

std::uint64_t MessageStore::message_count() const {
  return impl_->message_count;
}
std::uint64_t MessageStore::body_bytes() const {
  return impl_->body_bytes;
}

std::uint64_t MessageStore::disk_bytes() const {
  std::uint64_t sst = 0;
  if (!impl_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst))
    sst = 0;
  std::uint64_t wal = 0;
  rocksdb::VectorLogPtr files;
  const rocksdb::Status s = impl_->db->GetSortedWalFiles(files);
  if (s.ok()) {
    for (const auto& f : files)
      if (f->Type() == rocksdb::kAliveLogFile) wal += f->SizeFileBytes();
  } else {
    impl_->log_failure("listing WAL files", s);
  }
  return sst + wal;
}

void MessageStore::flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> ours(impl_->handles.begin(),
                                                 impl_->handles.begin() + family_count);
  const rocksdb::Status s = impl_->db->Flush(fo, ours);
  if (!s.ok()) impl_->log_failure("flushing", s);
}

bool MessageStore::background_work_pending() const {
  // Per family or per database, summed over the families: only "> 0" matters.
  for (const auto* property : {"rocksdb.num-running-flushes", "rocksdb.num-running-compactions",
                               "rocksdb.mem-table-flush-pending", "rocksdb.compaction-pending"}) {
    std::uint64_t v = 0;
    if (impl_->db->GetAggregatedIntProperty(property, &v) && v > 0) return true;
  }
  return false;
}

}  // namespace nightjar
