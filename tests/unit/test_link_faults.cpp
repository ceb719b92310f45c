// FrameDelayQueue: the order and release times of frames the link fault shim
// holds back. No sockets; times are given.
#include <catch2/catch.hpp>

#include "routing/link_faults.hpp"

using namespace nightjar;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> frame(std::uint8_t tag) {
  return {tag};
}

std::vector<std::uint8_t> tags(const std::vector<FrameDelayQueue::Frame>& frames) {
  std::vector<std::uint8_t> out;
  for (const auto& f : frames)
    out.push_back(f.bytes.at(0));
  return out;
}

}  // namespace

TEST_CASE("delayed frames are released at their due time and not before", "[link-faults][unit]") {
  FrameDelayQueue q;
  CHECK_FALSE(q.next_due().has_value());
  q.push(FrameDirection::in, 1000, 50ms, frame(1));
  q.push(FrameDirection::in, 1010, 50ms, frame(2));
  CHECK(q.size() == 2);
  CHECK(q.bytes() == 2);
  CHECK(q.next_due() == 1050u);
  CHECK(q.take_due(1049).empty());
  CHECK(tags(q.take_due(1050)) == std::vector<std::uint8_t>{1});
  CHECK(q.next_due() == 1060u);
  CHECK(tags(q.take_due(5000)) == std::vector<std::uint8_t>{2});
  CHECK(q.size() == 0);
  CHECK(q.bytes() == 0);
}

TEST_CASE("a shorter delay never lets a frame overtake an earlier one of its direction",
          "[link-faults][unit]") {
  FrameDelayQueue q;
  q.push(FrameDirection::out, 0, 100ms, frame(1));
  q.push(FrameDirection::out, 10, 5ms, frame(2));  // would be due at 15, held to 100
  q.push(FrameDirection::in, 10, 5ms, frame(3));   // the other direction is independent
  CHECK(q.next_due() == 15u);
  auto first = q.take_due(20);
  REQUIRE(first.size() == 1);
  CHECK(first[0].direction == FrameDirection::in);
  CHECK(tags(q.take_due(99)).empty());
  auto rest = q.take_due(100);
  CHECK(tags(rest) == std::vector<std::uint8_t>{1, 2});
  CHECK(rest[1].due_ms == 100);
}

TEST_CASE("frames of both directions come out earliest first, in before out on a tie",
          "[link-faults][unit]") {
  FrameDelayQueue q;
  q.push(FrameDirection::out, 0, 30ms, frame(1));
  q.push(FrameDirection::in, 0, 20ms, frame(2));
  q.push(FrameDirection::out, 0, 40ms, frame(3));
  q.push(FrameDirection::in, 0, 40ms, frame(4));
  q.push(FrameDirection::in, 0, 0ms, frame(5));  // held behind 4
  CHECK(tags(q.take_due(100)) == std::vector<std::uint8_t>{2, 1, 4, 5, 3});
}

TEST_CASE("clearing the queue forgets every held frame", "[link-faults][unit]") {
  FrameDelayQueue q;
  q.push(FrameDirection::in, 0, 10ms, std::vector<std::uint8_t>(100));
  q.push(FrameDirection::out, 0, 10ms, std::vector<std::uint8_t>(50));
  CHECK(q.bytes() == 150);
  q.clear();
  CHECK(q.size() == 0);
  CHECK(q.bytes() == 0);
  CHECK(q.take_due(1000).empty());
}
