// run_loop: runs an event loop until it stops. A loop that was busy for most
// of the last window polls for a short while after its last handler instead
// of going to sleep at once (adaptive busy polling).
//
// Why: on loopback a client's send to a sleeping loop pays the loop's
// wake-up in the client's own system time (the wake-up and the other CPU's
// interrupt run in the sender's context), and so does the loop's reply to a
// sleeping client. A loop under a steady load sleeps only in short gaps;
// polling through them spares its clients those wake-ups (measured in
// docs/benchmarks.md, "Session 13"). A loop busy less than `min_busy_share`
// of the last window runs as io_context::run does, so an idle or lightly
// loaded node costs no extra CPU; polling only fills gaps of a loop that
// already takes most of a core. Used by the client loops (server.cc); the
// raft loop does not poll (measured: no gain there).
//
// Thread-safety: run_loop runs on the loop's own thread, as io_context::run;
// `stats` is written by that thread only (read it after run_loop returns).
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>

namespace shoal::server {

struct BusyPollOptions {
  std::chrono::microseconds spin{0};  // 0: never poll (io_context::run)
  // Of `window`: the thread's CPU time, less its time polling.
  double min_busy_share = 0.6;
  std::chrono::milliseconds window{20};
};

struct LoopRunStats {
  uint64_t waits = 0;  // run_one() calls: each waits in the kernel when no handler is ready
  uint64_t polling_windows = 0;  // windows in which the loop polled
};

void run_loop(asio::io_context& loop, const BusyPollOptions& options,
              LoopRunStats* stats = nullptr);

}  // namespace shoal::server
