// Fragments (client/fragments.hpp): even splitting around the fragment
// capacity, sealed fragments reassembled from shuffled and duplicated
// deliveries exactly once, inconsistent fragments, and the Reassembler's
// memory bounds.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "client/fragments.hpp"

using namespace nightjar;
using namespace nightjar::client;

namespace {

DeterministicRandom rng_from(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(b);
  return DeterministicRandom(seed);
}

Identity identity_from(std::uint8_t b) {
  auto rng = rng_from(static_cast<std::uint8_t>(0x40 | b));
  return Identity::generate(rng);
}

const Identity& alice() {
  static const Identity id = identity_from(1);
  return id;
}
const Identity& bob() {
  static const Identity id = identity_from(2);
  return id;
}

std::vector<std::uint8_t> text_of(std::size_t n, std::uint8_t salt = 0) {
  std::vector<std::uint8_t> text(n);
  for (std::size_t i = 0; i < n; ++i)
    text[i] = static_cast<std::uint8_t>((i * 7 + salt) ^ (i >> 8));
  return text;
}

// An opened fragment without the crypto, for Reassembler tests.
OpenedEnvelope piece(std::uint8_t sender, std::uint8_t id, std::uint16_t index, std::uint16_t count,
                     std::vector<std::uint8_t> body, std::uint64_t timestamp = 1000) {
  OpenedEnvelope e;
  e.sender.bytes.fill(sender);
  e.message_id.bytes.fill(id);
  e.index = index;
  e.count = count;
  e.timestamp_ms = timestamp;
  e.body = std::move(body);
  return e;
}

bool completed(const Result<std::optional<ReceivedMessage>, ReassemblyError>& r) {
  return r.ok() && r->has_value();
}
bool stored(const Result<std::optional<ReceivedMessage>, ReassemblyError>& r) {
  return r.ok() && !r->has_value();
}

}  // namespace

TEST_CASE("fragment splits into the fewest, evenly sized pieces", "[client][unit]") {
  for (std::uint32_t max_body : {min_max_body_bytes, 440u, 1032u}) {
    const std::size_t c = fragment_capacity(max_body);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, c - 1, c, c + 1, 2 * c - 1, 2 * c,
                          2 * c + 1, 3 * c, 10 * c + 5, max_message_bytes}) {
      INFO("max_body " << max_body << " length " << n);
      const auto text = text_of(n);
      auto pieces = fragment(text, max_body);
      REQUIRE(pieces.ok());
      const std::size_t k = std::max<std::size_t>(1, (n + c - 1) / c);
      REQUIRE(pieces->size() == k);
      CHECK(k <= max_fragments);
      std::vector<std::uint8_t> joined;
      std::size_t shortest = n, longest = 0;
      for (Bytes p : *pieces) {
        joined.insert(joined.end(), p.begin(), p.end());
        shortest = std::min(shortest, p.size());
        longest = std::max(longest, p.size());
        CHECK(p.size() <= c);
        // With two or more pieces, each is too big for the middle bucket, so
        // every envelope lands in the largest one.
        if (k >= 2) CHECK(envelope_overhead + p.size() > envelope_buckets(max_body)[1]);
      }
      CHECK(joined == text);
      CHECK(longest - shortest <= 1);
    }
  }
  auto too_long = fragment(text_of(max_message_bytes + 1), 440);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error() == SealError::message_too_large);
  auto too_small = fragment(text_of(10), min_max_body_bytes - 1);
  REQUIRE_FALSE(too_small.ok());
  CHECK(too_small.error() == SealError::body_limit_too_small);
}

TEST_CASE("a 64 KiB message fits in max_fragments at the smallest capacity", "[client][unit]") {
  auto pieces = fragment(text_of(max_message_bytes), min_max_body_bytes);
  REQUIRE(pieces.ok());
  CHECK(pieces->size() == max_fragments);
}

