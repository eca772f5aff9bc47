#include "replica/rocks_log_store.h"

#include <spdlog/spdlog.h>

#include <variant>

#include "base/assert.h"
#include "replica/raft_record_conversion.h"
#include "storage/rocks_engine.h"
#include "storage/state_codec.h"

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
  void put_snapshot(ShardId s, raft::Snapshot snap) override {
    ops.emplace_back(SnapshotOp{s, to_record(snap.meta), std::move(snap.data)});
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
  auto files = storage::SnapshotFiles::open(db.env, db.path + "/snapshots");
  if (!files.is_ok()) return files.status();
  s->files_ = std::move(files).value();
  s->writer_ = std::make_unique<storage::SnapshotFileWriter>(*s->files_);
  return s;
}

std::unique_ptr<LogBatch> RocksLogStore::new_batch() { return std::make_unique<RocksBatch>(); }

std::string RocksLogStore::data_key(ShardId shard) const {
  std::string k;
  storage::put_big_endian64(k, shard.value());
  k.push_back('d');
  return k;
}

std::string RocksLogStore::file_key(ShardId shard) const {
  std::string k;
  storage::put_big_endian64(k, shard.value());
  k.push_back('f');
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

namespace {
// A snapshot of our own state at an index inside our log, past its current
// compaction point: compacting to it keeps the entries after it.
bool is_own_compaction(storage::RaftStorage& rs, const storage::SnapshotRecord& meta) {
  LogIndex at = meta.index;
  if (at <= rs.snapshot_meta().index || at > rs.last_index()) return false;
  auto term = rs.term(at);
  return term.is_ok() && term.value() == meta.term;
}
}  // namespace

// Our own compaction keeps the entries after the snapshot; a snapshot received
// from the leader replaces the whole log.
Status RocksLogStore::stage_snapshot(storage::RaftStorage& rs, const storage::SnapshotRecord& meta,
                                     std::string data) {
  LogIndex at = meta.index;
  bool own = is_own_compaction(rs, meta);
  if (own && data.size() >= kSnapshotFileBytes) {
    // Written in the background; the log stays whole until the file is
    // durable (stage_written_snapshots).
    writer_->submit({rs.shard(), meta, std::move(data)});
    return Status::ok();
  }
  if (own) {
    if (Status s = rs.compact(at, meta.conf); !s.is_ok()) return s;
  } else if (at != rs.snapshot_meta().index || meta.term != rs.snapshot_meta().term) {
    rs.apply_snapshot(meta);
  }
  // else: a snapshot at the current compaction point (its data serialized
  // later, for a follower): nothing to compact, and the entries after it
  // must stay - Raft counts them as persisted. A leader's snapshot is never
  // at or below our commit index, so it can't land here.
  return stage_snapshot_data(rs.shard(), at, std::move(data));
}

Status RocksLogStore::stage_snapshot_data(ShardId shard, LogIndex at, std::string data) {
  if (data.size() < kSnapshotFileBytes) {
    builder_->batch().Put(db_->raft_state(), data_key(shard), data);
    builder_->batch().Delete(db_->raft_state(), file_key(shard));
    if (auto it = refs_.find(shard); it != refs_.end()) {
      unnamed_staged_.push_back(it->second.name);
      refs_.erase(it);
    }
    return Status::ok();
  }
  // A leader's snapshot (rare): written here, before the batch naming it.
  auto ref = files_->write(shard, at, data);
  if (!ref.is_ok()) return ref.status();
  stage_file_ref(shard, std::move(ref).value());
  return Status::ok();
}

void RocksLogStore::stage_file_ref(ShardId shard, storage::SnapshotFileRef ref) {
  builder_->batch().Put(db_->raft_state(), file_key(shard), storage::encode_snapshot_file_ref(ref));
  builder_->batch().Delete(db_->raft_state(), data_key(shard));
  auto [it, inserted] = refs_.try_emplace(shard, ref);
  if (!inserted) {
    // Names are not reused (SnapshotFiles::open), but a file must never be
    // collected as its own predecessor.
    if (it->second.name != ref.name) unnamed_staged_.push_back(it->second.name);
    it->second = std::move(ref);
  }
}

Status RocksLogStore::stage_written_snapshots() {
  auto finished = writer_->take_done();
  for (size_t i = 0; i < finished.size(); ++i) {
    auto& done = finished[i];
    if (!done.ref.is_ok()) {
      // The log keeps its entries; the next compaction tries again.
      spdlog::warn("shard {}: snapshot file at index {} not written: {}", done.shard.value(),
                   done.meta.index.value(), done.ref.status().to_string());
      continue;
    }
    auto rs = shard_storage(done.shard);
    Status st = rs.status();
    // A leader's snapshot may have replaced the log meanwhile.
    if (st.is_ok() && !is_own_compaction(*rs.value(), done.meta)) {
      files_->remove(done.ref.value().name);
      continue;
    }
    if (st.is_ok()) st = rs.value()->compact(done.meta.index, done.meta.conf);
    if (!st.is_ok()) {
      // The host fails; no batch will name these files.
      for (size_t j = i; j < finished.size(); ++j) {
        if (finished[j].ref.is_ok()) files_->remove(finished[j].ref.value().name);
      }
      return st;
    }
    stage_file_ref(done.shard, std::move(done.ref).value());
  }
  return Status::ok();
}

Status RocksLogStore::collect_snapshot_garbage() {
  if (unnamed_committed_.empty()) return Status::ok();
  // Committed is not yet durable: after a crash the WAL could still name them.
  // A failed sync fails the commit (and the host), like any failed fsync.
  if (Status s = sync(); !s.is_ok()) return s;
  for (const auto& name : unnamed_committed_) files_->remove(name);
  unnamed_committed_.clear();
  return Status::ok();
}

Status RocksLogStore::commit(LogBatch& batch, bool sync) {
  if (Status s = collect_snapshot_garbage(); !s.is_ok()) return s;
  if (Status s = stage_written_snapshots(); !s.is_ok()) return s;
  for (auto& op : static_cast<RocksBatch&>(batch).ops) {
    ShardId shard = std::visit([](auto& o) { return o.shard; }, op);
    auto rs = shard_storage(shard);
    if (!rs.is_ok()) return rs.status();
    Status st;
    if (auto* o = std::get_if<SnapshotOp>(&op)) {
      st = stage_snapshot(*rs.value(), o->meta, std::move(o->data));
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
  // The only place the builder is written out, and only for a batch the host
  // found non-empty: the host then also staged a durable replica's held-back
  // commit index (Replica::stage_held_hard_state), which must cover the applied
  // index the builder carries. Another path writing the builder would need
  // the same.
  Status s = builder_->commit(/*durability_needed=*/sync);
  if (s.is_ok()) {
    unnamed_committed_.insert(unnamed_committed_.end(), unnamed_staged_.begin(),
                              unnamed_staged_.end());
    unnamed_staged_.clear();
  }
  return s;
}

Status RocksLogStore::sync() { return db_->sync_wal(); }

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
  auto file = builder_->get(db_->raft_state(), file_key(shard));
  if (!file.is_ok()) return file.status();
  std::optional<std::string> data = std::move(blob).value();
  std::set<std::string> named;
  if (file.value()) {
    auto ref = storage::decode_snapshot_file_ref(*file.value());
    if (!ref.is_ok()) return ref.status();
    auto bytes = files_->read(ref.value());
    if (!bytes.is_ok()) return bytes.status();
    data = std::move(bytes).value();
    named.insert(ref.value().name);
    refs_[shard] = std::move(ref).value();
  }
  // Files no stored reference names: superseded, or written for a
  // compaction that never committed. Synced first, so that the state
  // naming none of them is the durable one.
  if (Status s = sync(); !s.is_ok()) return s;
  files_->remove_unreferenced(shard, named);
  storage::RaftStateRecord& st = init.value();
  if (st.hard_state.term.value() == 0 && st.snapshot.index.value() == 0 && !data) {
    return std::optional<StoredState>();  // nothing stored: a new replica
  }
  StoredState out;
  out.hard_state = from_record(st.hard_state);
  out.snapshot.meta = from_record(st.snapshot);
  out.snapshot.data = data.value_or("");
  out.applied = st.applied;
  out.entries.reserve(st.entries.size());
  for (auto& r : st.entries) out.entries.push_back(from_record(std::move(r)));
  return std::optional<StoredState>(std::move(out));
}

}  // namespace shoal::replica
