#include "replica/rocks_log_store.h"

#include <variant>

#include "base/assert.h"
#include "replica/raft_record_conversion.h"
#include "storage/rocks_engine.h"

namespace shoal::replica {
namespace {

// The ops of one host iteration, replayed into RaftStorage at commit time in
// the order the Raft contract requires (snapshot, hard state, entries). They
// hold storage's records, converted from raft's types as they are queued.
struct SnapshotOp {
  ShardId shard;
  storage::SnapshotRecord meta;
  std::string data;
};
struct HardStateOp {
  ShardId shard;
  storage::HardStateRecord hs;
};
struct AppendOp {
  ShardId shard;
  std::vector<storage::LogRecord> entries;
};
struct CompactOp {
  ShardId shard;
  LogIndex index;
};
using Op = std::variant<SnapshotOp, HardStateOp, AppendOp, CompactOp>;

class RocksBatch final : public LogBatch {
 public:
  void put_snapshot(ShardId s, const raft::Snapshot& snap) override {
    ops.emplace_back(SnapshotOp{s, to_record(snap.meta), snap.data});
  }
  void put_hard_state(ShardId s, const raft::HardState& hs) override {
    ops.emplace_back(HardStateOp{s, to_record(hs)});
  }
  void append(ShardId s, const std::vector<raft::Entry>& e) override {
    if (!e.empty()) ops.emplace_back(AppendOp{s, to_records(e)});
  }
  void compact(ShardId s, LogIndex i) override { ops.emplace_back(CompactOp{s, i}); }
  bool empty() const override { return ops.empty(); }
  std::vector<Op> ops;
};

}  // namespace

Result<std::unique_ptr<RocksLogStore>> RocksLogStore::open(const storage::RocksDbOptions& db,
                                                           storage::FsyncPolicy policy,
                                                           const env::Clock& clock) {
  auto opened = storage::RocksDb::open(db);
  if (!opened.is_ok()) return opened.status();
  std::unique_ptr<RocksLogStore> s(new RocksLogStore());
  s->db_ = std::move(opened).value();
  s->builder_ = std::make_unique<storage::WriteBatchBuilder>(*s->db_, policy, clock);
  return s;
}

std::unique_ptr<LogBatch> RocksLogStore::new_batch() { return std::make_unique<RocksBatch>(); }

std::string RocksLogStore::data_key(ShardId shard) const {
  std::string k;
  storage::put_big_endian64(k, shard.value());
  k.push_back('d');
  return k;
}

Result<storage::RaftStorage*> RocksLogStore::shard_storage(ShardId shard) {
  auto it = shards_.find(shard);
  if (it != shards_.end()) return it->second.get();
  auto rs = storage::RaftStorage::open(*builder_, shard);
  if (!rs.is_ok()) return rs.status();
  auto* raw = rs.value().get();
  shards_.emplace(shard, std::move(rs).value());
  return raw;
}

// Our own compaction keeps the entries after the snapshot; a snapshot received
// from the leader replaces the whole log.
Status RocksLogStore::stage_snapshot(storage::RaftStorage& rs, const storage::SnapshotRecord& meta,
                                     const std::string& data) {
  LogIndex at = meta.index;
  auto term =
      at <= rs.last_index() && at >= rs.snapshot_meta().index ? rs.term(at) : Result<Term>(Term(0));
  bool ours = term.is_ok() && term.value() == meta.term && at <= rs.last_index() &&
              at >= rs.snapshot_meta().index;
  if (ours && at > rs.snapshot_meta().index) {
    if (Status s = rs.compact(at, meta.conf); !s.is_ok()) return s;
  } else if (!ours) {
    rs.apply_snapshot(meta);
  }
  // else: a snapshot at the current compaction point (its data serialized
  // later, for a follower): nothing to compact, and the entries after it
  // must stay - Raft counts them as persisted. A leader's snapshot is never
  // at or below our commit index, so it can't land here.
  builder_->batch().Put(db_->raft_state(), data_key(rs.shard()), data);
  return Status::ok();
}

Status RocksLogStore::commit(LogBatch& batch, bool sync) {
  for (auto& op : static_cast<RocksBatch&>(batch).ops) {
    ShardId shard = std::visit([](auto& o) { return o.shard; }, op);
    auto rs = shard_storage(shard);
    if (!rs.is_ok()) return rs.status();
    Status st;
    if (auto* o = std::get_if<SnapshotOp>(&op)) {
      st = stage_snapshot(*rs.value(), o->meta, o->data);
    } else if (auto* o = std::get_if<HardStateOp>(&op)) {
      rs.value()->set_hard_state(o->hs);
    } else if (auto* o = std::get_if<AppendOp>(&op)) {
      st = rs.value()->append(o->entries);
    } else if (auto* o = std::get_if<CompactOp>(&op)) {
      st = rs.value()->compact(o->index, rs.value()->snapshot_meta().conf);
    }
    if (!st.is_ok()) return st;
  }
  ++commits_;
  return builder_->commit(/*durability_needed=*/sync);
}

Status RocksLogStore::sync() { return storage::from_rocks(db_->db()->SyncWAL(), "sync wal"); }

void RocksLogStore::stage_applied(ShardId shard, LogIndex applied) {
  auto rs = shard_storage(shard);
  SHOAL_ASSERT_MSG(rs.is_ok(), "raft storage of a hosted shard failed to open");
  rs.value()->set_applied(applied);
}

Result<std::unique_ptr<storage::Engine>> RocksLogStore::open_engine(ShardId shard,
                                                                    std::string tenant) {
  auto e = storage::RocksEngine::open(*builder_, shard, std::move(tenant));
  if (!e.is_ok()) return e.status();
  return std::unique_ptr<storage::Engine>(std::move(e).value());
}

Result<StateEngines> RocksLogStore::open_state_engines(ShardId shard) {
  StateEngines out;
  auto data = open_engine(shard, "");
  if (!data.is_ok()) return data.status();
  auto sessions = open_engine(shard, std::string("\0sessions", 9));
  if (!sessions.is_ok()) return sessions.status();
  out.data = std::move(data).value();
  out.sessions = std::move(sessions).value();
  return out;
}

Result<std::optional<StoredState>> RocksLogStore::load(ShardId shard) {
  auto rs = shard_storage(shard);
  if (!rs.is_ok()) return rs.status();
  auto init = rs.value()->initial_state();
  if (!init.is_ok()) return init.status();
  auto blob = builder_->get(db_->raft_state(), data_key(shard));
  if (!blob.is_ok()) return blob.status();
  storage::RaftStateRecord& st = init.value();
  if (st.hard_state.term.value() == 0 && st.snapshot.index.value() == 0 && !blob.value()) {
    return std::optional<StoredState>();  // nothing stored: a new replica
  }
  StoredState out;
  out.hard_state = from_record(st.hard_state);
  out.snapshot.meta = from_record(st.snapshot);
  out.snapshot.data = blob.value().value_or("");
  out.applied = st.applied;
  out.entries.reserve(st.entries.size());
  for (auto& r : st.entries) out.entries.push_back(from_record(std::move(r)));
  return std::optional<StoredState>(std::move(out));
}

}  // namespace shoal::replica
