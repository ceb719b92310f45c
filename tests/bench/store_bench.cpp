// store_bench: how fast the message store takes durable writes, against the
// raw cost of the fsync that makes a write durable, and how long a retrieve
// takes from a large store.
//
//   stores_per_s        durable stores per second on one node's store with
//                       256 stores in flight: the store's writer on a libuv
//                       loop (group commit: one fsynced WriteBatch carries
//                       whatever was staged while the previous one synced);
//                       a store counts when when_durable() says it is on disk
//                       and the next one is staged at once (400-byte random
//                       bodies, recipients drawn from a Zipf(1) distribution
//                       over 10,000 accounts); what a node sustains
//   serial_stores_per_s MessageStore::put without a writer, one at a time:
//                       one fsynced WriteBatch per message
//   batch_stores_per_s  messages per second through put_batch of 64, one sync each
//   fsync_per_s         raw write(2) of a 512-byte record + fdatasync, appending
//                       to a file in the same directory that is preallocated
//                       with fallocate(KEEP_SIZE) the way RocksDB preallocates
//                       its WAL: what one WAL sync costs
//   stores_ratio        stores_per_s / fsync_per_s (median of the rounds'
//                       ratios): durable stores per raw fsync
//   serial_ratio        serial_stores_per_s / fsync_per_s, likewise
//   batch_ratio         batch_stores_per_s / (64 * fsync_per_s), likewise
//   writer_batch_mean   stores per batch the writer wrote (stores_per_s run)
//   retrieve_p50_ms,    retrieve of 100 messages of one recipient (random among
//   retrieve_p99_ms     all) from a store holding --messages messages, filled
//                       beforehand (untimed) with sync off and put_batch, then
//                       flushed and left to finish its compactions (bounded), so
//                       that reads come from settled SST files; wall time
//   retrieve_cpu_p50_ms, the same in the thread's CPU time: what is left when
//   retrieve_cpu_p99_ms  other processes take the core away (shared machines)
//   replicated_stores_per_s  stores acknowledged by a quorum (3 of 5) of a real
//                       5-member swarm on loopback, fsync on (replicated_stores.hpp),
//                       --replicated-in-flight outstanding (256), each sent
//                       straight to a member (a one-hop cell): what the swarm
//                       sustains; replicated_ack_p50_ms/_p99_ms from send to
//                       acknowledgement
//   replicated_onion_stores_per_s  the same through 3 relays first (the path
//                       a client uses): adds the cells' building and peeling
//   *_cpu_per_store_x25519  CPU time of the whole process (five nodes, the
//                       client, every thread) per acknowledged store, in
//                       X25519s (x25519_us, measured in the same run): the
//                       nodes and the client share one loop thread, so this is
//                       what bounds the rate on one machine
//   relay_rtt_p99_idle_ms, relay_rtt_p99_under_store_load_ms  round trips of
//                       info requests whose path crosses one node (3 relays,
//                       the first that node, to a node outside its swarm),
//                       while the network is idle and while that node absorbs
//                       a store flood (--load-in-flight stores outstanding,
//                       each written by it and replicated to its swarm): a
//                       network of nightjar-node processes, fsync on
//                       (store_load_rtt.hpp); relay_rtt_load_factor is their
//                       quotient; *_x25519 the same in X25519s; the flood's
//                       acknowledged stores per second and the node's CPU
//                       share in each phase come with them
//   *_disk_ratio        replicas written per second (stores x 5: every
//                       member writes each message, synced, though the client
//                       is answered at the quorum) / fsync_per_s
//
// Durable-write rates are per second of wall time (the thread waits for the
// disk, so CPU time would say nothing), and measured in alternation, call by
// call where they are calls and window by window for the pipelined stores
// (see measure_writes), because the disk's speed drifts.
//
// Everything lives in a temporary directory under $TMPDIR (or /tmp), removed
// at the end: point TMPDIR at the disk to measure (not a tmpfs, whose fsync
// costs nothing). Every loop is bounded in count and in time.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <sodium.h>
#include <uv.h>

#include "bench_util.hpp"
#include "tests/bench/replicated_stores.hpp"
#include "tests/bench/store_load_rtt.hpp"
#include "swarm/message_store.hpp"

namespace po = boost::program_options;
using namespace nightjar;

