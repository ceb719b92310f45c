// ReceiveState: the client's saved receive positions (handled IDs, members'
// arrival cursors, the low cursor), its file format, and bad input.
#include <catch2/catch.hpp>

#include "client/receive_state.hpp"
#include "routing/wire.hpp"

using namespace nightjar;
using nightjar::client::MemberPosition;
using nightjar::client::ReceiveState;

namespace {

template <class T>
T filled(std::uint8_t b) {
  T t;
  t.bytes.fill(b);
  return t;
}

ReceiveState sample() {
  ReceiveState s;
  s.set_low(Cursor{1'700'000'000'000, filled<MessageId>(0x11)});
  s.mark(filled<MessageId>(0x21), 1'700'000'100'000);
  s.mark(filled<MessageId>(0x22), 1'700'000'200'000);
  s.set_member(filled<NodeId>(0x31), MemberPosition{{7, 1'700'000'000'000ull << 20}, true, 5});
  s.set_member(filled<NodeId>(0x32), MemberPosition{{8, 9}, false, 6});
  return s;
}

}  // namespace

TEST_CASE("the receive state round-trips, member positions included", "[client]") {
  const ReceiveState s = sample();
  ReceiveState back;
  REQUIRE(back.parse(s.serialize()));
  CHECK(back.serialize() == s.serialize());
  CHECK(back.low() == s.low());
  CHECK(back.handled(filled<MessageId>(0x21)));
  CHECK_FALSE(back.handled(filled<MessageId>(0x23)));
  CHECK(back.member(filled<NodeId>(0x31)) == s.member(filled<NodeId>(0x31)));
  CHECK(back.member(filled<NodeId>(0x32)).cursor == ArrivalCursor{8, 9});
  CHECK_FALSE(back.member(filled<NodeId>(0x32)).caught_up);
  // A member never asked has a zero position.
  CHECK(back.member(filled<NodeId>(0x33)) == MemberPosition{});
}

TEST_CASE("a version 1 receive state is read, with no member positions", "[client]") {
  WireWriter w;
  const std::string header = "nightjar receive state v1\n";
  w.raw(as_bytes(header)).u64(42).fixed(filled<MessageId>(0x11)).u32(1);
  w.fixed(filled<MessageId>(0x21)).u64(99);
  ReceiveState s;
  REQUIRE(s.parse(w.take()));
  CHECK(s.low() == Cursor{42, filled<MessageId>(0x11)});
  CHECK(s.handled(filled<MessageId>(0x21)));
  CHECK(s.members().empty());
}

TEST_CASE("a damaged receive state is refused and leaves the state empty", "[client]") {
  const auto good = sample().serialize();
  // Every truncation.
  for (std::size_t n = 0; n < good.size(); ++n) {
    ReceiveState s = sample();
    CHECK_FALSE(s.parse(Bytes(good).first(n)));
    CHECK(s.size() == 0);
    CHECK(s.members().empty());
    CHECK(s.low() == Cursor{});
  }
  // A byte left over, a wrong header, a bad flag, a member listed twice, a
  // member count over the bound.
  auto trailing = good;
  trailing.push_back(0);
  CHECK_FALSE(ReceiveState{}.parse(trailing));
  auto header = good;
  header[0] = 'N';
  CHECK_FALSE(ReceiveState{}.parse(header));
  const std::size_t members_at = 26 + 8 + 32;  // header, low cursor
  const std::size_t member_bytes = 32 + 8 + 8 + 1 + 8;
  auto flag = good;
  flag[members_at + 2 + 48] = 2;
  CHECK_FALSE(ReceiveState{}.parse(flag));
  auto twice = good;
  std::copy(good.begin() + members_at + 2, good.begin() + members_at + 2 + 32,
            twice.begin() + members_at + 2 + member_bytes);
  CHECK_FALSE(ReceiveState{}.parse(twice));
  auto too_many = good;
  too_many[members_at] = 0xff;
  too_many[members_at + 1] = 0xff;
  CHECK_FALSE(ReceiveState{}.parse(too_many));
}

TEST_CASE("the receive state keeps at most max_members positions, dropping the least recent",
          "[client]") {
  ReceiveState s;
  for (std::size_t i = 0; i < ReceiveState::max_members + 5; ++i) {
    NodeId n;
    n.bytes[0] = static_cast<std::uint8_t>(i);
    s.set_member(n, MemberPosition{{1, i}, true, 1000 + i});
  }
  CHECK(s.members().size() == ReceiveState::max_members);
  NodeId first, last;
  last.bytes[0] = static_cast<std::uint8_t>(ReceiveState::max_members + 4);
  CHECK(s.member(first) == MemberPosition{});           // the oldest went
  CHECK(s.member(last).cursor.seq == ReceiveState::max_members + 4);
  // Updating a member already held never drops another.
  s.set_member(last, MemberPosition{{1, 1}, true, 1});
  CHECK(s.members().size() == ReceiveState::max_members);
}
