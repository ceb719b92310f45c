// Tests of node/rate_limit.hpp: the token bucket's burst, refill and
// saturation on a fake millisecond clock, and the per-link limiter's verdicts
// (pass, refuse onion cells while the refusal budget lasts, then drop), link
// classes, reclassification with a new generation, and forgetting links.
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "node/rate_limit.hpp"

using namespace nightjar;

namespace {

std::size_t take_all(TokenBucket& b, std::uint64_t now, std::size_t max = 1'000'000) {
  std::size_t n = 0;
  while (n < max && b.try_take(now))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("rate limit: a bucket starts full and allows its burst at once", "[unit][rate_limit]") {
  TokenBucket b(10, 25, 1000);
  CHECK(b.available(1000) == 25);
  CHECK(take_all(b, 1000) == 25);
  CHECK_FALSE(b.try_take(1000));
}

TEST_CASE("rate limit: a bucket refills at its rate, in whole tokens", "[unit][rate_limit]") {
  TokenBucket b(10, 5, 0);
  take_all(b, 0);
  CHECK_FALSE(b.try_take(99));  // 0.99 tokens earned
  CHECK(b.try_take(100));       // 1 token at 10 per second
  CHECK_FALSE(b.try_take(100));
  CHECK(take_all(b, 350) == 2);  // 2.5 more earned; the half token stays
  CHECK(take_all(b, 400) == 1);  // the half plus another half
}

TEST_CASE("rate limit: a bucket never holds more than its burst", "[unit][rate_limit]") {
  TokenBucket b(1000, 3, 0);
  take_all(b, 0);
  CHECK(b.available(1'000'000) == 3);
  // A clock far in the future must not overflow the arithmetic.
  CHECK(b.available(UINT64_MAX / 2) == 3);
  CHECK(take_all(b, UINT64_MAX / 2) == 3);
}

TEST_CASE("rate limit: a clock that goes back earns nothing and takes nothing away",
          "[unit][rate_limit]") {
  TokenBucket b(10, 2, 5000);
  take_all(b, 5000);
  CHECK_FALSE(b.try_take(4000));
  CHECK(b.try_take(5100));
}

TEST_CASE("rate limit: rate 0 means no limit", "[unit][rate_limit]") {
  TokenBucket b(0, 0, 0);
  CHECK(take_all(b, 0, 100'000) == 100'000);
}

TEST_CASE("rate limit: a fast rate with a small burst keeps exact time", "[unit][rate_limit]") {
  TokenBucket b(100'000, 1, 0);  // 100 tokens per millisecond, but at most 1 saved
  CHECK(take_all(b, 0) == 1);
  CHECK(take_all(b, 1) == 1);
  CHECK(take_all(b, 1) == 0);
}

TEST_CASE("rate limit: over budget, onion cells are refused, then dropped", "[unit][rate_limit]") {
  LinkRateLimiter limiter(RateLimitOptions{RateLimit{10, 4}, RateLimit{1000, 1000}});
  auto link = std::make_shared<int>(0);
  auto client = [] { return LinkClass::client; };
  std::vector<RateVerdict> got;
  for (int i = 0; i < 10; ++i)
    got.push_back(limiter.admit(link, true, 0, 1, client));
  const std::vector<RateVerdict> want = {
      RateVerdict::pass,   RateVerdict::pass,   RateVerdict::pass,   RateVerdict::pass,
      RateVerdict::refuse, RateVerdict::refuse, RateVerdict::refuse, RateVerdict::refuse,
      RateVerdict::drop,   RateVerdict::drop};
  CHECK(got == want);
  CHECK(limiter.stats().cells_refused == 4);
  CHECK(limiter.stats().cells_dropped == 2);
  CHECK(limiter.stats().frames_dropped == 0);
  // A second later the link has 10 more of each.
  CHECK(limiter.admit(link, true, 1000, 1, client) == RateVerdict::pass);
}

TEST_CASE("rate limit: other frames over budget are dropped, never refused", "[unit][rate_limit]") {
  LinkRateLimiter limiter(RateLimitOptions{RateLimit{1, 2}, RateLimit{1, 2}});
  auto link = std::make_shared<int>(0);
  auto client = [] { return LinkClass::client; };
  CHECK(limiter.admit(link, false, 0, 1, client) == RateVerdict::pass);
  CHECK(limiter.admit(link, false, 0, 1, client) == RateVerdict::pass);
  CHECK(limiter.admit(link, false, 0, 1, client) == RateVerdict::drop);
  CHECK(limiter.stats().frames_dropped == 1);
  CHECK(limiter.stats().cells_refused == 0);
}

TEST_CASE("rate limit: each link has its own budget, by its class", "[unit][rate_limit]") {
  LinkRateLimiter limiter(RateLimitOptions{RateLimit{1, 1}, RateLimit{1, 3}});
  auto a = std::make_shared<int>(0);
  auto b = std::make_shared<int>(0);
  auto p = std::make_shared<int>(0);
  auto client = [] { return LinkClass::client; };
  auto peer = [] { return LinkClass::peer; };
  CHECK(limiter.admit(a, false, 0, 1, client) == RateVerdict::pass);
  CHECK(limiter.admit(a, false, 0, 1, client) == RateVerdict::drop);
  CHECK(limiter.admit(b, false, 0, 1, client) == RateVerdict::pass);
  for (int i = 0; i < 3; ++i)
    CHECK(limiter.admit(p, false, 0, 1, peer) == RateVerdict::pass);
  CHECK(limiter.admit(p, false, 0, 1, peer) == RateVerdict::drop);
  CHECK(limiter.tracked_links() == 3);
}

TEST_CASE("rate limit: the class is asked once per generation, and a new class resets the budget",
          "[unit][rate_limit]") {
  LinkRateLimiter limiter(RateLimitOptions{RateLimit{1, 1}, RateLimit{1, 5}});
  auto link = std::make_shared<int>(0);
  int asked = 0;
  LinkClass cls = LinkClass::client;
  auto class_of = [&] {
    ++asked;
    return cls;
  };
  CHECK(limiter.admit(link, false, 0, 7, class_of) == RateVerdict::pass);
  CHECK(limiter.admit(link, false, 0, 7, class_of) == RateVerdict::drop);
  CHECK(asked == 1);
  // Same class in a new generation: asked again, budget kept (still empty).
  CHECK(limiter.admit(link, false, 0, 8, class_of) == RateVerdict::drop);
  CHECK(asked == 2);
  // The link's key joined the directory: a peer now, with a peer's budget.
  cls = LinkClass::peer;
  for (int i = 0; i < 5; ++i)
    CHECK(limiter.admit(link, false, 0, 9, class_of) == RateVerdict::pass);
  CHECK(limiter.admit(link, false, 0, 9, class_of) == RateVerdict::drop);
  CHECK(asked == 3);
}

TEST_CASE("rate limit: a new link at a closed link's address starts afresh", "[unit][rate_limit]") {
  LinkRateLimiter limiter(RateLimitOptions{RateLimit{1, 1}, RateLimit{1, 1}});
  auto client = [] { return LinkClass::client; };
  // Separate control blocks, as a Link has (make_shared would keep the
  // object's memory until the last weak_ptr goes).
  std::shared_ptr<int> first(new int(0));
  CHECK(limiter.admit(first, false, 0, 1, client) == RateVerdict::pass);
  CHECK(limiter.admit(first, false, 0, 1, client) == RateVerdict::drop);
  // Forgotten explicitly.
  limiter.forget(first.get());
  CHECK(limiter.tracked_links() == 0);
  CHECK(limiter.admit(first, false, 0, 1, client) == RateVerdict::pass);
  // Or gone without a word: an expired entry is not the new link's budget.
  const void* address = first.get();
  first.reset();
  std::shared_ptr<int> second;
  for (int i = 0; i < 1000 && !second; ++i) {  // bounded: allocators reuse freed blocks quickly
    std::shared_ptr<int> candidate(new int(0));
    if (candidate.get() == address) second = candidate;
  }
  if (second) {
    CHECK(limiter.admit(second, false, 0, 1, client) == RateVerdict::pass);
    CHECK(limiter.tracked_links() == 1);
  }
}

TEST_CASE("rate limit: entries of closed links are swept as the table grows",
          "[unit][rate_limit]") {
  LinkRateLimiter limiter(RateLimitOptions{});
  auto client = [] { return LinkClass::client; };
  std::vector<std::shared_ptr<int>> live;
  for (int i = 0; i < 10; ++i) {
    live.push_back(std::make_shared<int>(i));
    (void)limiter.admit(live.back(), false, 0, 1, client);
  }
  for (int i = 0; i < 1000; ++i) {
    std::vector<std::shared_ptr<int>> batch;  // keep addresses distinct within a round
    for (int j = 0; j < 10; ++j) {
      batch.push_back(std::make_shared<int>(j));
      (void)limiter.admit(batch.back(), false, 0, 1, client);
    }
  }
  // 10,010 links passed through; only the live ones and the latest are kept.
  CHECK(limiter.tracked_links() < 200);
}
