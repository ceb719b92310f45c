#include "node/rate_limit.hpp"

#include <algorithm>

namespace nightjar {

namespace {
constexpr std::uint64_t milli = 1000;
}

TokenBucket::TokenBucket(std::uint64_t rate, std::uint64_t burst, std::uint64_t now_ms)
    : rate_(rate),
      capacity_(std::max<std::uint64_t>(burst, 1) * milli),
      level_(capacity_),
      last_ms_(now_ms) {}

void TokenBucket::refill(std::uint64_t now_ms) {
  if (now_ms <= last_ms_) return;  // the clock did not move (or went back): nothing earned
  const std::uint64_t elapsed = now_ms - last_ms_;
  last_ms_ = now_ms;
  // rate_ tokens per second are rate_ milli-tokens per millisecond. Past the
  // time to fill from empty the bucket is full; below it nothing overflows.
  if (elapsed > capacity_ / rate_ + 1) {
    level_ = capacity_;
    return;
  }
  level_ = std::min(capacity_, level_ + elapsed * rate_);
}

bool TokenBucket::try_take(std::uint64_t now_ms) {
  if (rate_ == 0) return true;
  refill(now_ms);
  if (level_ < milli) return false;
  level_ -= milli;
  return true;
}

std::uint64_t TokenBucket::available(std::uint64_t now_ms) {
  if (rate_ == 0) return capacity_ / milli;
  refill(now_ms);
  return level_ / milli;
}

RateVerdict LinkRateLimiter::admit(const std::shared_ptr<const void>& link, bool onion_cell,
                                   std::uint64_t now_ms, std::uint64_t generation,
                                   const std::function<LinkClass()>& class_of) {
  if (links_.size() >= sweep_at_ && !links_.count(link.get())) sweep();
  auto [it, fresh] = links_.try_emplace(link.get());
  Entry& e = it->second;
  const bool new_link = fresh || e.alive.expired();
  if (new_link || e.generation != generation) {
    // A new link, or one whose class may have changed with the directory. A
    // link that changes class starts with a full budget of its new class.
    const LinkClass cls = class_of();
    if (new_link || cls != e.cls) {
      const RateLimit& limit = cls == LinkClass::peer ? options_.peer : options_.client;
      e.frames = TokenBucket(limit.frames_per_second, limit.burst, now_ms);
      e.refusals = TokenBucket(limit.frames_per_second, limit.burst, now_ms);
    }
    e.alive = link;
    e.cls = cls;
    e.generation = generation;
  }
  if (e.frames.try_take(now_ms)) return RateVerdict::pass;
  if (onion_cell && e.refusals.try_take(now_ms)) {
    ++stats_.cells_refused;
    return RateVerdict::refuse;
  }
  if (onion_cell)
    ++stats_.cells_dropped;
  else
    ++stats_.frames_dropped;
  return RateVerdict::drop;
}

void LinkRateLimiter::sweep() {
  std::erase_if(links_, [](const auto& kv) { return kv.second.alive.expired(); });
  // Amortised: the next sweep comes after the table has doubled again.
  sweep_at_ = std::max<std::size_t>(64, 2 * links_.size());
}

}  // namespace nightjar
