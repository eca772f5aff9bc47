#include "server/loop_runner.h"

#include <gtest/gtest.h>

#include <atomic>
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

// A timer every 2 ms with a trivial handler: the loop is busy far below
// min_busy_share, so it must sleep between handlers and never poll.
TEST(RunLoopPolicy, ALightlyLoadedLoopSleepsAndNeverPolls) {
  asio::io_context loop;
  asio::steady_timer timer(loop);
  int fired = 0;
  std::function<void()> arm = [&] {
    timer.expires_after(milliseconds(2));
    timer.async_wait([&](const asio::error_code&) {
      if (++fired < 60) arm();
    });
  };
  arm();
  LoopRunStats stats;
  run_loop(loop, BusyPollOptions{microseconds(2000)}, &stats);
  EXPECT_EQ(fired, 60);
  EXPECT_EQ(stats.polling_windows, 0u);
  EXPECT_GE(stats.sleeps, 60u);
}

// Handlers that each work 200 us, 20 us apart (a timer): `fired` handlers.
LoopRunStats run_busy_load(double min_busy_share, int handlers) {
  asio::io_context loop;
  asio::steady_timer timer(loop);
  int fired = 0;
  std::function<void()> arm = [&] {
    timer.expires_after(microseconds(20));
    timer.async_wait([&](const asio::error_code&) {
      busy_wait(microseconds(200));
      if (++fired < handlers) arm();
    });
  };
  arm();
  LoopRunStats stats;
  // The spin (2 ms) is far above the gap so that a preempted test machine
  // still shows the policy.
  run_loop(loop, BusyPollOptions{microseconds(2000), min_busy_share}, &stats);
  EXPECT_EQ(fired, handlers);
  return stats;
}

// Busy most of every window: from the second window on the loop polls
// through the gaps instead of sleeping in each.
TEST(RunLoopPolicy, ABusyLoopPollsThroughItsGapsInsteadOfSleeping) {
  constexpr int kHandlers = 1000;  // about 220 ms
  // A share of 0.2: the handlers' CPU time counts, and a test machine busy
  // with other tests may give this thread much less than a core.
  LoopRunStats stats = run_busy_load(0.2, kHandlers);
  EXPECT_GE(stats.polling_windows, 4u);
  // The first window (20 ms, about 90 handlers) sleeps at every gap.
  EXPECT_LT(stats.sleeps, kHandlers / 4u);
}

// The same load under a share it cannot reach sleeps at every gap: the test
// above measures the policy, not the timer.
TEST(RunLoopPolicy, BelowItsBusyShareTheSameLoadSleepsAtEveryGap) {
  constexpr int kHandlers = 300;
  LoopRunStats stats = run_busy_load(1.5, kHandlers);
  EXPECT_EQ(stats.polling_windows, 0u);
  // A gap can end before the loop looks (a preempted loop): not every gap
  // is a sleep.
  EXPECT_GE(stats.sleeps, kHandlers * 9 / 10u);
}

}  // namespace
}  // namespace shoal::server
