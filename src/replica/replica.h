// Replica: one shard's member on this node. It drives the shard's Raft group
// (raft::Raft) under the library's host contract (src/raft/raft.h) and applies
// committed entries to the shard's kv::StateMachine.
//
// The Host (host.h) owns replicas and calls, every loop iteration and in this
// order: take_ready(), send_now(), stage() into the node-wide batch, then -
// after the batch is durable - after_persist() and apply(). Clients call
// propose() and read(); their callbacks run on the host's thread, from
// apply() - or, when Raft refuses a batch of writes, from the propose() or
// take_ready() that proposed it (so a callback must not remove replicas).
//
// Outcomes (H18): a write's callback gets OK with the reply once the entry is
// applied; kUnavailable (not leader, leadership moving) or kBusy (too much
// uncommitted) if it was never appended;
// kUnknownOutcome if it was appended but this node can no longer tell whether
// it committed, or if it committed but its reply is gone (a snapshot installed
// over it before this node applied it). Never a guess; never unanswered.
//
// Thread-safety: none; one host thread drives a replica.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <vector>

#include "env/clock.h"
#include "kv/state_machine.h"
#include "raft/raft.h"
#include "replica/child_snapshot.h"
#include "replica/log_store.h"
#include "replica/transport.h"

namespace shoal::replica {

struct ReplicaOptions {
  raft::Config raft;
  // Compact the log once this many writes were applied since the last
  // compaction; for an in-memory state, one that serializes and stores the
  // state also waits for at least as many writes as there are keys. Writes, not entries: an entry
  // carries a batch of writes, and the log's size and a snapshot's cost both follow the writes.
  uint64_t compact_after_writes = 10000;
  // An in-memory state's compaction snapshot is serialized in a forked child
  // process (child_snapshot.h) instead of on the host's loop, which would
  // stop for the whole serialization (~0.25 s per million keys), once the
  // state has at least snapshot_in_child_min_keys keys. Below that the stall
  // is short and a child costs more CPU than it saves: its copy-on-write
  // faults made SET -P 16 ~20% slower at 100k keys (docs/benchmarks.md,
  // "Session 9"). Off in in-process tests unless they ask for it.
  bool snapshot_in_child = false;
  uint64_t snapshot_in_child_min_keys = 200000;
  // An in-memory state is serialized and stored (a durable snapshot, after
  // which the stored log is dropped) only once the stored log since the last
  // one holds at least max(snapshot_min_log_bytes, the last snapshot's size)
  // bytes of entries, as Redis rewrites its AOF (auto-aof-rewrite-min-size,
  // -percentage 100). Compactions before that drop entries from memory only:
  // the stored snapshot plus the stored log still hold the state, and a
  // follower that needs a snapshot gets one serialized then. 0 stores a
  // snapshot at every compaction. docs/durable-shards.md, "Memory-only
  // compactions".
  uint64_t snapshot_min_log_bytes = 0;
  kv::StateMachineOptions state_machine;
};

using ReplyCallback = std::function<void(Status, kv::RecordedReply)>;

class Replica {
 public:
  // Opens from `store`; a durable `engine` (engine.h) needs a durable
  // `sessions` engine for the exactly-once table, and then restarts from its
  // stored state at the stored applied index. With no stored state, bootstraps a new group when
  // `bootstrap_voters` is given (every initial voter must pass the same list),
  // else starts empty and waits for the leader's snapshot (a new learner).
  static Result<std::unique_ptr<Replica>> open(ShardId shard, const ReplicaOptions& options,
                                               LogStore& store, env::Clock& clock,
                                               std::optional<std::vector<NodeId>> bootstrap_voters,
                                               std::unique_ptr<storage::Engine> engine,
                                               std::unique_ptr<storage::Engine> sessions = nullptr);

  // --- clients ---
  // Writes proposed during one host iteration share one log entry
  // (kv::WriteEntryBuilder): they are collected here and proposed to Raft as
  // one entry by take_ready(), or as soon as the batch is full.
  void propose(const kv::WriteCommand& cmd, ReplyCallback done);
  // A linearizable read (ReadIndex or lease, per the raft config).
  void read(const kv::CommandSpec& spec, std::vector<std::string> args, ReplyCallback done);
  // Leader only: proposes deletion of up to `limit` keys whose expiry passed
  // (DESIGN.md section 8). Returns how many were proposed.
  size_t propose_expirations(size_t limit);

