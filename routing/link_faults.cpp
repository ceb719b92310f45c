#include "routing/link_faults.hpp"

#include <algorithm>

namespace nightjar {

void FrameDelayQueue::push(FrameDirection direction, std::uint64_t now_ms,
                           std::chrono::milliseconds delay, std::vector<std::uint8_t> bytes) {
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, delay.count()));
  auto& last = direction == FrameDirection::in ? last_in_ms_ : last_out_ms_;
  auto& queue = direction == FrameDirection::in ? in_ : out_;
  last = std::max(last, now_ms + ms);
  bytes_ += bytes.size();
  queue.push_back(Frame{last, direction, std::move(bytes)});
}

std::optional<std::uint64_t> FrameDelayQueue::next_due() const {
  std::optional<std::uint64_t> due;
  if (!in_.empty()) due = in_.front().due_ms;
  if (!out_.empty()) due = due ? std::min(*due, out_.front().due_ms) : out_.front().due_ms;
  return due;
}

std::vector<FrameDelayQueue::Frame> FrameDelayQueue::take_due(std::uint64_t now_ms) {
  std::vector<Frame> out;
  while (true) {
    const bool in_due = !in_.empty() && in_.front().due_ms <= now_ms;
    const bool out_due = !out_.empty() && out_.front().due_ms <= now_ms;
    if (!in_due && !out_due) break;
    auto& from = (in_due && (!out_due || in_.front().due_ms <= out_.front().due_ms)) ? in_ : out_;
    bytes_ -= from.front().bytes.size();
    out.push_back(std::move(from.front()));
    from.pop_front();
  }
  return out;
}

void FrameDelayQueue::clear() {
  in_.clear();
  out_.clear();
  bytes_ = 0;
}

}  // namespace nightjar