namespace {

constexpr const char* program = "store_bench";

constexpr int rounds = 5;
constexpr std::size_t body_bytes = 400;
constexpr std::size_t fsync_record_bytes = 512;
constexpr std::size_t zipf_recipients = 10'000;
constexpr std::size_t batch_size = 64;
constexpr std::size_t pipelined_in_flight = 256;
std::size_t replicated_in_flight = 256;  // --replicated-in-flight
constexpr std::size_t onion_relays = 3;
constexpr std::size_t fill_batch = 1'000;
constexpr std::size_t retrieve_count = 100;
constexpr std::size_t fill_messages_per_recipient = 200;  // >= retrieve_count
constexpr std::size_t min_messages = fill_messages_per_recipient;
constexpr std::size_t max_messages = 20'000'000;
constexpr std::uint64_t max_calls_per_round = 100'000;
constexpr std::size_t max_retrieve_samples = 100'000;
constexpr double max_seconds = 600;
constexpr double writes_share = 0.6;  // of --seconds; the rest is for retrieves
constexpr double max_settle_seconds = 300;
constexpr off_t wal_preallocation = 4 << 20;  // RocksDB: 1.1 x write_buffer_size

// A temporary directory, removed with everything in it.
struct BenchDir {
  std::filesystem::path path;
  explicit BenchDir(const std::filesystem::path& parent) {
    std::string tmpl = (parent / "store_bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot create " + tmpl);
    path = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
};

// Recipient i with probability proportional to 1 / (i + 1): a few accounts
// get most of the traffic, as in any messaging service.
class Zipf {
 public:
  explicit Zipf(std::size_t n) : cdf_(n) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i)
      cdf_[i] = sum += 1.0 / static_cast<double>(i + 1);
    for (auto& c : cdf_)
      c /= sum;
  }
  std::size_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<std::size_t>(static_cast<std::size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

Ed25519PublicKey recipient_key(std::size_t i) {
  std::array<std::uint8_t, 9> seed{'r'};
  for (std::size_t b = 0; b < 8; ++b)
    seed[1 + b] = static_cast<std::uint8_t>(i >> (8 * b));
  return Ed25519PublicKey::from(crypto::blake2b_256(seed).view());
}

// Makes messages: random bodies, timestamps one millisecond apart.
struct MessageMaker {
  std::mt19937_64 rng{1};
  std::uint64_t now_ms = 1'700'000'000'000;
  std::uint64_t ttl_ms = 14ull * 86'400'000;

  StoredMessage make(const Ed25519PublicKey& recipient) {
    StoredMessage m;
    m.recipient = recipient;
    m.body.resize(body_bytes);
    for (std::size_t i = 0; i < body_bytes; i += 8) {
      const std::uint64_t r = rng();
      for (std::size_t b = 0; b < 8 && i + b < body_bytes; ++b)
        m.body[i + b] = static_cast<std::uint8_t>(r >> (8 * b));
    }
    m.id = message_id(recipient, m.body);
    m.timestamp_ms = ++now_ms;
    m.expiry_ms = m.timestamp_ms + ttl_ms;
    return m;
  }
};

StoreOptions bench_options(bool sync) {
  StoreOptions o;
  o.sync = sync;
  o.quota_messages = 100'000'000;  // the benchmark measures writes, not quotas
  o.quota_bytes = 1ull << 40;
  o.disk_cap_bytes = 1ull << 50;
  return o;
}

std::unique_ptr<MessageStore> open_or_die(const std::filesystem::path& dir, bool sync) {
  auto s = MessageStore::open(dir, bench_options(sync));
  if (!s) throw std::runtime_error(s.error());
  return std::move(s).value();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

struct Figures {
  double stores = 0, serial_stores = 0, batch_stores = 0, fsyncs = 0;
  double stores_ratio = 0, serial_ratio = 0, batch_ratio = 0;  // medians of the rounds' ratios
  std::array<std::pair<double, double>, 4> spread{};  // min, max over the rounds
  double writer_batch_mean = 0;
  double settle_seconds = 0;
  bool settled = false;
  double fill_seconds = 0;
  std::size_t fill_recipients = 0;
  std::uint64_t fill_disk_bytes = 0;
  std::vector<double> retrieve_ms;
  std::vector<double> retrieve_cpu_ms;
};

// A raw durable append, made the way RocksDB makes its WAL durable: write(2)
// into space preallocated with fallocate(KEEP_SIZE), then fdatasync.
class RawAppender {
 public:
  explicit RawAppender(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) {
    if (fd_ < 0) throw std::runtime_error("cannot create " + path.string());
    record_.fill('x');
  }
  ~RawAppender() { ::close(fd_); }
  RawAppender(const RawAppender&) = delete;
  RawAppender& operator=(const RawAppender&) = delete;

  bool append() {
    const auto n = static_cast<off_t>(record_.size());
    if (written_ + n > allocated_) {
      if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, allocated_, wal_preallocation) != 0) return false;
      allocated_ += wal_preallocation;
    }
    if (::write(fd_, record_.data(), record_.size()) != static_cast<ssize_t>(n)) return false;
    written_ += n;
    return ::fdatasync(fd_) == 0;
  }

 private:
  int fd_;
  std::array<char, fsync_record_bytes> record_{};
  off_t written_ = 0;
  off_t allocated_ = 0;
};

// Keeps `in_flight` stores staged or being written in a store with a writer
// on `loop`: each one that is durable is replaced at once by the next.
class Pipeline {
 public:
  Pipeline(MessageStore& store, uv_loop_t* loop, MessageMaker& maker,
           const std::vector<Ed25519PublicKey>& recipients, const Zipf& zipf)
      : store_(store), loop_(loop), maker_(maker), recipients_(recipients), zipf_(zipf) {}