  // --- host loop ---
  bool has_ready() const { return raft_->has_ready() || pending_compaction_ || !batch_.empty(); }
  raft::Ready take_ready() {
    propose_batch();
    return raft_->has_ready() ? raft_->ready() : raft::Ready{};
  }
  void send_now(raft::Ready& rd, Transport& transport);
  // Instead of send_now: keeps rd.messages for after_persist (pipelined sync,
  // host.h: peers must not hear a term this node may still lose).
  void hold_messages(raft::Ready& rd);
  // Whether `rd` changes the term or the vote (call before stage()).
  bool changes_term_or_vote(const raft::Ready& rd) const {
    return rd.hard_state &&
           (rd.hard_state->term != staged_hs_.term || rd.hard_state->vote != staged_hs_.vote);
  }
  // Returns whether what it staged must be fsync'd before after_persist().
  // A hard state that only advances the commit index is held back: it is
  // written with the next term or vote change, the next snapshot, or by
  // stage_held_hard_state().
  bool stage(const raft::Ready& rd, LogBatch& batch);
  // Puts a held-back commit-only hard state into `batch`. The host calls it
  // for a durable replica whenever it writes a batch, so that the stored
  // commit index never falls below the stored applied index (which is
  // written with the next batch too).
  void stage_held_hard_state(LogBatch& batch);
  void after_persist(raft::Ready& rd, Transport& transport);
  void apply(raft::Ready& rd);
  // The node can't persist anymore: fail every pending request as unknown.
  void fail_all(const Status& why);
  // Readers on other threads take `mu` shared while reading the state
  // machine; apply() takes it exclusively while changing it.
  void set_apply_lock(std::shared_mutex* mu) { apply_lock_ = mu; }
  // Counts apply() calls; changes only under the apply lock, so a reader
  // holding it shared sees the state it describes (KeyspaceService::ReadTime).
  uint64_t apply_generation() const { return apply_generation_; }

  raft::Raft& raft() { return *raft_; }
  // Bytes of serialized snapshot held in memory: only between a compaction
  // (or a follower's need) and the end of the Ready that stored and sent them.
  size_t held_snapshot_bytes() const { return snapshot_.data.size(); }
  kv::StateMachine& state_machine() { return *sm_; }
  ShardId shard() const { return shard_; }
  bool is_leader() const { return raft_->role() == raft::Role::kLeader; }
  LogIndex applied() const { return applied_; }
  // The state machine lives in a durable engine (engine.h).
  bool durable_state() const { return durable_; }
  // Durable state only: the applied index to stage with the writes apply()
  // staged since the last call, if it moved (LogStore::stage_applied).
  std::optional<LogIndex> take_applied_to_stage();
  // Takes in what a compaction snapshot's child process wrote so far; once
  // it is whole, the compaction is staged like one taken in-process. The
  // host calls it every iteration, also when nothing else is ready.
  void poll_child_snapshot();
  // Compaction snapshots whose child process finished or failed (tests).
  bool child_snapshot_running() const { return child_snapshot_ != nullptr; }
  pid_t child_snapshot_pid() const { return child_snapshot_ ? child_snapshot_->pid() : -1; }
  uint64_t child_snapshots_done() const { return child_snapshots_done_; }
  uint64_t child_snapshots_failed() const { return child_snapshots_failed_; }
  // Compactions that stored nothing (snapshot_min_log_bytes).
  uint64_t memory_only_compactions() const { return memory_only_compactions_; }
  // Compaction snapshots handed to the store (with the log deletion).
  uint64_t stored_compactions() const { return stored_compactions_; }

