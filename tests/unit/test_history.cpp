// The message history (client/history.hpp): states that only move forward,
// conversations and unread counts, the sealed append-only log replayed on
// open, a record cut by a crash, the bounds, and erasing.
#include <catch2/catch.hpp>

#include "client/history.hpp"
#include "client/identity.hpp"
#include "routing/key_file.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::client;
using nightjar::test::TempDir;

namespace {

HistoryEntry entry(const ConversationKey& c, bool outgoing, const std::string& text, std::uint64_t at) {
  HistoryEntry e;
  e.conversation = c;
  e.outgoing = outgoing;
  e.text.assign(text.begin(), text.end());
  e.sent_ms = at;
  e.recorded_ms = at;
  e.state_ms = at;
  e.state = outgoing ? DeliveryState::sending : DeliveryState::received;
  return e;
}

MessageId id_of(std::uint8_t b) {
  MessageId id;
  id.bytes.fill(b);
  return id;
}

std::string text_of(const HistoryEntry& e) {
  return std::string(e.text.begin(), e.text.end());
}

std::uintmax_t size_of(const std::filesystem::path& p) {
  return std::filesystem::file_size(p);
}

}  // namespace

TEST_CASE("a sent message's state only moves forward", "[history][unit]") {
  SystemRandom rng;
  const ConversationKey bob{false, Identity::generate(rng).account()};
  History h;
  auto seq = h.add(entry(bob, true, "hi", 10));
  REQUIRE(seq.ok());
  CHECK(*h.set_state(*seq, DeliveryState::stored, 20, {}, id_of(1)));
  CHECK(h.find_sent(bob, id_of(1)) == *seq);
  CHECK(*h.set_state(*seq, DeliveryState::delivered, 30));
  CHECK_FALSE(*h.set_state(*seq, DeliveryState::stored, 40));  // a late acknowledgement
  CHECK(h.entry(*seq)->state == DeliveryState::delivered);
  CHECK(h.entry(*seq)->state_ms == 30);
  auto other = h.add(entry(bob, true, "lost", 50));
  CHECK(*h.set_state(*other, DeliveryState::failed, 60, "failed: no path"));
  CHECK(h.entry(*other)->detail == "failed: no path");
  CHECK_FALSE(*h.set_state(999, DeliveryState::stored, 70));
}

TEST_CASE("conversations list the latest first with their unread messages", "[history][unit]") {
  SystemRandom rng;
  const ConversationKey bob{false, Identity::generate(rng).account()};
  const ConversationKey hikers{true, Identity::generate(rng).account()};
  History h;
  REQUIRE(h.add(entry(bob, false, "one", 1)).ok());
  REQUIRE(h.add(entry(bob, false, "two", 2)).ok());
  REQUIRE(h.add(entry(hikers, false, "group", 3)).ok());
  REQUIRE(h.add(entry(bob, true, "reply", 4)).ok());
  auto list = h.conversations();
  REQUIRE(list.size() == 2);
  CHECK(list[0].conversation == bob);
  CHECK(list[0].messages == 3);
  CHECK(list[0].unread == 2);
  CHECK(list[1].conversation == hikers);
  REQUIRE(h.mark_read(bob).ok());
  CHECK(h.conversations()[0].unread == 0);
  CHECK(h.messages(bob).size() == 3);
  REQUIRE(h.messages(bob, 2).size() == 2);
  CHECK(text_of(h.messages(bob, 2)[0]) == "two");
}

