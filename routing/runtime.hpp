#pragma once
// The runtime layer every other layer waits through: wall time, timers and
// callbacks bound to an owner's lifetime. Nothing else in the product touches
// uv_timer_t.
//
// Threads and time: every object runs on the one libuv loop thread that made
// it (RocksDB's own threads never call back into ours). Two kinds of time:
// - monotonic time, from libuv (uv_now), for everything that waits: timers,
//   timeouts, idleness. A Timer or Scheduler counts in it.
// - wall time, Unix milliseconds, for everything that is compared with
//   another machine: signed timestamps, expiry, onion key epochs. It comes
//   only from a Clock, which a test or the simnet can set per node or client.

#include <uv.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

namespace nightjar {

// --- Wall time -------------------------------------------------------------------

// Unix time in milliseconds from the system clock.
std::uint64_t system_unix_ms();

// The wall clock of one node or client: the system clock, unless a test or the
// simnet gives it another source, an offset (skew), or both. Cheap to copy;
// copies are independent.
class Clock {
 public:
  using Source = std::function<std::uint64_t()>;  // Unix milliseconds

  Clock() = default;  // the system clock
  template <class F>
  requires(!std::is_same_v<std::decay_t<F>, Clock> && std::is_invocable_r_v<std::uint64_t, F&>)
      Clock(F source)
      : source_(std::move(source)) {}  // NOLINT: a lambda is a clock

  static Clock skewed(std::chrono::milliseconds offset) {
    Clock c;
    c.offset_ms_ = offset.count();
    return c;
  }

  std::uint64_t unix_ms() const {
    const std::uint64_t base = source_ ? source_() : system_unix_ms();
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(base) + offset_ms_);
  }
  std::uint64_t unix_s() const { return unix_ms() / 1000; }

  void set_offset(std::chrono::milliseconds offset) { offset_ms_ = offset.count(); }
  std::chrono::milliseconds offset() const { return std::chrono::milliseconds(offset_ms_); }

 private:
  Source source_;
  std::int64_t offset_ms_ = 0;
};

// --- Timers ----------------------------------------------------------------------

// A libuv timer owned by one object. Its handle is made on the first start()
// and closed by close() or the destructor; the callback never runs after
// either. The callback may destroy the Timer (or its owner).
class Timer {
 public:
  explicit Timer(uv_loop_t* loop, std::function<void()> fn = {});
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void set_callback(std::function<void()> fn);
  // Runs the callback after `delay`, then every `repeat` if that is not zero.
  // Starting a running timer restarts it.
  void start(std::chrono::milliseconds delay,
             std::chrono::milliseconds repeat = std::chrono::milliseconds(0));
  void stop();
  // Releases the libuv handle; a later start() makes a new one.
  void close();
  bool active() const;
  // Housekeeping timers do not keep the loop running by themselves.
  void unref();

  uv_loop_t* loop() const { return loop_; }

 private:
  static void on_fire(uv_timer_t* handle);

  uv_loop_t* loop_;
  uv_timer_t* handle_ = nullptr;  // freed by its close callback
  std::shared_ptr<std::function<void()>> fn_;
  bool unref_ = false;
};

// Runs a callback once, soon after arm(): when the callbacks the loop runs
// now (reads, timers) are done and before it waits for I/O again. Arming an
// armed TurnEnd does nothing, so whatever one turn produces is handled in one
// go: the frames for one link leave in one write, the stores that arrived in
// one turn share one fsync. A libuv idle handle, made on the first arm() and
// stopped as soon as it ran (an armed one makes the loop poll without
// waiting). The callback may destroy the TurnEnd (or its owner) and may arm it
// again.
class TurnEnd {
 public:
  TurnEnd(uv_loop_t* loop, std::function<void()> fn);
  ~TurnEnd();
  TurnEnd(const TurnEnd&) = delete;
  TurnEnd& operator=(const TurnEnd&) = delete;

  void arm();
  void cancel();
  // Releases the handle (as Timer::close).
  void close();
  bool armed() const { return armed_; }

 private:
  static void on_idle(uv_idle_t* handle);

  uv_loop_t* loop_;
  uv_idle_t* handle_ = nullptr;  // freed by its close callback
  std::shared_ptr<std::function<void()>> fn_;
  bool armed_ = false;
};

// Runs blocking work (a synced disk write) off the loop, one job at a time:
// work() on libuv's thread pool, then done() back on the loop thread. The
// destructor waits for a work() that is running to finish; done() is then
// never called.
class BackgroundJob {
 public:
  explicit BackgroundJob(uv_loop_t* loop);
  ~BackgroundJob();
  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  // False (and nothing runs) while a job is in progress: until its done()
  // has been called.
  bool run(std::function<void()> work, std::function<void()> done);
  bool busy() const { return state_ != nullptr; }
  uv_loop_t* loop() const { return loop_; }

 private:
  struct State;
  uv_loop_t* loop_;
  State* state_ = nullptr;  // the job in progress; freed by libuv's after-work callback
};

// Callbacks bound to one owner's lifetime. What is scheduled or bound through
// a Scheduler never runs after it is destroyed or cancel_all() is called, so
// an owner declares its Scheduler last (destroyed first) and needs no "still
// alive" token of its own.
class Scheduler {
 public:
  explicit Scheduler(uv_loop_t* loop);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Calls fn once after `delay` (zero: on the next turn of the loop). The
  // caller's stack has unwound by then, so it is the way to "call back
  // later, never from inside this call".
  void call_later(std::chrono::milliseconds delay, std::function<void()> fn);
  // Calls fn every `period`, the first time after `first` (by default one
  // period).
  void every(std::chrono::milliseconds period, std::function<void()> fn) {
    every(period, period, std::move(fn));
  }
  void every(std::chrono::milliseconds first, std::chrono::milliseconds period,
             std::function<void()> fn);
  // The same, for housekeeping: it does not keep the loop running by itself.
  void housekeeping(std::chrono::milliseconds period, std::function<void()> fn);

  // Wraps a callback handed to someone else (a link, a request) so that it
  // does nothing once this Scheduler is gone or cancelled. The wrapper
  // returns void.
  template <class F>
  auto bind(F fn) const {
    // Checked, not locked: a callback that destroys the owner makes
    // lifetime() expire at once, for the rest of that same call.
    return [weak = std::weak_ptr<const char>(token_), fn = std::move(fn)](auto&&... args) mutable {
      if (weak.expired()) return;
      fn(std::forward<decltype(args)>(args)...);
    };
  }

  // Expires when this Scheduler is gone or cancelled: for a loop that runs
  // callbacks which may destroy the owner.
  std::weak_ptr<const char> lifetime() const { return token_; }

  // Drops every pending call and periodic job, and makes every callback bound
  // so far a no-op. The Scheduler stays usable.
  void cancel_all();

  std::size_t pending() const { return timers_.size(); }
  uv_loop_t* loop() const { return loop_; }

 private:
  uv_loop_t* loop_;
  std::list<Timer> timers_;
  std::shared_ptr<const char> token_;
};

// Closes every handle of `loop` not closed yet, runs the loop until their
// close callbacks have run (bounded: 1,000 passes), and closes the loop. For
// the end of a program or a test, when the owners of the handles are gone.
// True if the loop closed.
bool close_loop(uv_loop_t* loop);

}  // namespace nightjar
