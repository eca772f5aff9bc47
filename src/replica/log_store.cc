#include "replica/log_store.h"

#include <algorithm>

namespace shoal::replica {
namespace {

struct Op {
  enum Kind { kSnapshot, kHardState, kAppend, kCompact } kind;
  ShardId shard;
  raft::Snapshot snap;
  raft::HardState hs;
  std::vector<raft::Entry> entries;
  LogIndex index;
};

class MemoryBatch final : public LogBatch {
 public:
  void put_snapshot(ShardId s, raft::Snapshot snap) override {
    ops_.push_back({Op::kSnapshot, s, std::move(snap), {}, {}, {}});
  }
  void put_hard_state(ShardId s, const raft::HardState& hs) override {
    ops_.push_back({Op::kHardState, s, {}, hs, {}, {}});
  }
  void append(ShardId s, const std::vector<raft::Entry>& e) override {
    if (!e.empty()) ops_.push_back({Op::kAppend, s, {}, {}, e, {}});
  }
  void compact(ShardId s, LogIndex i) override { ops_.push_back({Op::kCompact, s, {}, {}, {}, i}); }
  bool empty() const override { return ops_.empty(); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

void apply_op(StoredState& st, const Op& op) {
  switch (op.kind) {
    case Op::kSnapshot: {
      // As RocksLogStore: our own compaction (the log has the snapshot's
      // last entry, or it is the current compaction point) keeps the entries
      // after it; a leader's snapshot replaces the whole log.
      LogIndex at = op.snap.meta.index;
      bool ours = at == st.snapshot.meta.index && op.snap.meta.term == st.snapshot.meta.term;
      for (const auto& e : st.entries) ours |= e.index == at && e.term == op.snap.meta.term;
      st.snapshot = op.snap;
      if (ours) {
        std::erase_if(st.entries, [&](const raft::Entry& e) { return e.index <= at; });
      } else {
        st.entries.clear();
      }
      break;
    }
    case Op::kHardState:
      st.hard_state = op.hs;
      break;
    case Op::kAppend: {
      LogIndex first = op.entries.front().index;
      std::erase_if(st.entries, [&](const raft::Entry& e) { return e.index >= first; });
      st.entries.insert(st.entries.end(), op.entries.begin(), op.entries.end());
      break;
    }
    case Op::kCompact:
      std::erase_if(st.entries, [&](const raft::Entry& e) { return e.index <= op.index; });
      break;
  }
}

}  // namespace

std::unique_ptr<LogBatch> MemoryLogStore::new_batch() { return std::make_unique<MemoryBatch>(); }

void MemoryLogStore::apply_to(State& state, const LogBatch& batch) {
  for (const auto& op : static_cast<const MemoryBatch&>(batch).ops()) apply_op(state[op.shard], op);
}

Status MemoryLogStore::commit(LogBatch& batch, bool sync) {
  std::lock_guard lock(mu_);
  if (fail_next_) {
    fail_next_ = false;
    return Status::io_error("simulated write failure");
  }
  apply_to(volatile_, batch);
  if (sync) {
    // Durable now: everything this process wrote so far, as an fsync does.
    durable_ = volatile_;
    ++syncs_;
  }
  return Status::ok();
}

Status MemoryLogStore::sync() {
  std::lock_guard lock(mu_);
  if (fail_next_sync_) {
    fail_next_sync_ = false;
    return Status::io_error("simulated sync failure");
  }
  durable_ = volatile_;
  ++syncs_;
  return Status::ok();
}

Result<std::optional<StoredState>> MemoryLogStore::load(ShardId shard) {
  std::lock_guard lock(mu_);
  auto it = volatile_.find(shard);
  if (it == volatile_.end()) return std::optional<StoredState>();
  return std::optional<StoredState>(it->second);
}

void MemoryLogStore::crash() {
  std::lock_guard lock(mu_);
  volatile_ = durable_;
}

}  // namespace shoal::replica
