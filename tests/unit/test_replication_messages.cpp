// Tests of swarm/replication_messages.hpp: round trips of every frame, their
// exact sizes, every class of bad input (truncation, trailing bytes, wrong
// type byte, bad status and flags, counts over the limits, unsorted or
// foreign bucket entries), and how encode_bucket splits a bucket.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "routing/crypto.hpp"
#include "routing/frame.hpp"
#include "routing/wire.hpp"
#include "swarm/replication_messages.hpp"

using nightjar::BucketSummary;
using nightjar::Ed25519PublicKey;
using nightjar::EntryState;
using nightjar::Hash256;
using nightjar::MessageId;
using nightjar::StoredMessage;
using nightjar::summary_buckets;
using nightjar::WireError;
using namespace nightjar::replication;

namespace {

template <class Fixed>
Fixed filled(std::uint8_t b) {
  Fixed f;
  for (std::size_t i = 0; i < Fixed::size_bytes; ++i)
    f.bytes[i] = static_cast<std::uint8_t>(b + i);
  return f;
}

std::vector<std::uint8_t> seq(std::size_t n, std::uint8_t start = 0) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<std::uint8_t>(start + i * 13);
  return v;
}

// An ID in `bucket` whose remaining bytes encode `n`, so IDs sort by n.
MessageId id_in(std::uint8_t bucket, std::uint32_t n) {
  MessageId id;
  id.bytes[0] = bucket;
  id.bytes[28] = static_cast<std::uint8_t>(n >> 24);
  id.bytes[29] = static_cast<std::uint8_t>(n >> 16);
  id.bytes[30] = static_cast<std::uint8_t>(n >> 8);
  id.bytes[31] = static_cast<std::uint8_t>(n);
  return id;
}

std::vector<EntryState> entries(std::uint8_t bucket, std::size_t n) {
  std::vector<EntryState> out;
  for (std::uint32_t i = 0; i < n; ++i)
    out.push_back(EntryState{id_in(bucket, i * 3 + 1), i % 3 == 0, 1'000'000u + i});
  return out;
}

Push push(std::uint64_t request_id, std::size_t body_bytes) {
  Push p;
  p.request_id = request_id;
  p.message.recipient = filled<Ed25519PublicKey>(0x11);
  p.message.id = filled<MessageId>(0x22);
  p.message.timestamp_ms = 1'700'000'000'000;
  p.message.expiry_ms = 1'700'001'000'000;
  p.message.body = seq(body_bytes, 5);
  return p;
}

Summary summary() {
  Summary s;
  s.swarm = 0x0123456789abcdefu;
  for (std::size_t i = 0; i < summary_buckets; ++i)
    s.buckets[i] = BucketSummary{static_cast<std::uint32_t>(i * 1000 + 1),
                                 filled<Hash256>(static_cast<std::uint8_t>(i))};
  return s;
}

Fetch fetch(std::size_t n) {
  Fetch f;
  for (std::size_t i = 0; i < n; ++i)
    f.ids.push_back(filled<MessageId>(static_cast<std::uint8_t>(i)));
  return f;
}

std::vector<std::uint8_t> prefix(const std::vector<std::uint8_t>& v, std::size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)};
}
std::vector<std::uint8_t> plus_byte(std::vector<std::uint8_t> v) {
  v.push_back(0);
  return v;
}

// Runs `decode` on every strict prefix of `frame` (all truncated), on the
// frame with a byte appended (trailing bytes) and with its type byte changed
// to each other replication type (bad value).
template <class Decode>
void check_framing(const std::vector<std::uint8_t>& frame, Decode decode) {
  for (std::size_t n = 0; n < frame.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    auto r = decode(prefix(frame, n));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == WireError::truncated);
  }
  auto extra = decode(plus_byte(frame));
  REQUIRE_FALSE(extra.ok());
  CHECK(extra.error() == WireError::trailing_bytes);
  for (int t : {0x00, 0x01, 0x13, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xff}) {
    if (t == frame[0]) continue;
    auto other = frame;
    other[0] = static_cast<std::uint8_t>(t);
    auto r = decode(other);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == WireError::bad_value);
  }
}