  // Durable stores per second over a window of `seconds` (stores issued
  // before the window count when they complete inside it).
  double run(double seconds, std::size_t in_flight) {
    open_ = true;
    while (outstanding_ < in_flight) issue();
    const std::uint64_t before = completed_;
    bench::Stopwatch window;
    while (window.seconds() < seconds && outstanding_ > 0) uv_run(loop_, UV_RUN_ONCE);
    const double rate = static_cast<double>(completed_ - before) / window.seconds();
    open_ = false;
    for (int i = 0; outstanding_ > 0 && i < 1'000'000; ++i) uv_run(loop_, UV_RUN_ONCE);
    return rate;
  }
  std::uint64_t failures() const { return failures_; }

 private:
  void issue() {
    const auto m = maker_.make(recipients_[zipf_(maker_.rng)]);
    if (!store_.put(m, maker_.now_ms)) {
      ++failures_;
      return;
    }
    ++outstanding_;
    store_.when_durable([this](bool ok) {
      --outstanding_;
      if (ok)
        ++completed_;
      else
        ++failures_;
      if (open_) issue();
    });
  }

  MessageStore& store_;
  uv_loop_t* loop_;
  MessageMaker& maker_;
  const std::vector<Ed25519PublicKey>& recipients_;
  const Zipf& zipf_;
  std::size_t outstanding_ = 0;
  std::uint64_t completed_ = 0, failures_ = 0;
  bool open_ = false;
};

// The four durable-write rates. The disk's speed changes by several times
// from one second to the next (other tenants, a burst budget), so the calls
// alternate one by one: put, raw append, put_batch, raw append; each kind's
// rate is its calls over the time spent in them. The run is cut into rounds
// (after an untimed warm-up), and the median round is reported.
void measure_writes(const std::filesystem::path& dir, double seconds, Figures& fig) {
  auto store = open_or_die(dir / "writes", true);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto pipelined = open_or_die(dir / "pipelined", true);
  pipelined->start_writer(&loop);
  RawAppender raw(dir / "raw.dat");
  MessageMaker maker;
  const Zipf zipf(zipf_recipients);
  std::vector<Ed25519PublicKey> recipients;
  for (std::size_t i = 0; i < zipf_recipients; ++i)
    recipients.push_back(recipient_key(i));
  std::uint64_t failures = 0;
  std::vector<StoredMessage> batch(batch_size);

  Pipeline pipeline(*pipelined, &loop, maker, recipients, zipf);

  struct Round {
    double put_s = 0, batch_s = 0, raw_s = 0;
    std::uint64_t puts = 0, batches = 0, raws = 0;
    double pipelined = 0;  // stores per second
  };
  // A round: the calls in alternation for two thirds of it, the pipelined
  // stores for the rest, in two halves, one before the calls and one after.
  auto run_round = [&](double round_seconds) {
    Round r;
    r.pipelined = pipeline.run(round_seconds / 6, pipelined_in_flight);
    bench::Stopwatch round_clock;
    for (std::uint64_t i = 0;
         i < max_calls_per_round && round_clock.seconds() < round_seconds * 2 / 3; ++i) {
      const auto m = maker.make(recipients[zipf(maker.rng)]);  // made outside the timing
      bench::Stopwatch call;
      if (!store->put(m, maker.now_ms)) ++failures;
      r.put_s += call.seconds();
      ++r.puts;

      call.restart();
      if (!raw.append()) ++failures;
      r.raw_s += call.seconds();
      ++r.raws;

      for (auto& b : batch)
        b = maker.make(recipients[zipf(maker.rng)]);
      call.restart();
      for (const auto& res : store->put_batch(batch, maker.now_ms))
        if (!res) ++failures;
      r.batch_s += call.seconds();
      ++r.batches;

      call.restart();
      if (!raw.append()) ++failures;
      r.raw_s += call.seconds();
      ++r.raws;
    }
    r.pipelined = (r.pipelined + pipeline.run(round_seconds / 6, pipelined_in_flight)) / 2;
    return r;
  };

  const double round_seconds = seconds / (rounds + 0.5);
  (void)run_round(round_seconds / 2);  // warm-up: files created and preallocated
  const WriterStats before = pipelined->writer_stats();
  std::array<std::vector<double>, 4> rates;
  std::vector<double> stores_ratios, serial_ratios, batch_ratios;
  for (int i = 0; i < rounds; ++i) {
    const Round r = run_round(round_seconds);
    const double put = static_cast<double>(r.puts) / r.put_s;
    const double batched = static_cast<double>(r.batches * batch_size) / r.batch_s;
    const double fsync = static_cast<double>(r.raws) / r.raw_s;
    rates[0].push_back(put);
    rates[1].push_back(batched);
    rates[2].push_back(fsync);
    rates[3].push_back(r.pipelined);
    stores_ratios.push_back(r.pipelined / fsync);
    serial_ratios.push_back(put / fsync);
    batch_ratios.push_back(batched / (fsync * batch_size));
  }
  const WriterStats after = pipelined->writer_stats();
  failures += pipeline.failures();
  pipelined.reset();
  uv_run(&loop, UV_RUN_NOWAIT);  // the writer's last completion and handles
  (void)uv_loop_close(&loop);
  if (failures) throw std::runtime_error(std::to_string(failures) + " writes failed");
  fig.serial_stores = bench::median(rates[0]);
  fig.batch_stores = bench::median(rates[1]);
  fig.fsyncs = bench::median(rates[2]);
  fig.stores = bench::median(rates[3]);
  fig.stores_ratio = bench::median(stores_ratios);
  fig.serial_ratio = bench::median(serial_ratios);
  fig.batch_ratio = bench::median(batch_ratios);
  if (after.batches > before.batches)
    fig.writer_batch_mean = static_cast<double>(after.operations - before.operations) /
                            static_cast<double>(after.batches - before.batches);
  for (std::size_t i = 0; i < rates.size(); ++i) {
    const auto [lo, hi] = std::minmax_element(rates[i].begin(), rates[i].end());
    fig.spread[i] = {*lo, *hi};
  }
}

// One X25519 (crypto_scalarmult), in seconds of this thread's CPU time: the
// unit the CPU figures are given in.
double x25519_seconds() {
  std::array<unsigned char, crypto_scalarmult_SCALARBYTES> scalar{};
  std::array<unsigned char, crypto_scalarmult_BYTES> point{}, shared{};
  crypto::random_bytes(MutableBytes{scalar.data(), scalar.size()});
  crypto_scalarmult_base(point.data(), scalar.data());
  std::uint64_t n = 0;
  bench::CpuStopwatch cpu;
  for (; n < 100'000 && (n < 100 || cpu.seconds() < 0.3); ++n) {
    if (crypto_scalarmult(shared.data(), scalar.data(), point.data()) != 0)
      throw std::runtime_error("crypto_scalarmult failed");
    point = shared;
  }
  return cpu.seconds() / static_cast<double>(n);
}

// Fills a store with `messages` messages (untimed), then times retrieves.
void measure_retrieve(const std::filesystem::path& dir, std::size_t messages, double seconds,
                      Figures& fig) {
  auto store = open_or_die(dir / "filled", false);
  MessageMaker maker;
  fig.fill_recipients = std::max<std::size_t>(1, messages / fill_messages_per_recipient);
  std::vector<Ed25519PublicKey> recipients;
  for (std::size_t i = 0; i < fig.fill_recipients; ++i)
    recipients.push_back(recipient_key(i));

  // Round-robin over the recipients, so each one's messages are spread over
  // the whole fill (and over the LSM's levels), as they are in real life.
  bench::Stopwatch fill_clock;
  std::vector<StoredMessage> batch;
  for (std::size_t done = 0; done < messages;) {
    batch.clear();
    for (; batch.size() < fill_batch && done < messages; ++done)
      batch.push_back(maker.make(recipients[done % recipients.size()]));
    for (const auto& r : store->put_batch(batch, maker.now_ms))
      if (!r) throw std::runtime_error(std::string("fill failed: ") + to_string(r.error()));
  }
  store->flush();
  fig.fill_seconds = fill_clock.seconds();
  bench::Stopwatch settle_clock;
  while (!(fig.settled = !store->background_work_pending()) &&
         settle_clock.seconds() < max_settle_seconds)
    ::usleep(100'000);
  fig.settle_seconds = settle_clock.seconds();
  fig.fill_disk_bytes = store->disk_bytes();

  std::mt19937_64 pick(2);
  std::size_t short_reads = 0;
  bench::Stopwatch budget;
  while (fig.retrieve_ms.size() < max_retrieve_samples &&
         (fig.retrieve_ms.size() < 10 || budget.seconds() < seconds)) {
    const auto& r = recipients[pick() % recipients.size()];
    bench::Stopwatch one;
    bench::CpuStopwatch one_cpu;
    const auto got = store->retrieve(r, Cursor{}, retrieve_count, maker.now_ms);
    fig.retrieve_cpu_ms.push_back(one_cpu.seconds() * 1e3);
    fig.retrieve_ms.push_back(one.seconds() * 1e3);
    if (got.size() != retrieve_count) ++short_reads;
    bench::keep(got);
  }
  if (short_reads)
    throw std::runtime_error(std::to_string(short_reads) + " retrieves returned too few messages");
}

int run(std::size_t messages, double seconds, double replicated_seconds,
        const bench::StoreLoadOptions& load,
        const std::filesystem::path& parent, bool json) {
  if (!crypto::init()) {
    std::fprintf(stderr, "%s: libsodium failed to initialise\n", program);
    return 1;
  }
  spdlog::set_level(spdlog::level::warn);  // the stores' "open" lines would break --json
  Figures fig;
  bench::ReplicatedFigures rep, onion;
  bench::StoreLoadFigures rtt;
  double x25519_s = 0;
  try {
    BenchDir dir(parent);
    measure_writes(dir.path, seconds * writes_share, fig);
    measure_retrieve(dir.path, messages, seconds * (1 - writes_share), fig);
    x25519_s = x25519_seconds();
    if (replicated_seconds > 0) {
      rep = bench::measure_replicated_stores(replicated_seconds, replicated_in_flight, body_bytes, 0);
      onion = bench::measure_replicated_stores(replicated_seconds, replicated_in_flight, body_bytes,
                                               onion_relays);
    }
    if (load.seconds > 0)
      rtt = bench::measure_rtt_under_store_load(parent, load);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
  const double stores_ratio = fig.stores_ratio;
  const double batch_ratio = fig.batch_ratio;
  const double p50 = percentile(fig.retrieve_ms, 0.50);
  const double p99 = percentile(fig.retrieve_ms, 0.99);
  const double cpu_p50 = percentile(fig.retrieve_cpu_ms, 0.50);
  const double cpu_p99 = percentile(fig.retrieve_cpu_ms, 0.99);
  struct RepFigures {
    double p50 = 0, p99 = 0, disk_ratio = 0, cpu_x25519 = 0;
  };
  auto rep_figures = [&](const bench::ReplicatedFigures& r) {
    RepFigures f;
    f.p50 = r.ack_ms.empty() ? 0 : percentile(r.ack_ms, 0.50);
    f.p99 = r.ack_ms.empty() ? 0 : percentile(r.ack_ms, 0.99);
    f.disk_ratio = fig.fsyncs > 0 ? r.stores_per_s * static_cast<double>(r.members) / fig.fsyncs : 0;
    f.cpu_x25519 = r.acked > 0 && x25519_s > 0
                       ? r.cpu_seconds / static_cast<double>(r.acked) / x25519_s
                       : 0;
    return f;
  };
  const RepFigures rf = rep_figures(rep), of = rep_figures(onion);
  const double rtt_idle_p50 = percentile(rtt.idle_rtt_ms, 0.50);
  const double rtt_idle_p99 = percentile(rtt.idle_rtt_ms, 0.99);
  const double rtt_load_p50 = percentile(rtt.load_rtt_ms, 0.50);
  const double rtt_load_p99 = percentile(rtt.load_rtt_ms, 0.99);
  const double rtt_factor = rtt_idle_p99 > 0 ? rtt_load_p99 / rtt_idle_p99 : 0;
  const double x25519_ms = x25519_s * 1e3;

  if (json) {
    bench::JsonObject o;
    o.add("stores_per_s", fig.stores, 1)
        .add("stores_in_flight", pipelined_in_flight)
        .add("serial_stores_per_s", fig.serial_stores, 1)
        .add("batch_stores_per_s", fig.batch_stores, 1)
        .add("fsync_per_s", fig.fsyncs, 1)
        .add("stores_ratio", stores_ratio, 4)
        .add("serial_ratio", fig.serial_ratio, 4)
        .add("batch_ratio", batch_ratio, 4)
        .add("writer_batch_mean", fig.writer_batch_mean, 1)
        .add("batch_size", batch_size)
        .add("body_bytes", body_bytes)
        .add("retrieve_p50_ms", p50, 4)
        .add("retrieve_p99_ms", p99, 4)
        .add("retrieve_cpu_p50_ms", cpu_p50, 4)
        .add("retrieve_cpu_p99_ms", cpu_p99, 4)
        .add("retrieve_samples", fig.retrieve_ms.size())
        .add("messages", messages)
        .add("fill_recipients", fig.fill_recipients)
        .add("fill_s", fig.fill_seconds, 2)
        .add("settle_s", fig.settle_seconds, 2)
        .add("settled", fig.settled)
        .add("fill_disk_bytes", fig.fill_disk_bytes)
        .add("x25519_us", x25519_s * 1e6, 3);
    auto add_replicated = [&](const std::string& prefix, const bench::ReplicatedFigures& r,
                              const RepFigures& f, std::size_t relays) {
      o.add(prefix + "_stores_per_s", r.stores_per_s, 1)
          .add(prefix + "_disk_ratio", f.disk_ratio, 4)
          .add(prefix + "_cpu_per_store_x25519", f.cpu_x25519, 2)
          .add(prefix + "_ack_p50_ms", f.p50, 3)
          .add(prefix + "_ack_p99_ms", f.p99, 3)
          .add(prefix + "_acked", r.acked)
          .add(prefix + "_failed", r.failed)
          .add(prefix + "_relays", relays)
          .add(prefix + "_mean_copies", r.mean_replicas, 2)
          .add(prefix + "_seconds", r.seconds, 2);
    };
    add_replicated("replicated", rep, rf, 0);
    add_replicated("replicated_onion", onion, of, onion_relays);
    o.add("replicated_members", rep.members)
        .add("replicated_quorum", rep.quorum)
        .add("replicated_in_flight", replicated_in_flight);
    o.add("relay_rtt_p50_idle_ms", rtt_idle_p50, 3)
        .add("relay_rtt_p99_idle_ms", rtt_idle_p99, 3)
        .add("relay_rtt_p50_under_store_load_ms", rtt_load_p50, 3)
        .add("relay_rtt_p99_under_store_load_ms", rtt_load_p99, 3)
        .add("relay_rtt_load_factor", rtt_factor, 3)
        .add("relay_rtt_p99_idle_x25519", x25519_ms > 0 ? rtt_idle_p99 / x25519_ms : 0, 1)
        .add("relay_rtt_p99_under_store_load_x25519",
             x25519_ms > 0 ? rtt_load_p99 / x25519_ms : 0, 1)
        .add("relay_rtt_samples_idle", rtt.idle_rtt_ms.size())
        .add("relay_rtt_samples_load", rtt.load_rtt_ms.size())
        .add("relay_rtt_failed_idle", rtt.idle_failed)
        .add("relay_rtt_failed_load", rtt.load_failed)
        .add("load_stores_per_s", rtt.flood_stores_per_s, 1)
        .add("load_stores_failed", rtt.flood_failed)
        .add("load_in_flight", load.in_flight)
        .add("load_rate_offered", load.rate, 1)
        .add("load_target_cpu_idle", rtt.target_cpu_idle, 3)
        .add("load_target_cpu_flood", rtt.target_cpu_load, 3)
        .add("load_swarm_members", rtt.swarm_members)
        .add("load_seconds", rtt.seconds, 2);
    o.print();
    return 0;
  }
  std::printf(
      "store_bench: %zu-byte bodies; write rates per wall-clock second, median of %d\n"
      "rounds of calls in alternation\n",
      body_bytes, rounds);
  std::printf("  %-40s %14s   %s\n", "figure", "value", "min .. max over the rounds");
  auto rate_row = [&](const char* label, double v, std::size_t i) {
    std::printf("  %-40s %12.1f/s   %.1f .. %.1f\n", label, v, fig.spread[i].first,
                fig.spread[i].second);
  };
  rate_row("256 in flight, writer (stores_per_s)", fig.stores, 3);
  rate_row("put, sync, one at a time (serial)", fig.serial_stores, 0);
  rate_row("put_batch of 64, one sync (per message)", fig.batch_stores, 1);
  rate_row("raw 512-byte append + fdatasync", fig.fsyncs, 2);
  std::printf("  %-40s %14.4f\n", "stores_ratio (stores / fsync)", stores_ratio);
  std::printf("  %-40s %14.4f\n", "serial_ratio (serial put / fsync)", fig.serial_ratio);
  std::printf("  %-40s %14.1f\n", "stores per writer batch", fig.writer_batch_mean);
  std::printf("  %-40s %14.4f\n", "batch_ratio (batch / (64 x fsync))", batch_ratio);
  std::printf(
      "\n  store of %zu messages over %zu recipients: filled in %.1f s, %.1f MB on disk,\n"
      "  compactions %s after %.1f s\n",
      messages, fig.fill_recipients, fig.fill_seconds,
      static_cast<double>(fig.fill_disk_bytes) / 1e6, fig.settled ? "finished" : "STILL RUNNING",
      fig.settle_seconds);
  std::printf("  %-40s %11.4f ms\n", "retrieve of 100, p50", p50);
  std::printf("  %-40s %11.4f ms   (%zu samples)\n", "retrieve of 100, p99", p99,
              fig.retrieve_ms.size());
  std::printf("  %-40s %11.4f ms\n", "retrieve of 100, p50, thread CPU time", cpu_p50);
  std::printf("  %-40s %11.4f ms\n", "retrieve of 100, p99, thread CPU time", cpu_p99);
  std::printf("  %-40s %11.3f us\n", "X25519 (crypto_scalarmult)", x25519_s * 1e6);
  auto print_replicated = [&](const char* what, const bench::ReplicatedFigures& r,
                              const RepFigures& f) {
    std::printf(
        "\n  5-member swarm on loopback (one process, one loop, one disk), quorum %zu,\n"
        "  %zu in flight, %s, %.1f s\n",
        r.quorum, replicated_in_flight, what, r.seconds);
    std::printf("  %-40s %12.1f/s   (%zu acknowledged, %zu failed)\n", "stores acknowledged",
                r.stores_per_s, r.acked, r.failed);
    std::printf("  %-40s %14.2f\n", "copies confirmed at acknowledgement", r.mean_replicas);
    std::printf("  %-40s %14.4f\n", "disk ratio (5 x stores / fsync)", f.disk_ratio);
    std::printf("  %-40s %14.2f\n", "process CPU per store, X25519s", f.cpu_x25519);
    std::printf("  %-40s %11.3f ms\n", "send to acknowledgement, p50", f.p50);
    std::printf("  %-40s %11.3f ms\n", "send to acknowledgement, p99", f.p99);
  };
  if (replicated_seconds > 0) {
    print_replicated("straight to a member (replicated_stores_per_s)", rep, rf);
    print_replicated("through 3 relays (replicated_onion_stores_per_s)", onion, of);
  }
  if (load.seconds > 0) {
    std::printf(
        "\n  relay round trips through a node of a %zu-process network (swarms of %zu),\n"
        "  %.1f s idle, then %.1f s while it absorbs stores (%.0f/s offered, 0: unpaced;\n"
        "  at most %zu in flight)\n",
        rtt.nodes, rtt.swarm_members, rtt.seconds, rtt.seconds, load.rate, load.in_flight);
    std::printf("  %-40s %11.3f ms   (%zu samples, %zu failed)\n", "idle, p50", rtt_idle_p50,
                rtt.idle_rtt_ms.size(), rtt.idle_failed);
    std::printf("  %-40s %11.3f ms\n", "idle, p99 (relay_rtt_p99_idle_ms)", rtt_idle_p99);
    std::printf("  %-40s %11.3f ms   (%zu samples, %zu failed)\n", "under store load, p50",
                rtt_load_p50, rtt.load_rtt_ms.size(), rtt.load_failed);
    std::printf("  %-40s %11.3f ms\n", "under store load, p99", rtt_load_p99);
    std::printf("  %-40s %14.2f\n", "p99 under load / p99 idle", rtt_factor);
    std::printf("  %-40s %12.1f/s   (%zu failed)\n", "flood stores acknowledged",
                rtt.flood_stores_per_s, rtt.flood_failed);
    std::printf("  %-40s %8.2f .. %.2f\n", "the node's CPU share, idle .. flood",
                rtt.target_cpu_idle, rtt.target_cpu_load);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == bench::store_flood_child_flag)
    return bench::store_flood_child_main(argc, argv);
  std::size_t messages = 1'000'000;
  double seconds = 6.0;
  double replicated_seconds = 4.0;
  po::options_description specific("Benchmark");
  specific.add_options()("messages", po::value<std::size_t>(&messages)->default_value(messages),
                         "messages in the store that retrieves read from (200..20,000,000)")(
      "seconds", po::value<double>(&seconds)->default_value(seconds),
      "time budget for the timed parts, in seconds (> 0, at most 600); the fill is extra")(
      "replicated-seconds", po::value<double>(&replicated_seconds)->default_value(replicated_seconds),
      "seconds of replicated stores through a 5-member swarm (0: skip; at most 600)")(
      "replicated-in-flight",
      po::value<std::size_t>(&replicated_in_flight)->default_value(replicated_in_flight),
      "replicated stores kept outstanding (1..4096)");
  bench::StoreLoadOptions load;
  load.node_binary = NIGHTJAR_NODE_BINARY;
  load.body_bytes = body_bytes;
  specific.add_options()(
      "load-seconds", po::value<double>(&load.seconds)->default_value(load.seconds),
      "seconds of each phase (idle, store flood) of the relay round trips (0: skip; at most 600)")(
      "load-rate", po::value<double>(&load.rate)->default_value(load.rate),
      "flood stores per second (0: as fast as they are answered)")(
      "load-in-flight", po::value<std::size_t>(&load.in_flight)->default_value(load.in_flight),
      "flood stores outstanding at most (1..4096)")(
      "node-binary", po::value<std::string>(&load.node_binary)->default_value(load.node_binary),
      "the nightjar-node the round-trip network runs (another build, to compare)");
  bench::CommonOptions common;
  if (auto exit_status = bench::parse_options(
          argc, argv, program,
          "store_bench: durable message stores per second against the raw fsync rate, and "
          "retrieve latency from a large store. Works under $TMPDIR (default /tmp).",
          specific, common))
    return *exit_status;
  if (messages < min_messages || messages > max_messages)
    return bench::bad_option(program, "--messages must be 200..20000000");
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > max_seconds)
    return bench::bad_option(program, "--seconds must be > 0 and at most 600");
  if (!std::isfinite(replicated_seconds) || replicated_seconds < 0 || replicated_seconds > max_seconds)
    return bench::bad_option(program, "--replicated-seconds must be 0..600");
  if (replicated_in_flight < 1 || replicated_in_flight > 4096)
    return bench::bad_option(program, "--replicated-in-flight must be 1..4096");
  if (!std::isfinite(load.seconds) || load.seconds < 0 || load.seconds > max_seconds)
    return bench::bad_option(program, "--load-seconds must be 0..600");
  if (!std::isfinite(load.rate) || load.rate < 0 || load.rate > 1e6)
    return bench::bad_option(program, "--load-rate must be 0..1000000");
  std::error_code ec;
  load.self_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (load.self_binary.empty()) load.self_binary = argv[0];
  if (load.in_flight < 1 || load.in_flight > 4096)
    return bench::bad_option(program, "--load-in-flight must be 1..4096");
  return run(messages, seconds, replicated_seconds, load, std::filesystem::temp_directory_path(),
             common.json);
}
