// Names the calling thread, as `top -H`, `perf report --sort comm` and
// /proc/PID/task/TID/comm show it: which thread is the raft loop matters
// when one of them is the bottleneck (docs/benchmarks.md, bench/cpu_budget.sh).
//
// Linux keeps at most 15 bytes; a longer name is cut there. Best effort: a
// name that can't be set changes nothing else.
#pragma once

#include <string_view>

namespace shoal {

void set_thread_name(std::string_view name);

}  // namespace shoal
