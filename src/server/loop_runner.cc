#include "server/loop_runner.h"

#include <time.h>

namespace shoal::server {
namespace {

std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

void run_loop(asio::io_context& loop, const BusyPollOptions& options, LoopRunStats* stats) {
  LoopRunStats ignored;
  LoopRunStats& st = stats ? *stats : ignored;
  if (options.spin.count() <= 0) {
    loop.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  Clock::time_point window_start = Clock::now();
  Clock::time_point last_work = window_start;
  Clock::duration busy{0};  // time in handlers in this window
  bool polling = false;     // decided at each window's start from the one before
  while (!loop.stopped()) {
    Clock::time_point before = Clock::now();
    if (before - window_start >= options.window) {
      // Time spent polling is not busy time: polling cannot keep itself on.
      polling = busy >= (before - window_start) * options.min_busy_share;
      st.polling_windows += polling;
      busy = Clock::duration{0};
      window_start = before;
    }
    if (loop.poll() > 0) {  // every handler ready now
      last_work = Clock::now();
      busy += last_work - before;
      continue;
    }
    if (polling && before - last_work < options.spin) continue;
    // Sleep until a handler is ready; run_one() runs it (the next poll()
    // the rest). Of its time only the thread's CPU time is busy time: the
    // handler, not the sleep.
    ++st.sleeps;
    std::chrono::nanoseconds cpu_before = thread_cpu_time();
    if (loop.run_one() == 0) return;
    busy += thread_cpu_time() - cpu_before;
    last_work = Clock::now();
  }
}

}  // namespace shoal::server