TEST_CASE("sealed fragments reassemble from shuffled duplicates exactly once", "[client][unit]") {
  const std::size_t c = fragment_capacity(440);
  std::mt19937 shuffle_rng(12345);
  auto rng = rng_from(1);
  for (std::size_t n :
       {std::size_t{0}, c - 1, c, c + 1, 2 * c + 1, std::size_t{5000}, max_message_bytes}) {
    INFO("length " << n);
    const auto text = text_of(n, static_cast<std::uint8_t>(n));
    auto envelopes = seal_message(alice(), bob().account(), 1'700'000'000'000, text, 440, rng);
    REQUIRE(envelopes.ok());
    const auto buckets = envelope_buckets(440);
    if (envelopes->size() >= 2)
      for (const auto& e : *envelopes)
        CHECK(e.size() == buckets[2]);

    // Every envelope twice, some three times, in a seeded random order.
    std::vector<std::vector<std::uint8_t>> deliveries = *envelopes;
    deliveries.insert(deliveries.end(), envelopes->begin(), envelopes->end());
    for (std::size_t i = 0; i < envelopes->size(); i += 3)
      deliveries.push_back((*envelopes)[i]);
    std::shuffle(deliveries.begin(), deliveries.end(), shuffle_rng);

    Reassembler reassembler;
    std::size_t completions = 0;
    for (const auto& d : deliveries) {
      auto opened = open(bob(), d);
      REQUIRE(opened.ok());
      auto r = reassembler.add(std::move(*opened));
      REQUIRE(r.ok());
      if (r->has_value()) {
        ++completions;
        CHECK((*r)->text == text);
        CHECK((*r)->sender == alice().account());
        CHECK((*r)->timestamp_ms == 1'700'000'000'000);
      }
    }
    CHECK(completions == 1);
    CHECK(reassembler.pending_messages() == 0);
    CHECK(reassembler.pending_bytes() == 0);
    CHECK(reassembler.duplicates() == deliveries.size() - envelopes->size());
  }
}

TEST_CASE("interleaved messages and equal message IDs of two senders stay apart",
          "[client][unit]") {
  Reassembler r;
  // Sender 1 and sender 2 both use message ID 9.
  CHECK(stored(r.add(piece(1, 9, 0, 2, {'a'}))));
  CHECK(stored(r.add(piece(2, 9, 1, 2, {'y'}))));
  CHECK(stored(r.add(piece(1, 8, 2, 3, {'3'}))));
  auto one = r.add(piece(1, 9, 1, 2, {'b'}));
  REQUIRE(completed(one));
  CHECK((*one)->text == std::vector<std::uint8_t>{'a', 'b'});
  auto two = r.add(piece(2, 9, 0, 2, {'x'}));
  REQUIRE(completed(two));
  CHECK((*two)->text == std::vector<std::uint8_t>{'x', 'y'});
  CHECK(r.pending_messages() == 1);
}

TEST_CASE("fragments that disagree with their message are rejected", "[client][unit]") {
  Reassembler r;
  REQUIRE(stored(r.add(piece(1, 1, 0, 3, {'a'}))));
  auto count = r.add(piece(1, 1, 1, 4, {'b'}));
  REQUIRE_FALSE(count.ok());
  CHECK(count.error() == ReassemblyError::inconsistent_fragment);
  auto time = r.add(piece(1, 1, 1, 3, {'b'}, 2000));
  REQUIRE_FALSE(time.ok());
  CHECK(time.error() == ReassemblyError::inconsistent_fragment);
  auto body = r.add(piece(1, 1, 0, 3, {'z'}));
  REQUIRE_FALSE(body.ok());
  CHECK(body.error() == ReassemblyError::inconsistent_fragment);
  // The message itself is intact and still completes.
  CHECK(stored(r.add(piece(1, 1, 0, 3, {'a'}))));
  CHECK(stored(r.add(piece(1, 1, 2, 3, {'c'}))));
  auto done = r.add(piece(1, 1, 1, 3, {'b'}));
  REQUIRE(completed(done));
  CHECK((*done)->text == std::vector<std::uint8_t>{'a', 'b', 'c'});

  for (auto [index, count_value] : {std::pair<int, int>{0, 0}, {2, 2}, {0, max_fragments + 1}}) {
    auto bad = r.add(piece(1, 2, static_cast<std::uint16_t>(index),
                           static_cast<std::uint16_t>(count_value), {}));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error() == ReassemblyError::bad_fragment);
  }
}