template <class Result>
void check_fails(const Result& r, WireError want) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == want);
}

void check_same(const StoredMessage& a, const StoredMessage& b) {
  CHECK(a.recipient == b.recipient);
  CHECK(a.ns == b.ns);
  CHECK(a.id == b.id);
  CHECK(a.timestamp_ms == b.timestamp_ms);
  CHECK(a.expiry_ms == b.expiry_ms);
  CHECK(a.body == b.body);
}

}  // namespace

TEST_CASE("Replication pushes round-trip with empty and largest bodies", "[replication]") {
  Push record = push(7, 100);
  record.message.ns = nightjar::Namespace::records;
  for (const Push& p : {push(0, 0), push(1, 1), push(~std::uint64_t{0}, max_body_bytes), record}) {
    const auto frame = encode(p);
    CHECK(frame.size() == 1 + 8 + 1 + 32 + 32 + 8 + 8 + 2 + p.message.body.size());
    CHECK(frame[9] == static_cast<std::uint8_t>(p.message.ns));
    CHECK(frame[0] == static_cast<std::uint8_t>(nightjar::FrameType::repl_push));
    auto back = decode_push(frame);
    REQUIRE(back.ok());
    CHECK(back->request_id == p.request_id);
    check_same(back->message, p.message);
    CHECK(encode(*back) == frame);
  }
  CHECK_THROWS_AS(encode(push(1, max_body_bytes + 1)), std::length_error);
}

TEST_CASE("Replication acks, tombstones, summaries and fetches round-trip", "[replication]") {
  for (AckStatus s :
       {AckStatus::stored, AckStatus::wrong_swarm, AckStatus::refused, AckStatus::deleted}) {
    const auto frame = encode(PushAck{0x0102030405060708u, s});
    CHECK(frame.size() == 10u);
    auto back = decode_push_ack(frame);
    REQUIRE(back.ok());
    CHECK(back->request_id == 0x0102030405060708u);
    CHECK(back->status == s);
  }

  for (const nightjar::Mailbox& mailbox :
       {nightjar::Mailbox{filled<Ed25519PublicKey>(1)},
        nightjar::Mailbox{nightjar::Namespace::records, filled<Ed25519PublicKey>(3)}}) {
    const Tombstone t{mailbox, filled<MessageId>(2), 0xfffffffffffffff0u};
    const auto tf = encode(t);
    CHECK(tf.size() == 1 + 1 + 32 + 32 + 8u);
    auto tb = decode_tombstone(tf);
    REQUIRE(tb.ok());
    CHECK(tb->mailbox == t.mailbox);
    CHECK(tb->id == t.id);
    CHECK(tb->expiry_ms == t.expiry_ms);
  }

  for (const Summary& s : {Summary{}, summary()}) {
    const auto frame = encode(s);
    CHECK(frame.size() == 1 + 8 + 256 * 36u);
    auto back = decode_summary(frame);
    REQUIRE(back.ok());
    CHECK(back->swarm == s.swarm);
    CHECK(back->buckets == s.buckets);
  }

  for (std::size_t n : {std::size_t{1}, std::size_t{2}, max_fetch_ids}) {
    const auto frame = encode(fetch(n));
    CHECK(frame.size() == 3 + 32 * n);
    auto back = decode_fetch(frame);
    REQUIRE(back.ok());
    CHECK(back->ids == fetch(n).ids);
  }
}

