// Entries committed per second through a 3-voter Raft group in memory (no
// I/O): the library's CPU cost per entry, which bounds a shard's write rate.
//
//   ./build/bin/raft_bench --benchmark_filter=Commit
//
// Each iteration proposes a batch of `batch` entries of `bytes` bytes on the
// leader, then runs the three hosts (persist = instant, deliver = step) until
// the leader has committed and applied the whole batch, and every follower
// has applied it too; then every host compacts its log behind the applied index.
#include <benchmark/benchmark.h>

#include <deque>
#include <memory>
#include <vector>

#include "raft/raft.h"

namespace shoal::raft {
namespace {

class Group {
 public:
  Group() {
    std::vector<NodeId> voters{NodeId(1), NodeId(2), NodeId(3)};
    for (NodeId id : voters) {
      Config c;
      c.id = id;
      c.seed = id.value();
      c.max_inflight_msgs = 1024;
      c.max_uncommitted_bytes = 1ull << 32;
      auto r = Raft::open(c, InitialState::bootstrap(voters));
      nodes_.push_back(std::move(r).value());
    }
    nodes_[0]->campaign();
    pump();
  }

  Raft& leader() { return *nodes_[0]; }

  // Handles every Ready and delivers every message until quiescent.
  // Returns the number of entries applied on the leader.
  size_t pump() {
    size_t applied = 0;
    bool moved = true;
    while (moved) {
      moved = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        Raft& n = *nodes_[i];
        while (n.has_ready()) {
          moved = true;
          Ready rd = n.ready();
          if (i == 0) applied += rd.committed_entries.size();
          benchmark::DoNotOptimize(rd.entries.data());
          n.advance(rd);
          for (auto* v : {&rd.messages, &rd.messages_after_persist}) {
            for (Message& m : *v) queue_.push_back(std::move(m));
          }
        }
      }
      while (!queue_.empty()) {
        moved = true;
        Message m = std::move(queue_.front());
        queue_.pop_front();
        (void)nodes_[m.to.value() - 1]->step(std::move(m));
      }
    }
    return applied;
  }

  // The host compacts behind the applied index, as it would after a
  // snapshot, so memory stays bounded however long the benchmark runs.
  void compact() {
    for (auto& n : nodes_) n->compact(n->log().applied());
  }

 private:
  std::vector<std::unique_ptr<Raft>> nodes_;
  std::deque<Message> queue_;
};

void BM_CommitThroughput(benchmark::State& state) {
  size_t bytes = static_cast<size_t>(state.range(0));
  size_t batch = static_cast<size_t>(state.range(1));
  Group g;
  std::string payload(bytes, 'x');
  size_t committed = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) {
      auto r = g.leader().propose(payload);
      if (!r.is_ok()) state.SkipWithError("proposal refused");
    }
    committed += g.pump();
    g.compact();
  }
  state.SetItemsProcessed(static_cast<int64_t>(committed));
  state.SetBytesProcessed(static_cast<int64_t>(committed * bytes));
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_CommitThroughput)
    ->ArgNames({"bytes", "batch"})
    ->Args({16, 1})
    ->Args({16, 64})
    ->Args({16, 256})
    ->Args({16, 1024})
    ->Args({1024, 64})
    ->Args({1024, 256})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace shoal::raft

BENCHMARK_MAIN();