TEST_CASE("single-fragment messages are delivered once", "[client][unit]") {
  Reassembler r;
  auto first = r.add(piece(1, 1, 0, 1, {'h', 'i'}));
  REQUIRE(completed(first));
  CHECK((*first)->text == std::vector<std::uint8_t>{'h', 'i'});
  CHECK(stored(r.add(piece(1, 1, 0, 1, {'h', 'i'}))));
  CHECK(r.duplicates() == 1);
  CHECK(r.pending_messages() == 0);
}

TEST_CASE("the oldest incomplete messages are evicted past the message limit", "[client][unit]") {
  ReassemblerLimits limits;
  limits.max_pending_messages = 3;
  Reassembler r(limits);
  for (std::uint8_t id = 1; id <= 5; ++id) {
    CHECK(stored(r.add(piece(1, id, 0, 2, {id}))));
    CHECK(r.pending_messages() <= 3);
  }
  CHECK(r.evicted() == 2);
  // Messages 1 and 2 were evicted: their second fragments start over.
  CHECK(stored(r.add(piece(1, 1, 1, 2, {'x'}))));
  CHECK(r.evicted() == 3);  // which evicted message 3
  CHECK(completed(r.add(piece(1, 5, 1, 2, {'x'}))));
  CHECK(completed(r.add(piece(1, 4, 1, 2, {'x'}))));
  CHECK(r.pending_messages() == 1);
}

TEST_CASE("the oldest incomplete messages are evicted past the byte limit", "[client][unit]") {
  ReassemblerLimits limits;
  limits.max_pending_bytes = 3 * (100 + Reassembler::fragment_cost);
  Reassembler r(limits);
  for (std::uint8_t id = 1; id <= 10; ++id) {
    CHECK(stored(r.add(piece(1, id, 0, 2, text_of(100)))));
    CHECK(r.pending_bytes() <= limits.max_pending_bytes);
  }
  CHECK(r.pending_messages() == 3);
  CHECK(r.evicted() == 7);
  // A message too big for the whole budget is refused, and only it is dropped.
  CHECK(stored(r.add(piece(2, 1, 0, 4, text_of(100)))));
  CHECK(r.pending_messages() == 3);  // the oldest made room for it
  CHECK(r.evicted() == 8);
  auto too_big = r.add(piece(2, 1, 1, 4, text_of(300)));
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error() == ReassemblyError::message_too_large);
  CHECK(r.pending_messages() == 2);
  CHECK(r.evicted() == 8);
  CHECK(r.pending_bytes() <= limits.max_pending_bytes);
}

TEST_CASE("a message over 64 KiB is refused by the reassembler", "[client][unit]") {
  Reassembler r;
  const std::size_t part = max_message_bytes / 2;
  CHECK(stored(r.add(piece(1, 1, 0, 3, text_of(part)))));
  CHECK(stored(r.add(piece(1, 1, 1, 3, text_of(part)))));
  auto third = r.add(piece(1, 1, 2, 3, text_of(1)));
  REQUIRE_FALSE(third.ok());
  CHECK(third.error() == ReassemblyError::message_too_large);
  CHECK(r.pending_messages() == 0);
  CHECK(r.pending_bytes() == 0);
}

TEST_CASE("completed message IDs are remembered up to their limit", "[client][unit]") {
  ReassemblerLimits limits;
  limits.remembered_completed = 2;
  Reassembler r(limits);
  CHECK(completed(r.add(piece(1, 1, 0, 1, {'a'}))));
  CHECK(completed(r.add(piece(1, 2, 0, 1, {'b'}))));
  CHECK(stored(r.add(piece(1, 1, 0, 1, {'a'}))));
  CHECK(completed(r.add(piece(1, 3, 0, 1, {'c'}))));
  // Message 1 has been forgotten: a late duplicate is delivered again.
  CHECK(completed(r.add(piece(1, 1, 0, 1, {'a'}))));
}