 private:
  Replica(ShardId shard, const ReplicaOptions& options, env::Clock& clock,
          std::unique_ptr<kv::StateMachine> sm);
  // Proposes the collected writes as one entry.
  void propose_batch();
  void handle_outcomes(const raft::Ready& rd);
  void apply_entry(const raft::Entry& e);
  // Moves the replies out (the apply path: a copy per write was a heap
  // allocation); the vector keeps its capacity for the next entry.
  static void answer(std::vector<ReplyCallback>& done, std::vector<kv::RecordedReply>& replies);
  // The same status (no reply) to every write of a batch.
  static void answer_all(std::vector<ReplyCallback>& done, const Status& status);
  void serve_reads();
  std::optional<int64_t> stored_expiry(const std::string& key) const;
  void propose_expiry(const std::string& key, int64_t at, std::function<void()> on_done);
  void maybe_compact();
  void materialize_snapshot_for(const std::vector<raft::Message>& msgs);
  // Drops the serialized snapshot once it is stored and sent: kept, it would
  // be a second copy of an in-memory shard's whole state.
  void release_snapshot_bytes();
  // Compacts the log at the applied index, makes snapshot_ describe that
  // point (with the serialized state if `serialize`) and stages it for the
  // store. False if Raft declined (nothing changes then).
  bool compact_at_applied(bool serialize);
  // Forks a child to serialize the state at applied_; false if it can't.
  bool start_child_snapshot();
  // Drops the log up to applied_ from Raft's memory, storing nothing.
  bool compact_memory_only();
  // After a compaction (or a leader's snapshot): the counters maybe_compact
  // reads start again; `stored_state`: the state went (or goes) to the store.
  void restart_compaction_counters(bool stored_state);

  struct PendingRead {
    const kv::CommandSpec* spec;
    std::vector<std::string> args;
    ReplyCallback done;
    LogIndex index;
  };

  ShardId shard_;
  ReplicaOptions options_;
  env::Clock& clock_;
  std::unique_ptr<kv::StateMachine> sm_;
  std::unique_ptr<raft::Raft> raft_;
  raft::Snapshot snapshot_;                 // latest: served to followers that need one
  raft::HardState staged_hs_;               // the last hard state staged for persistence
  std::optional<raft::HardState> held_hs_;  // commit-only, not written yet (stage)
  std::shared_mutex* apply_lock_ = nullptr;
  uint64_t apply_generation_ = 0;
  bool pending_compaction_ = false;
  bool durable_ = false;
  bool applied_dirty_ = false;
  LogIndex applied_;
  // The writes of the entry being collected, and their callbacks in order.
  kv::WriteEntryBuilder batch_;
  std::vector<ReplyCallback> batch_done_;
  // One callback per command of the entry.
  std::map<raft::ProposalId, std::vector<ReplyCallback>> proposed_;  // awaiting an outcome
  std::map<LogIndex, std::vector<ReplyCallback>> committed_;         // awaiting apply
  // Replies of entries applied before their proposal's outcome was seen;
  // bounded by the number of replies held.
  std::deque<std::pair<LogIndex, std::vector<kv::RecordedReply>>> recent_replies_;
  size_t recent_reply_count_ = 0;
  uint64_t writes_since_snapshot_ = 0;  // applied, for maybe_compact
  uint64_t keys_at_snapshot_ = 0;       // the state's size then, ditto
  // In-memory state (snapshot_min_log_bytes): entry bytes applied since the
  // state was last serialized for the store (or installed from a leader).
  uint64_t log_bytes_since_stored_ = 0;
  // A compaction snapshot being serialized by a child process, and its meta
  // (taken at the fork: the child's state is the state at that index).
  std::unique_ptr<ChildSnapshot> child_snapshot_;
  raft::SnapshotMeta child_meta_;
  bool child_snapshots_broken_ = false;  // a child failed: serialize in-process
  uint64_t child_snapshots_done_ = 0, child_snapshots_failed_ = 0;
  uint64_t memory_only_compactions_ = 0;
  uint64_t stored_compactions_ = 0;
  std::vector<kv::RecordedReply> apply_replies_;  // reused by apply_entry
  std::map<uint64_t, PendingRead> reads_;         // by read context
  uint64_t next_read_context_ = 1;
  // Keys with a delete proposal in flight, and who waits for it.
  std::map<std::string, std::vector<std::function<void()>>> expiring_;
};

}  // namespace shoal::replica
