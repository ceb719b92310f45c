#include "routing/runtime.hpp"

#include <algorithm>

namespace nightjar {

std::uint64_t system_unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// --- Timer -----------------------------------------------------------------------

Timer::Timer(uv_loop_t* loop, std::function<void()> fn) : loop_(loop) {
  if (fn) set_callback(std::move(fn));
}

Timer::~Timer() {
  close();
}

void Timer::set_callback(std::function<void()> fn) {
  fn_ = std::make_shared<std::function<void()>>(std::move(fn));
}

void Timer::start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat) {
  if (!handle_) {
    handle_ = new uv_timer_t;
    uv_timer_init(loop_, handle_);
    handle_->data = this;
    if (unref_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
  }
  const auto ms = [](std::chrono::milliseconds d) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count()));
  };
  uv_timer_start(handle_, &Timer::on_fire, ms(delay), ms(repeat));
}

void Timer::on_fire(uv_timer_t* handle) {
  auto* self = static_cast<Timer*>(handle->data);
  if (!self || !self->fn_) return;
  // The callback may destroy the Timer: hold the function, touch nothing after.
  const auto fn = self->fn_;
  (*fn)();
}

void Timer::stop() {
  if (handle_) uv_timer_stop(handle_);
}

void Timer::close() {
  if (!handle_) return;
  // An owner that closes every handle of its loop with uv_walk must close its
  // Timers first: a handle closed by someone else is not ours to free.
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(handle_))) {
    handle_ = nullptr;
    return;
  }
  uv_timer_stop(handle_);
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  handle_ = nullptr;
}

bool Timer::active() const {
  return handle_ && uv_is_active(reinterpret_cast<const uv_handle_t*>(handle_));
}

void Timer::unref() {
  unref_ = true;
  if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
}

// --- TurnEnd ---------------------------------------------------------------------

TurnEnd::TurnEnd(uv_loop_t* loop, std::function<void()> fn)
    : loop_(loop), fn_(std::make_shared<std::function<void()>>(std::move(fn))) {}

TurnEnd::~TurnEnd() { close(); }

void TurnEnd::arm() {
  if (armed_) return;
  if (!handle_) {
    handle_ = new uv_idle_t;
    uv_idle_init(loop_, handle_);
    handle_->data = this;
  }
  uv_idle_start(handle_, &TurnEnd::on_idle);
  armed_ = true;
}

void TurnEnd::on_idle(uv_idle_t* handle) {
  auto* self = static_cast<TurnEnd*>(handle->data);
  uv_idle_stop(handle);
  if (!self) return;
  self->armed_ = false;
  const auto fn = self->fn_;  // the callback may destroy the TurnEnd
  (*fn)();
}

void TurnEnd::cancel() {
  if (handle_) uv_idle_stop(handle_);
  armed_ = false;
}

void TurnEnd::close() {
  armed_ = false;
  if (!handle_) return;
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(handle_))) {  // closed by a uv_walk
    handle_ = nullptr;
    return;
  }
  uv_idle_stop(handle_);
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  handle_ = nullptr;
}

// --- BackgroundJob ----------------------------------------------------------------

struct BackgroundJob::State {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void()> done;
  BackgroundJob* owner = nullptr;  // null once the owner is gone
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
};

BackgroundJob::BackgroundJob(uv_loop_t* loop) : loop_(loop) {}

BackgroundJob::~BackgroundJob() {
  if (!state_) return;
  State* s = state_;
  s->owner = nullptr;  // done() must not run: the loop frees the state later
  std::unique_lock lock(s->mutex);
  s->finished_cv.wait(lock, [s] { return s->finished; });
}

bool BackgroundJob::run(std::function<void()> work, std::function<void()> done) {
  if (state_) return false;
  auto* s = new State;
  s->work = std::move(work);
  s->done = std::move(done);
  s->owner = this;
  s->req.data = s;
  const int rc = uv_queue_work(
      loop_, &s->req,
      [](uv_work_t* req) {
        auto* st = static_cast<State*>(req->data);
        st->work();
        std::lock_guard lock(st->mutex);
        st->finished = true;
        st->finished_cv.notify_all();
      },
      [](uv_work_t* req, int) {
        auto* st = static_cast<State*>(req->data);
        std::unique_ptr<State> owned(st);
        if (!st->owner) return;
        st->owner->state_ = nullptr;
        auto then = std::move(st->done);
        owned.reset();
        then();  // may destroy the BackgroundJob, or start the next job
      });
  if (rc != 0) {  // only for bad arguments: run the work here rather than lose it
    std::unique_ptr<State> owned(s);
    owned->work();
    owned->done();
    return true;
  }
  state_ = s;
  return true;
}

// --- Scheduler -------------------------------------------------------------------

Scheduler::Scheduler(uv_loop_t* loop) : loop_(loop), token_(std::make_shared<const char>(0)) {}

Scheduler::~Scheduler() = default;  // the timers close themselves

void Scheduler::call_later(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto it = timers_.emplace(timers_.end(), loop_);
  it->set_callback([this, it, fn = std::move(fn)]() mutable {
    auto call = std::move(fn);
    timers_.erase(it);  // closes the timer; this lambda lives on until it returns
    call();
  });
  it->start(delay);
}

void Scheduler::every(std::chrono::milliseconds first, std::chrono::milliseconds period,
                      std::function<void()> fn) {
  timers_.emplace_back(loop_, std::move(fn)).start(first, period);
}

void Scheduler::housekeeping(std::chrono::milliseconds period, std::function<void()> fn) {
  auto& t = timers_.emplace_back(loop_, std::move(fn));
  t.unref();
  t.start(period, period);
}

void Scheduler::cancel_all() {
  timers_.clear();
  token_ = std::make_shared<const char>(0);
}

bool close_loop(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT) != 0; ++i) {
  }
  return uv_loop_close(loop) == 0;
}

}  // namespace nightjar
