// Fuzzes the replication frame decoders, and encode_bucket's splitting.
//
// Input layout:
//   byte 0  byte % 7 picks: 0 push, 1 push_ack, 2 tombstone, 3 summary,
//           4 bucket, 5 fetch (the rest is the frame, type byte included), or
//           6 encode_bucket (the rest describes entries, below)
//   rest    the frame, or for encode_bucket:
//             byte 0      the bucket
//             byte 1      the number of entries n: entry_counts[byte % 16],
//                         sizes around the frame limit and small ones (each
//                         ID comparison is traced by libFuzzer, so thousands
//                         of entries per input would starve the decoders)
//             the rest    a pool P of p bytes the entries are made from,
//                         cyclically: with k = i mod p and r = i / p, entry i
//                         has ID bucket || P[k] || P[k+1] || r (u16) || zeros,
//                         expiry P[k+2], and is a tombstone when P[k+3] is
//                         odd (indices mod p); so IDs repeat whenever two
//                         positions of the pool start the same pair
//
// Invariants (trap on violation):
//   - a decoded frame re-encodes to exactly its bytes (canonical encoding),
//     and respects the limits (bucket entries sorted, unique and in their
//     bucket, at most max_bucket_entries_per_frame; fetch 1..max_fetch_ids)
//   - encode_bucket: every frame decodes, names the bucket, holds at most
//     max_bucket_entries_per_frame entries (all but the last frame exactly
//     that many), only the last is marked last, and together the frames list
//     each distinct ID once, in increasing order, with its first entry.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/replication bin/fuzz_replication
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/wire.hpp"
#include "swarm/replication_messages.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::replication;

namespace {

constexpr std::uint8_t mode_encode_bucket = 6;
constexpr std::array<std::size_t, 16> entry_counts = {0,   1,   2,    3,    5,    8,    13,   64,
                                                      255, 999, 1000, 1001, 1999, 2000, 2001, 2600};

bool id_less(const MessageId& a, const MessageId& b) {
  return a.bytes < b.bytes;
}

void check_listing(const BucketList& list) {
  CHECK(list.entries.size() <= max_bucket_entries_per_frame);
  for (std::size_t i = 0; i < list.entries.size(); ++i) {
    CHECK(list.entries[i].id.bytes[0] == list.bucket);
    if (i > 0) CHECK(id_less(list.entries[i - 1].id, list.entries[i].id));
  }
}

// Decodes with `decode` and, if that succeeds, checks the round trip.
template <class Decode>
void round_trip(const std::vector<std::uint8_t>& frame, Decode decode) {
  auto m = decode(frame);
  if (!m) return;
  CHECK(encode(*m) == frame);
  if constexpr (std::is_same_v<std::decay_t<decltype(*m)>, BucketList>) check_listing(*m);
  if constexpr (std::is_same_v<std::decay_t<decltype(*m)>, Fetch>)
    CHECK(!m->ids.empty() && m->ids.size() <= max_fetch_ids);
}

void check_encode_bucket(const std::vector<std::uint8_t>& rest) {
  if (rest.size() < 2) return;
  const std::uint8_t bucket = rest[0];
  const std::size_t n = entry_counts[rest[1] % entry_counts.size()];
  const std::vector<std::uint8_t> pool(rest.begin() + 2, rest.end());
  if (pool.empty() && n > 0) return;

  std::vector<EntryState> entries;
  entries.reserve(n);
  // The first entry of each ID, in ID order. Only ID bytes 1-4 vary, so they
  // make an integer key in the same order (cheaper for libFuzzer to trace than
  // comparing whole IDs).
  std::map<std::uint32_t, EntryState> want;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t round = i / pool.size();
    auto at = [&](std::size_t k) { return pool[(i + k) % pool.size()]; };
    EntryState e;
    e.id.bytes[0] = bucket;
    e.id.bytes[1] = at(0);
    e.id.bytes[2] = at(1);
    e.id.bytes[3] = static_cast<std::uint8_t>(round >> 8);
    e.id.bytes[4] = static_cast<std::uint8_t>(round);
    e.expiry_ms = at(2);
    e.tombstone = (at(3) & 1) != 0;
    entries.push_back(e);
    want.emplace(load_u32(e.id.data() + 1), e);
  }

  const auto frames = encode_bucket(bucket, entries);
  CHECK(!frames.empty());
  std::vector<EntryState> got;
  got.reserve(want.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto list = decode_bucket(frames[i]);
    CHECK(list.ok());
    CHECK(list->bucket == bucket);
    CHECK(list->last == (i + 1 == frames.size()));
    check_listing(*list);
    if (i + 1 < frames.size()) CHECK(list->entries.size() == max_bucket_entries_per_frame);
    got.insert(got.end(), list->entries.begin(), list->entries.end());
  }
  CHECK(got.size() == want.size());
  std::size_t i = 0;
  for (const auto& [id, e] : want)
    CHECK(got[i++] == e);
}

