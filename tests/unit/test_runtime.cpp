#include <catch2/catch.hpp>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "routing/runtime.hpp"
#include "tests/support/uv_loop.hpp"

using namespace nightjar;
using namespace std::chrono_literals;
using nightjar::test::TestLoop;

TEST_CASE("a clock is the system clock unless given a source or a skew", "[runtime]") {
  const Clock system;
  const std::uint64_t before = system_unix_ms();
  const std::uint64_t read = system.unix_ms();
  CHECK(read >= before);
  CHECK(read <= system_unix_ms());

  std::uint64_t fake = 1'000'000;
  Clock manual([&fake] { return fake; });
  CHECK(manual.unix_ms() == 1'000'000);
  CHECK(manual.unix_s() == 1'000);
  fake += 1'500;
  CHECK(manual.unix_ms() == 1'001'500);
  manual.set_offset(-2'000ms);
  CHECK(manual.unix_ms() == 999'500);
  CHECK(manual.offset() == -2'000ms);

  const Clock ahead = Clock::skewed(3'600'000ms);
  CHECK(ahead.unix_ms() >= before + 3'600'000);
  const Clock copy = manual;  // copies are independent
  manual.set_offset(0ms);
  CHECK(copy.unix_ms() == 999'500);
}

TEST_CASE("a timer fires once or repeatedly, and never after it is stopped or gone", "[runtime]") {
  TestLoop loop;
  {
    int once = 0, repeated = 0, dropped = 0;
    Timer one(loop.get(), [&] { ++once; });
    one.start(5ms);
    Timer rep(loop.get(), [&] { ++repeated; });
    rep.start(1ms, 2ms);
    auto gone = std::make_unique<Timer>(loop.get(), [&] { ++dropped; });
    gone->start(5ms);
    gone.reset();
    Timer stopped(loop.get(), [&] { ++dropped; });
    stopped.start(5ms);
    stopped.stop();
    CHECK_FALSE(stopped.active());
    REQUIRE(loop.run_until([&] { return once == 1 && repeated >= 3; }, 2s));
    loop.run_for(20ms);
    CHECK(once == 1);
    CHECK(dropped == 0);
    CHECK(rep.active());
    rep.close();
    CHECK_FALSE(rep.active());
    const int after_close = repeated;
    loop.run_for(10ms);
    CHECK(repeated == after_close);
    rep.start(1ms);  // a closed timer can start again
    REQUIRE(loop.run_until([&] { return repeated == after_close + 1; }, 2s));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a timer's callback may destroy the timer", "[runtime]") {
  TestLoop loop;
  {
    int fired = 0;
    std::unique_ptr<Timer> t;
    t = std::make_unique<Timer>(loop.get(), [&] {
      ++fired;
      t.reset();
    });
    t->start(1ms, 1ms);
    REQUIRE(loop.run_until([&] { return !t; }, 2s));
    loop.run_for(10ms);
    CHECK(fired == 1);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("an unreferenced timer does not keep the loop running", "[runtime]") {
  TestLoop loop;
  Timer t(loop.get(), [] {});
  t.unref();
  t.start(60s, 60s);
  CHECK(t.active());
  // uv_run in default mode returns at once: nothing but the housekeeping timer.
  CHECK(uv_run(loop.get(), UV_RUN_NOWAIT) == 0);
  t.close();
  CHECK(loop.drain_and_close());
}

TEST_CASE("a scheduler's calls run in order of their delay, and none after it is gone",
          "[runtime]") {
  TestLoop loop;
  {
    std::vector<int> order;
    auto s = std::make_unique<Scheduler>(loop.get());
    s->call_later(10ms, [&] { order.push_back(2); });
    s->call_later(0ms, [&] { order.push_back(1); });
    CHECK(s->pending() == 2);
    CHECK(order.empty());  // never from inside the call
    REQUIRE(loop.run_until([&] { return order.size() == 2; }, 2s));
    CHECK(order == std::vector<int>{1, 2});
    CHECK(s->pending() == 0);

    int late = 0, ticks = 0;
    s->call_later(60s, [&] { ++late; });  // due long after the owner is gone
    s->every(1ms, [&] { ++ticks; });
    auto bound = s->bind([&](int by) { late += by; });
    bound(10);
    CHECK(late == 10);
    REQUIRE(loop.run_until([&] { return ticks >= 2; }, 2s));
    s.reset();  // the owner is gone: nothing of it runs again
    const int ticks_then = ticks;
    loop.run_for(20ms);
    bound(100);
    CHECK(late == 10);
    CHECK(ticks == ticks_then);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("cancel_all drops pending calls and bound callbacks, and the scheduler goes on",
          "[runtime]") {
  TestLoop loop;
  {
    Scheduler s(loop.get());
    int hits = 0;
    s.call_later(1ms, [&] { ++hits; });
    auto old = s.bind([&] { ++hits; });
    s.cancel_all();
    CHECK(s.pending() == 0);
    old();
    loop.run_for(10ms);
    CHECK(hits == 0);
    s.bind([&] { ++hits; })();
    s.call_later(1ms, [&] { ++hits; });
    REQUIRE(loop.run_until([&] { return hits == 2; }, 2s));
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a scheduled call may destroy its scheduler", "[runtime]") {
  TestLoop loop;
  {
    auto s = std::make_unique<Scheduler>(loop.get());
    int hits = 0;
    s->call_later(1ms, [&] {
      ++hits;
      s.reset();
    });
    s->call_later(2ms, [&] { ++hits; });
    REQUIRE(loop.run_until([&] { return !s; }, 2s));
    loop.run_for(10ms);
    CHECK(hits == 1);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("a turn end runs once per arming, after the current callbacks, and never once gone",
          "[runtime]") {
  TestLoop loop;
  std::vector<int> order;
  TurnEnd end(loop.get(), [&] { order.push_back(2); });
  Timer t(loop.get(), [&] {
    end.arm();
    end.arm();  // still one run
    order.push_back(1);
  });
  t.start(1ms);
  REQUIRE(loop.run_until([&] { return order.size() == 2; }, 2s));
  CHECK(order == std::vector<int>{1, 2});
  CHECK_FALSE(end.armed());
  loop.run_for(10ms);
  CHECK(order.size() == 2);

  // Armed from its own callback: runs again on the next turn, not in a loop.
  int reruns = 0;
  TurnEnd self_arming(loop.get(), [&] {
    if (++reruns < 3) self_arming.arm();
  });
  self_arming.arm();
  REQUIRE(loop.run_until([&] { return reruns == 3; }, 2s));

  int dropped = 0;
  auto gone = std::make_unique<TurnEnd>(loop.get(), [&] { ++dropped; });
  gone->arm();
  gone.reset();
  TurnEnd cancelled(loop.get(), [&] { ++dropped; });
  cancelled.arm();
  cancelled.cancel();
  loop.run_for(10ms);
  CHECK(dropped == 0);
}

TEST_CASE("a background job runs its work off the loop and its completion on it", "[runtime]") {
  TestLoop loop;
  const auto loop_thread = std::this_thread::get_id();
  BackgroundJob job(loop.get());
  std::thread::id work_thread;
  bool done = false;
  REQUIRE(job.run([&] { work_thread = std::this_thread::get_id(); },
                  [&] {
                    CHECK(std::this_thread::get_id() == loop_thread);
                    done = true;
                  }));
  CHECK(job.busy());
  CHECK_FALSE(job.run([] {}, [] {}));  // one at a time
  REQUIRE(loop.run_until([&] { return done; }, 5s));
  CHECK(work_thread != loop_thread);
  CHECK_FALSE(job.busy());

  // A job whose owner goes while it runs: the destructor waits for the work;
  // the completion never runs.
  std::atomic<bool> worked{false};
  bool completed = false;
  {
    BackgroundJob short_lived(loop.get());
    short_lived.run(
        [&] {
          std::this_thread::sleep_for(20ms);
          worked = true;
        },
        [&] { completed = true; });
  }
  CHECK(worked);
  loop.run_for(20ms);
  CHECK_FALSE(completed);
}
