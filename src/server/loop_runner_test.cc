#include "server/loop_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

namespace shoal::server {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

void busy_wait(microseconds d) {
  Clock::time_point end = Clock::now() + d;
  while (Clock::now() < end) {
  }
}

// The spin (2 ms) is far above the gaps of the loads below, so that a test
// machine that preempts the loop still shows the policy; the busy share is
// 0.2 unless a test says otherwise, because a machine busy with other tests
// may give this thread much less than a core.
BusyPollOptions test_options(double min_busy_share = 0.2) {
  return BusyPollOptions{microseconds(2000), min_busy_share};
}

class RunLoopTest : public ::testing::TestWithParam<int> {};

TEST_P(RunLoopTest, RunsEveryHandlerPostedFromAnotherThreadAndReturnsWhenStopped) {
  asio::io_context loop;
  auto guard = asio::make_work_guard(loop);
  std::atomic<int> ran{0};
  std::thread runner([&] { run_loop(loop, BusyPollOptions{microseconds(GetParam())}); });
  for (int i = 0; i < 1000; ++i) asio::post(loop, [&] { ran.fetch_add(1); });
  asio::post(loop, [&] { loop.stop(); });
  runner.join();
  EXPECT_EQ(ran.load(), 1000);
}

TEST_P(RunLoopTest, ReturnsWhenTheLoopRunsOutOfWork) {
  asio::io_context loop;
  int ran = 0;
  for (int i = 0; i < 10; ++i) asio::post(loop, [&] { ++ran; });
  run_loop(loop, BusyPollOptions{microseconds(GetParam())});
  EXPECT_EQ(ran, 10);
}

INSTANTIATE_TEST_SUITE_P(SpinOffAndOn, RunLoopTest, ::testing::Values(0, 50));

// Handlers that each work `work`, `gap` apart (a timer), until `until`
// returns true; `then` runs on the loop after the last one.
struct Load {
  asio::steady_timer timer;
  microseconds work, gap;
  std::function<bool()> until;
  std::function<void()> then;
  int fired = 0;

  void arm() {
    timer.expires_after(gap);
    timer.async_wait([this](const asio::error_code&) {
      busy_wait(work);
      ++fired;
      if (until()) {
        if (then) then();
      } else {
        arm();
      }
    });
  }
};

// Runs `handlers` handlers of `work` each, `gap` apart, to the end.
LoopRunStats run_load(microseconds work, microseconds gap, int handlers,
                      double min_busy_share = 0.2) {
  asio::io_context loop;
  Load load{asio::steady_timer(loop), work, gap, {}, {}};
  load.until = [&] { return load.fired == handlers; };
  load.arm();
  LoopRunStats stats;
  run_loop(loop, test_options(min_busy_share), &stats);
  EXPECT_EQ(load.fired, handlers);
  return stats;
}

// A timer every 2 ms with a trivial handler: far below any busy share, so
// the loop never polls and waits for every handler.
TEST(RunLoopPolicy, ALightlyLoadedLoopWaitsForEveryHandlerAndNeverPolls) {
  LoopRunStats stats = run_load(microseconds(0), microseconds(2000), 60);
  EXPECT_EQ(stats.polling_windows, 0u);
  EXPECT_GE(stats.waits, 60u);
}

// Handlers of 200 us, 20 us apart: busy most of every window, so from the
// second window on the loop polls through the gaps instead of waiting in
// the kernel for each.
TEST(RunLoopPolicy, ABusyLoopPollsThroughItsGaps) {
  constexpr int kHandlers = 1000;  // about 220 ms
  LoopRunStats stats = run_load(microseconds(200), microseconds(20), kHandlers);
  EXPECT_GE(stats.polling_windows, 4u);
  // The first window (20 ms, about 90 handlers) waits for each handler.
  EXPECT_LT(stats.waits, kHandlers / 4u);
}

// The same load under a share it cannot reach waits for every handler: the
// test above measures the policy, not the timer.
TEST(RunLoopPolicy, BelowItsBusyShareTheSameLoadNeverPolls) {
  LoopRunStats stats = run_load(microseconds(200), microseconds(20), 300, 1.5);
  EXPECT_EQ(stats.polling_windows, 0u);
  EXPECT_GE(stats.waits, 300u);
}

// Busy for 150 ms, then a handler every 2 ms for 150 ms: polling stops
// within a window or two of the load dropping. (Were polling counted as
// busy, it would keep itself on.)
TEST(RunLoopPolicy, PollingStopsWhenTheLoadDrops) {
  asio::io_context loop;
  Clock::time_point start = Clock::now();
  LoopRunStats stats;
  uint64_t windows_at_drop = 0;
  Load light{asio::steady_timer(loop), microseconds(0), microseconds(2000), {}, {}};
  light.until = [&] { return Clock::now() - start >= milliseconds(300); };
  Load busy{asio::steady_timer(loop), microseconds(200), microseconds(20), {}, {}};
  busy.until = [&] { return Clock::now() - start >= milliseconds(150); };
  busy.then = [&] {
    windows_at_drop = stats.polling_windows;
    light.arm();
  };
  busy.arm();
  run_loop(loop, test_options(), &stats);
  EXPECT_GE(windows_at_drop, 2u);
  EXPECT_LE(stats.polling_windows, windows_at_drop + 2);
}

// stop() from another thread while the loop is polling ends run_loop.
TEST(RunLoopPolicy, StopFromAnotherThreadEndsAPollingLoop) {
  asio::io_context loop;
  auto guard = asio::make_work_guard(loop);
  Load busy{asio::steady_timer(loop), microseconds(200), microseconds(20), {}, {}};
  busy.until = [] { return false; };
  asio::post(loop, [&] { busy.arm(); });
  LoopRunStats stats;
  std::thread runner([&] { run_loop(loop, test_options(), &stats); });
  std::this_thread::sleep_for(milliseconds(150));
  loop.stop();
  runner.join();
  EXPECT_GE(stats.polling_windows, 1u);
}

}  // namespace
}  // namespace shoal::server