// --- Seed generation ---------------------------------------------------------

void write_seeds(const std::string& dir) {
  Push push;
  push.request_id = 77;
  push.message.recipient.bytes.fill(0x11);
  push.message.id.bytes.fill(0x22);
  push.message.timestamp_ms = 1'700'000'000'000;
  push.message.expiry_ms = 1'700'100'000'000;
  push.message.body.assign(300, 0x5a);
  fuzz::write_seed(dir + "/push", 0, encode(push));
  fuzz::write_seed(dir + "/push-ack", 1, encode(PushAck{77, AckStatus::deleted}));
  fuzz::write_seed(dir + "/tombstone", 2,
                   encode(Tombstone{push.message.recipient, push.message.id, 9}));
  push.message.ns = Namespace::records;
  fuzz::write_seed(dir + "/push-record", 0, encode(push));
  fuzz::write_seed(dir + "/tombstone-record", 2,
                   encode(Tombstone{push.message.mailbox(), push.message.id, 9}));
  push.message.ns = Namespace::messages;
  Summary summary;
  summary.swarm = 0x1234;
  for (std::size_t i = 0; i < summary.buckets.size(); ++i) {
    summary.buckets[i].count = static_cast<std::uint32_t>(i);
    summary.buckets[i].digest.bytes.fill(static_cast<std::uint8_t>(i));
  }
  fuzz::write_seed(dir + "/summary", 3, encode(summary));
  BucketList list{0x22, false, {}};
  for (std::uint8_t i = 0; i < 5; ++i) {
    EntryState e;
    e.id.bytes[0] = 0x22;
    e.id.bytes[1] = static_cast<std::uint8_t>(i * 9);
    e.tombstone = i % 2 == 1;
    e.expiry_ms = 1000u + i;
    list.entries.push_back(e);
  }
  fuzz::write_seed(dir + "/bucket-5", 4, encode(list));
  fuzz::write_seed(dir + "/bucket-empty", 4, encode(BucketList{7, true, {}}));
  Fetch fetch;
  fetch.ids.resize(3);
  for (std::size_t i = 0; i < 3; ++i)
    fetch.ids[i].bytes.fill(static_cast<std::uint8_t>(i + 1));
  fuzz::write_seed(dir + "/fetch-3", 5, encode(fetch));

  // Invalid: an unknown ack status, an entry with a reserved flag bit.
  auto ack = encode(PushAck{1, AckStatus::stored});
  ack.back() = 4;
  fuzz::write_seed(dir + "/push-ack-bad-status", 1, ack);
  auto flags = encode(list);
  flags[5 + 32] = 0x02;
  fuzz::write_seed(dir + "/bucket-bad-flags", 4, flags);

  // encode_bucket: 1,001 entries from a pool with a repeated pair (two
  // frames, duplicates), 2,600 from a pool without (three frames), 13 from a
  // pool of one repeated byte, and none.
  fuzz::write_seed(dir + "/split-1001", mode_encode_bucket,
                   std::vector<std::uint8_t>{0x40, 11, 1, 2, 3, 1, 2, 5, 8, 13, 21});
  fuzz::write_seed(dir + "/split-2600", mode_encode_bucket,
                   std::vector<std::uint8_t>{0xfe, 15, 9, 8, 7, 6, 5});
  fuzz::write_seed(dir + "/split-13", mode_encode_bucket,
                   std::vector<std::uint8_t>{0x01, 6, 4, 4, 4});
  fuzz::write_seed(dir + "/split-empty", mode_encode_bucket, std::vector<std::uint8_t>{0x00, 0x00});
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Copy the rest so that ASan catches any read past its end.
  const std::vector<std::uint8_t> rest(data + 1, data + size);
  switch (data[0] % 7) {
    case 0:
      round_trip(rest, [](Bytes f) { return decode_push(f); });
      break;
    case 1:
      round_trip(rest, [](Bytes f) { return decode_push_ack(f); });
      break;
    case 2:
      round_trip(rest, [](Bytes f) { return decode_tombstone(f); });
      break;
    case 3:
      round_trip(rest, [](Bytes f) { return decode_summary(f); });
      break;
    case 4:
      round_trip(rest, [](Bytes f) { return decode_bucket(f); });
      break;
    case 5:
      round_trip(rest, [](Bytes f) { return decode_fetch(f); });
      break;
    default:
      check_encode_bucket(rest);
      break;
  }
  return 0;
}