TEST_CASE("Replication bucket listings round-trip from empty to full", "[replication]") {
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{7}, max_bucket_entries_per_frame}) {
    for (bool last : {false, true}) {
      const BucketList list{0xab, last, entries(0xab, n)};
      const auto frame = encode(list);
      CHECK(frame.size() == 1 + 1 + 1 + 2 + 41 * n);
      auto back = decode_bucket(frame);
      REQUIRE(back.ok());
      CHECK(back->bucket == 0xab);
      CHECK(back->last == last);
      CHECK(back->entries == list.entries);
    }
  }
  // The flags byte: 1 for a tombstone, 0 otherwise.
  const auto frame = encode(BucketList{0, true, {EntryState{id_in(0, 1), true, 5}}});
  CHECK(frame[5 + 32] == 1);
  const auto live = encode(BucketList{0, true, {EntryState{id_in(0, 1), false, 5}}});
  CHECK(live[5 + 32] == 0);
}

TEST_CASE("Replication decoders reject truncation, trailing bytes and a wrong type",
          "[replication]") {
  check_framing(encode(push(7, 5)), [](const auto& f) { return decode_push(f); });
  check_framing(encode(push(0, 0)), [](const auto& f) { return decode_push(f); });
  check_framing(encode(PushAck{3, AckStatus::refused}),
                [](const auto& f) { return decode_push_ack(f); });
  check_framing(encode(Tombstone{}), [](const auto& f) { return decode_tombstone(f); });
  check_framing(encode(summary()), [](const auto& f) { return decode_summary(f); });
  check_framing(encode(BucketList{9, true, entries(9, 3)}),
                [](const auto& f) { return decode_bucket(f); });
  check_framing(encode(BucketList{9, true, {}}), [](const auto& f) { return decode_bucket(f); });
  check_framing(encode(fetch(3)), [](const auto& f) { return decode_fetch(f); });
}

TEST_CASE("Replication decoders reject bad statuses, flags and counts", "[replication]") {
  // An unknown namespace (3 is the first after group mailboxes).
  for (int ns : {3, 0x80, 0xff}) {
    auto p = encode(push(1, 3));
    p[9] = static_cast<std::uint8_t>(ns);
    check_fails(decode_push(p), WireError::bad_value);
    auto t = encode(Tombstone{filled<Ed25519PublicKey>(1), filled<MessageId>(2), 5});
    t[1] = static_cast<std::uint8_t>(ns);
    check_fails(decode_tombstone(t), WireError::bad_value);
  }

  auto ack = encode(PushAck{1, AckStatus::stored});
  for (int s : {4, 0x80, 0xff}) {
    ack[9] = static_cast<std::uint8_t>(s);
    check_fails(decode_push_ack(ack), WireError::bad_value);
  }

  const auto good = encode(BucketList{4, false, entries(4, 2)});
  auto last = good;
  last[2] = 2;
  check_fails(decode_bucket(last), WireError::bad_value);
  for (int flags : {0x02, 0x03, 0x80, 0xff}) {
    auto bad = good;
    bad[5 + 32] = static_cast<std::uint8_t>(flags);
    check_fails(decode_bucket(bad), WireError::bad_value);
  }

  // More entries than a frame may hold: refused before reading them.
  auto many = encode(BucketList{4, true, {}});
  many[3] = static_cast<std::uint8_t>((max_bucket_entries_per_frame + 1) >> 8);
  many[4] = static_cast<std::uint8_t>(max_bucket_entries_per_frame + 1);
  check_fails(decode_bucket(many), WireError::too_long);
  many.resize(many.size() + 41 * (max_bucket_entries_per_frame + 1), 0x04);
  check_fails(decode_bucket(many), WireError::too_long);

  // Fetch: zero IDs, and more than max_fetch_ids.
  auto none = encode(fetch(1));
  none[1] = 0;
  none[2] = 0;
  none.resize(3);
  check_fails(decode_fetch(none), WireError::bad_value);
  auto over = encode(fetch(1));
  over[1] = static_cast<std::uint8_t>((max_fetch_ids + 1) >> 8);
  over[2] = static_cast<std::uint8_t>(max_fetch_ids + 1);
  check_fails(decode_fetch(over), WireError::too_long);
}