TEST_CASE("the history log is sealed, replayed on open, and survives a cut record", "[history][unit]") {
  SystemRandom rng;
  TempDir dir("nightjar-history");
  const Identity me = Identity::generate(rng);
  const ConversationKey bob{false, Identity::generate(rng).account()};
  const auto file = dir / "history";
  {
    auto h = History::open(file, me, {}, 100);
    REQUIRE(h.ok());
    auto seq = h->add(entry(bob, true, "secret words", 50));
    REQUIRE(h->set_state(*seq, DeliveryState::stored, 60, {}, id_of(7)).ok());
    REQUIRE(h->add(entry(bob, false, "an answer", 70)).ok());
    REQUIRE(h->mark_read(bob).ok());
    REQUIRE(h->flush().ok());
  }
  const auto bytes = read_private_file(file, 1u << 20);
  REQUIRE(bytes.ok());
  const std::string raw(bytes->begin(), bytes->end());
  CHECK(raw.find("secret words") == std::string::npos);
  const auto whole = size_of(file);
  {
    auto h = History::open(file, me, {}, 100);
    REQUIRE(h.ok());
    REQUIRE(h->size() == 2);
    const auto msgs = h->messages(bob);
    CHECK(msgs[0].state == DeliveryState::stored);
    CHECK(h->find_sent(bob, id_of(7)) == msgs[0].seq);
    CHECK(h->conversations()[0].unread == 0);
    // A crash in the middle of the next append leaves part of a record.
    REQUIRE(h->add(entry(bob, false, "cut short", 80)).ok());
    REQUIRE(h->flush().ok());
  }
  std::filesystem::resize_file(file, size_of(file) - 5);
  {
    auto h = History::open(file, me, {}, 100);
    REQUIRE(h.ok());
    CHECK(h->size() == 2);
    CHECK(h->damaged_records() == 0);
    CHECK(size_of(file) == whole);  // truncated to the last whole record
    REQUIRE(h->add(entry(bob, false, "after the crash", 90)).ok());
    REQUIRE(h->flush().ok());
  }
  auto again = History::open(file, me, {}, 100);
  REQUIRE(again.ok());
  CHECK(again->size() == 3);
  // Another account cannot read it.
  auto other = History::open(file, Identity::generate(rng), {}, 100);
  REQUIRE(other.ok());
  CHECK(other->size() == 0);
  CHECK(other->damaged_records() > 0);
}

TEST_CASE("the history keeps to its bounds and is rewritten when mostly stale", "[history][unit]") {
  SystemRandom rng;
  TempDir dir("nightjar-history");
  const Identity me = Identity::generate(rng);
  const ConversationKey bob{false, Identity::generate(rng).account()};
  const auto file = dir / "history";
  HistoryLimits limits;
  limits.max_per_conversation = 3;
  limits.max_age_ms = 1000;
  {
    auto h = History::open(file, me, limits, 0);
    REQUIRE(h.ok());
    for (int i = 0; i < 40; ++i) REQUIRE(h->add(entry(bob, false, "m" + std::to_string(i), static_cast<std::uint64_t>(100 + i))).ok());
    CHECK(h->size() == 3);
    CHECK(text_of(h->messages(bob)[0]) == "m37");
    REQUIRE(h->flush().ok());
  }
  const auto before = size_of(file);
  {
    auto h = History::open(file, me, limits, 500);
    REQUIRE(h.ok());
    CHECK(h->size() == 3);
  }
  CHECK(size_of(file) < before / 4);  // rewritten with what is kept
  auto old = History::open(file, me, limits, 100'000);  // everything is older than a second now
  REQUIRE(old.ok());
  CHECK(old->size() == 0);
}

TEST_CASE("erasing the history empties it and its file", "[history][unit]") {
  SystemRandom rng;
  TempDir dir("nightjar-history");
  const Identity me = Identity::generate(rng);
  const ConversationKey bob{false, Identity::generate(rng).account()};
  {
    auto h = History::open(dir / "history", me, {}, 10);
    REQUIRE(h.ok());
    REQUIRE(h->add(entry(bob, false, "gone soon", 5)).ok());
    REQUIRE(h->erase().ok());
    CHECK(h->size() == 0);
    REQUIRE(h->add(entry(bob, false, "after", 6)).ok());
    REQUIRE(h->flush().ok());
  }
  auto h = History::open(dir / "history", me, {}, 10);
  REQUIRE(h.ok());
  REQUIRE(h->size() == 1);
  CHECK(text_of(h->messages(bob)[0]) == "after");
}
