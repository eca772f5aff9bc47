#include "server/loop_runner.h"

#include <time.h>

#include <optional>

namespace shoal::server {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration thread_cpu_time() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                     std::chrono::nanoseconds(ts.tv_nsec));
}

}  // namespace

void run_loop(asio::io_context& loop, const BusyPollOptions& options, LoopRunStats* stats) {
  LoopRunStats ignored;
  LoopRunStats& st = stats ? *stats : ignored;
  if (options.spin.count() <= 0) {
    loop.run();
    return;
  }
  Clock::time_point window_start = Clock::now();
  Clock::duration window_cpu_start = thread_cpu_time();
  Clock::duration spun{0};                     // time polling in vain in this window
  std::optional<Clock::time_point> spin_from;  // since when the loop polls in vain
  Clock::time_point last_work = window_start;
  bool polling = false;  // decided at each window's end for the next one
  auto end_spin = [&](Clock::time_point at) {
    if (spin_from) spun += at - *spin_from;
    spin_from.reset();
  };
  while (!loop.stopped()) {
    Clock::time_point now = Clock::now();
    if (now - window_start >= options.window) {
      // Busy time: the thread's CPU time less its polling in vain, so that
      // polling cannot keep itself on (and a preempted thread counts as less
      // busy, not more).
      bool was_spinning = spin_from.has_value();
      end_spin(now);
      Clock::duration cpu = thread_cpu_time();
      Clock::duration busy = cpu - window_cpu_start - spun;
      polling = busy >= (now - window_start) * options.min_busy_share;
      st.polling_windows += polling;
      window_start = now;
      window_cpu_start = cpu;
      spun = Clock::duration{0};
      if (was_spinning && polling) spin_from = now;
    }
    if (!polling) {
      // As io_context::run: one handler per call, waiting when none is ready.
      ++st.waits;
      if (loop.run_one() == 0) return;
      continue;
    }
    if (!spin_from) spin_from = now;
    if (loop.poll() > 0) {  // every handler ready now
      end_spin(now);
      last_work = Clock::now();
      continue;
    }
    if (now - last_work < options.spin) continue;
    end_spin(Clock::now());
    ++st.waits;
    if (loop.run_one() == 0) return;
    last_work = Clock::now();
  }
}

}  // namespace shoal::server