TEST_CASE("Replication bucket listings must be sorted, unique and in their bucket",
          "[replication]") {
  // Two entries, written by hand (encode refuses these).
  auto listing = [](std::uint8_t bucket, const MessageId& a, const MessageId& b) {
    nightjar::WireWriter w;
    w.u8(static_cast<std::uint8_t>(nightjar::FrameType::repl_bucket)).u8(bucket).u8(1).u16(2);
    w.fixed(a).u8(0).u64(1).fixed(b).u8(1).u64(2);
    return w.take();
  };
  REQUIRE(decode_bucket(listing(7, id_in(7, 1), id_in(7, 2))).ok());
  check_fails(decode_bucket(listing(7, id_in(7, 2), id_in(7, 1))), WireError::bad_value);
  check_fails(decode_bucket(listing(7, id_in(7, 2), id_in(7, 2))), WireError::bad_value);
  check_fails(decode_bucket(listing(7, id_in(7, 1), id_in(8, 2))), WireError::bad_value);
  check_fails(decode_bucket(listing(7, id_in(6, 1), id_in(7, 2))), WireError::bad_value);
  // Order is by the whole ID, not only its last bytes.
  MessageId high = id_in(7, 1);
  high.bytes[1] = 0xff;
  check_fails(decode_bucket(listing(7, high, id_in(7, 2))), WireError::bad_value);
  REQUIRE(decode_bucket(listing(7, id_in(7, 2), high)).ok());
}

TEST_CASE("Replication encoders refuse frames that would not decode", "[replication]") {
  CHECK_THROWS_AS(encode(BucketList{1, true, entries(1, max_bucket_entries_per_frame + 1)}),
                  std::length_error);
  auto unsorted = entries(1, 3);
  std::swap(unsorted[0], unsorted[2]);
  CHECK_THROWS_AS(encode(BucketList{1, true, unsorted}), std::invalid_argument);
  auto twice = entries(1, 2);
  twice[1].id = twice[0].id;
  CHECK_THROWS_AS(encode(BucketList{1, true, twice}), std::invalid_argument);
  CHECK_THROWS_AS(encode(BucketList{2, true, entries(1, 1)}), std::invalid_argument);
  CHECK_THROWS_AS(encode(Fetch{}), std::length_error);
  CHECK_THROWS_AS(encode(fetch(max_fetch_ids + 1)), std::length_error);
}

TEST_CASE("encode_bucket splits a bucket into sorted frames", "[replication]") {
  struct Case {
    std::size_t entries;
    std::size_t frames;
  };
  const std::size_t per = max_bucket_entries_per_frame;
  for (const Case c : {Case{0, 1}, Case{1, 1}, Case{per, 1}, Case{per + 1, 2}, Case{2 * per, 2},
                       Case{2 * per + 500, 3}}) {
    INFO(c.entries << " entries");
    const auto want = entries(0x5c, c.entries);
    // Shuffled, with one entry listed twice: frames come out sorted and unique.
    auto input = want;
    std::reverse(input.begin(), input.end());
    if (!input.empty()) input.push_back(input.front());
    const auto frames = encode_bucket(0x5c, input);
    REQUIRE(frames.size() == c.frames);
    std::vector<EntryState> got;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto list = decode_bucket(frames[i]);
      REQUIRE(list.ok());
      CHECK(list->bucket == 0x5c);
      CHECK(list->last == (i + 1 == frames.size()));
      CHECK(list->entries.size() <= per);
      if (i + 1 < frames.size()) CHECK(list->entries.size() == per);
      got.insert(got.end(), list->entries.begin(), list->entries.end());
    }
    CHECK(got == want);
  }
  CHECK_THROWS_AS(encode_bucket(3, entries(4, 1)), std::invalid_argument);
}
