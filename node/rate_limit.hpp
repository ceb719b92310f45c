// Per-link rate limits: how a node keeps one peer from taking all of its
// work. Node::dispatch asks LinkRateLimiter about every frame that arrives on
// a link; a frame over its link's budget is not handled. An onion cell over
// budget is refused with a relay-error reply "overloaded" (so the client
// learns why and can pick another path) as long as the link's refusal budget
// lasts; beyond that, and for every other frame type, the frame is dropped
// and counted. Refusing costs a peel (one X25519), so a flooding link costs
// the node at most twice its allowed rate in public-key work.
//
// Two classes of link get their own limits: peers (mutual links whose key
// belongs to a node of the current directory or an authority of the
// network: relays aggregate many clients' cells, and directories travel in
// many chunks) and clients (everything else). The caller decides the class.
//
// TokenBucket is the arithmetic, in integer milli-tokens so that refills are
// exact; time is whatever millisecond clock the caller passes (the node uses
// its loop's uv_now). One thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

namespace nightjar {

class TokenBucket {
 public:
  // `rate` tokens per second, at most `burst` saved up; starts full.
  // rate == 0: no limit.
  TokenBucket(std::uint64_t rate, std::uint64_t burst, std::uint64_t now_ms);
  // Takes one token if there is one.
  bool try_take(std::uint64_t now_ms);
  // Whole tokens available now (for tests and metrics).
  std::uint64_t available(std::uint64_t now_ms);

 private:
  void refill(std::uint64_t now_ms);

  std::uint64_t rate_;      // tokens per second = milli-tokens per millisecond
  std::uint64_t capacity_;  // milli-tokens
  std::uint64_t level_;     // milli-tokens
  std::uint64_t last_ms_;
};

struct RateLimit {
  std::uint64_t frames_per_second = 0;  // 0: unlimited
  std::uint64_t burst = 0;              // frames allowed at once after a quiet spell
};

struct RateLimitOptions {
  RateLimit client{100, 200};
  RateLimit peer{20'000, 40'000};
};

enum class LinkClass { client, peer };
enum class RateVerdict {
  pass,    // handle the frame
  refuse,  // an onion cell over budget: answer "overloaded", do not handle
  drop,    // over budget: neither handle nor answer
};

struct RateLimitStats {
  std::uint64_t cells_refused = 0;   // answered "overloaded"
  std::uint64_t cells_dropped = 0;   // over budget, refusal budget spent too
  std::uint64_t frames_dropped = 0;  // other frame types over budget
};

class LinkRateLimiter {
 public:
  explicit LinkRateLimiter(RateLimitOptions options) : options_(options) {}

  // Charges one frame to `link` (the node passes the Link itself; any
  // object whose lifetime is the link's will do). `onion_cell`: a reply path
  // exists, so an over-budget frame may be refused rather than dropped.
  // `class_of` is asked once per link, and again when `generation` changes
  // (the node passes its directory epoch), not once per frame.
  RateVerdict admit(const std::shared_ptr<const void>& link, bool onion_cell, std::uint64_t now_ms,
                    std::uint64_t generation, const std::function<LinkClass()>& class_of);
  // The link closed: forget its budget. (Entries of links that close without
  // this are swept as the table grows.)
  void forget(const void* link) { links_.erase(link); }

  const RateLimitStats& stats() const { return stats_; }
  std::size_t tracked_links() const { return links_.size(); }

 private:
  struct Entry {
    std::weak_ptr<const void> alive;  // expired: the address may be a new link's
    LinkClass cls = LinkClass::client;
    std::uint64_t generation = 0;
    TokenBucket frames{0, 0, 0};
    TokenBucket refusals{0, 0, 0};
  };
  void sweep();

  RateLimitOptions options_;
  RateLimitStats stats_;
  std::unordered_map<const void*, Entry> links_;
  std::size_t sweep_at_ = 64;  // sweep closed links' entries when the table reaches this
};

}  // namespace nightjar
