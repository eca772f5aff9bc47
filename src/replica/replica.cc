#include "replica/replica.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "base/assert.h"

namespace shoal::replica {
namespace {
constexpr size_t kRecentReplies = 1024;
// A batch entry is proposed once it holds this many writes or bytes: big
// enough to amortize the per-entry costs, small enough for one append
// message (raft::Config::max_msg_bytes) and a short apply.
constexpr size_t kMaxBatchCommands = 1024;
constexpr size_t kMaxBatchBytes = 256 << 10;
}  // namespace

Replica::Replica(ShardId shard, const ReplicaOptions& options, env::Clock& clock,
                 std::unique_ptr<kv::StateMachine> sm)
    : shard_(shard), options_(options), clock_(clock), sm_(std::move(sm)) {}

Result<std::unique_ptr<Replica>> Replica::open(ShardId shard, const ReplicaOptions& options,
                                               LogStore& store, env::Clock& clock,
                                               std::optional<std::vector<NodeId>> bootstrap_voters,
                                               std::unique_ptr<storage::Engine> engine,
                                               std::unique_ptr<storage::Engine> sessions) {
  bool durable = engine->durable();
  if (durable && (!sessions || !sessions->durable())) {
    return Status::invalid_argument("a durable data engine needs a durable session engine");
  }
  auto sm = std::make_unique<kv::StateMachine>(std::move(engine), options.state_machine,
                                               durable ? std::move(sessions) : nullptr);
  auto loaded = store.load(shard);
  if (!loaded.is_ok()) return loaded.status();
  raft::InitialState init;
  raft::Snapshot snap;
  bool restored = false;
  if (loaded.value().has_value()) {
    StoredState st = std::move(*loaded.value());
    init.hard_state = st.hard_state;
    init.snapshot = st.snapshot.meta;
    init.entries = std::move(st.entries);
    if (durable && st.applied.value() != 0 && st.applied >= st.snapshot.meta.index) {
      // The engine holds the state at `applied` (written atomically with
      // it): replay only the entries after it. An applied entry was
      // committed, so the commit index (persisted lazily) is at least that.
      init.applied = st.applied;
      if (init.hard_state.commit < st.applied) init.hard_state.commit = st.applied;
    } else {
      // An in-memory state machine, or a durable one older than the stored
      // snapshot (a crash between installing a leader's snapshot and
      // applying it): restart from the snapshot and replay the log after it.
      if (durable && st.snapshot.data.empty() && st.snapshot.meta.index.value() > 1) {
        // A durable replica's own compaction stores no state (it is in the
        // engine, with an applied index at least the compaction's).
        return Status::corruption("shard " + std::to_string(shard.value()) +
                                  ": stored state is older than the log's compaction point "
                                  "and no snapshot holds it");
      }
      if (!durable && st.snapshot.data.empty() && st.snapshot.meta.index.value() > 0) {
        // Compacted by a durable engine: the state is in RocksDB, not in
        // the snapshot. Starting empty here would lose it.
        return Status::invalid_argument(
            "shard " + std::to_string(shard.value()) +
            ": its data is kept by the rocksdb engine (the log was compacted without a "
            "serialized snapshot); start this node with --engine rocksdb");
      }
      if (!st.snapshot.data.empty()) {
        if (Status s = sm->restore(st.snapshot.data); !s.is_ok()) return s;
        restored = true;
      }
      init.applied = st.snapshot.meta.index;
    }
    snap = std::move(st.snapshot);
  } else if (bootstrap_voters) {
    init = raft::InitialState::bootstrap(*bootstrap_voters);
    snap.meta = init.snapshot;
    snap.data = sm->snapshot_data();
    auto batch = store.new_batch();
    batch->put_snapshot(shard, snap);
    batch->put_hard_state(shard, init.hard_state);
    if (Status s = store.commit(*batch, /*sync=*/true); !s.is_ok()) return s;
  }
  auto raft = raft::Raft::open(options.raft, init);
  if (!raft.is_ok()) return raft.status();
  std::unique_ptr<Replica> r(new Replica(shard, options, clock, std::move(sm)));
  r->raft_ = std::move(raft).value();
  r->applied_ = init.applied;
  r->staged_hs_ = init.hard_state;
  r->snapshot_ = std::move(snap);
  // A durable engine restarts past the entries it applied since the
  // compaction point instead of replaying them: count them for
  // maybe_compact, each as (at least) one write, or a replica restarting
  // more often than every compact_after_writes writes never compacts.
  r->writes_since_snapshot_ = init.applied.value() - r->snapshot_.meta.index.value();
  r->keys_at_snapshot_ = r->sm_->store().size();
  r->durable_ = durable;
  // A restored durable state is staged; its applied index goes with it.
  r->applied_dirty_ = durable && restored;
  return r;
}

void Replica::propose(const kv::WriteCommand& cmd, ReplyCallback done) {
  if (!is_leader()) return done(Status::unavailable("not leader"), {});
  batch_.add(cmd);
  batch_done_.push_back(std::move(done));
  if (batch_.count() >= kMaxBatchCommands || batch_.bytes() >= kMaxBatchBytes) propose_batch();
}

void Replica::propose_batch() {
  if (batch_.empty()) return;
  std::vector<ReplyCallback> done = std::move(batch_done_);
  batch_done_.clear();
  auto id = raft_->propose(batch_.finish());
  if (!id.is_ok()) return answer_all(done, id.status());
  proposed_.emplace(id.value(), std::move(done));
}

void Replica::read(const kv::CommandSpec& spec, std::vector<std::string> args, ReplyCallback done) {
  uint64_t ctx = next_read_context_++;
  if (Status s = raft_->read_index(ctx); !s.is_ok()) return done(s, {});
  reads_.emplace(ctx, PendingRead{&spec, std::move(args), std::move(done), LogIndex()});
}

size_t Replica::propose_expirations(size_t limit) {
  if (!is_leader()) return 0;
  int64_t now = clock_.now_ms();
  size_t proposed = 0;
  for (auto& [key, at] : sm_->store().collect_expired(now, limit + expiring_.size())) {
    if (proposed >= limit) break;
    if (expiring_.count(key)) continue;
    propose_expiry(key, at, nullptr);
    ++proposed;
  }
  return proposed;
}

// One delete proposal per key at a time; later waiters join the first one.
void Replica::propose_expiry(const std::string& key, int64_t at, std::function<void()> on_done) {
  auto [it, fresh] = expiring_.try_emplace(key);
  if (on_done) it->second.push_back(std::move(on_done));
  if (!fresh) return;
  kv::WriteCommand cmd{0, 0, clock_.now_ms(), {"shoal.expire", key, std::to_string(at)}};
  propose(cmd, [this, key](Status, kv::RecordedReply) {
    auto node = expiring_.extract(key);
    if (node.empty()) return;
    for (auto& waiter : node.mapped()) waiter();
  });
}

// Hands kSnap messages to the transport with the host's snapshot (the library
// never holds snapshot data) and sends the rest.
//
// report_snapshot semantics: a snapshot sent inline (SnapshotSend::kSent)
// has no delivery report, so it counts as sent at once: if it is lost, the
// follower's next probe is rejected and the leader sends it again; without
// this report a lost snapshot would park the follower in the snapshot state
// until the leader changed. A chunked transfer (kStarted) is reported by the
// transport when it completes or gives up (Host::report_snapshot); until then
// the follower stays in the snapshot state and gets no appends, as in etcd.
static void send_all(std::vector<raft::Message>& msgs, const raft::Snapshot& snap, raft::Raft& raft,
                     ShardId shard, Transport& transport) {
  for (auto& m : msgs) {
    if (m.type != raft::MessageType::kSnap) {
      transport.send(shard, std::move(m));
      continue;
    }
    NodeId to = m.to;
    if (snap.meta.index < m.snapshot.meta.index || snap.data.empty()) {
      raft.report_snapshot(to, false);
      continue;
    }
    // A newer snapshot than the one Raft named: materialize_snapshot_for
    // compacted at the applied index since. Raft's own snapshot is that one
    // now, and the follower's ack of the newer index ends the leader's
    // snapshot state all the same (match >= pending). Reporting a failure
    // instead left a follower behind forever under a steady write load: by
    // Raft's retry the applied index had moved on and the bytes were gone.
    m.snapshot.meta = snap.meta;
    switch (transport.send_snapshot(shard, std::move(m), snap)) {
      case SnapshotSend::kSent:
        raft.report_snapshot(to, true);
        break;
      case SnapshotSend::kStarted:
        break;
      case SnapshotSend::kRefused:
        raft.report_snapshot(to, false);
        break;
    }
  }
  msgs.clear();
}

void Replica::hold_messages(raft::Ready& rd) {
  rd.messages_after_persist.insert(rd.messages_after_persist.begin(),
                                   std::make_move_iterator(rd.messages.begin()),
                                   std::make_move_iterator(rd.messages.end()));
  rd.messages.clear();
}

void Replica::send_now(raft::Ready& rd, Transport& transport) {
  materialize_snapshot_for(rd.messages);
  send_all(rd.messages, snapshot_, *raft_, shard_, transport);
}

// A durable state machine compacts the log without serializing its state
// (the state is on disk at the applied index), and no replica keeps a
// snapshot's bytes after storing and sending them (release_snapshot_bytes).
// When a follower needs a snapshot, the state is serialized then, at the
// current applied index: the log is compacted there too, and send_all sends
// that newer snapshot in place of the one Raft's message named.
void Replica::materialize_snapshot_for(const std::vector<raft::Message>& msgs) {
  if (!snapshot_.data.empty()) return;
  bool wanted = std::any_of(msgs.begin(), msgs.end(), [](const raft::Message& m) {
    return m.type == raft::MessageType::kSnap;
  });
  if (!wanted) return;
  if (applied_ < raft_->log().first_index()) {
    // Nothing applied since the last compaction: snapshot_ already describes
    // the state at applied_; only its data is missing. Nothing to store (the
    // engine, or the stored snapshot, holds that state), and the log after it
    // must stay as it is.
    snapshot_.data = sm_->snapshot_data();
    return;
  }
  compact_at_applied(/*serialize=*/true);
}

bool Replica::stage(const raft::Ready& rd, LogBatch& batch) {
  bool needs_sync = false;
  bool stages_snapshot = pending_compaction_ || rd.snapshot;
  if (pending_compaction_) {
    // An in-memory state's stored snapshot carries the state; the log under
    // it is deleted with this batch.
    SHOAL_ASSERT_MSG(durable_ || !snapshot_.data.empty(),
                     "a compaction of an in-memory state staged without its data");
    // The bytes go to the store, not a copy (a copy was ~5% of the raft
    // loop's time at SET -P 16 with 100k keys: memmove and page faults).
    // snapshot_ keeps its meta; a follower that needs the data later gets it
    // serialized again (materialize_snapshot_for), as after
    // release_snapshot_bytes.
    raft::Snapshot staged;
    staged.meta = snapshot_.meta;
    staged.data = std::move(snapshot_.data);
    std::string().swap(snapshot_.data);
    batch.put_snapshot(shard_, std::move(staged));
    pending_compaction_ = false;
    ++stored_compactions_;
    needs_sync = true;
  }
  if (rd.snapshot) {
    batch.put_snapshot(shard_, *rd.snapshot);
    needs_sync = true;
  }
  if (rd.hard_state) {
    // Term and vote must be durable before anyone hears of them (H16). The
    // commit index alone may lag (Raft keeps it volatile: a restarted node
    // learns it again), so a hard state that only advances it is held back
    // (docs/durable-shards.md, "The commit index is written lazily").
    if (changes_term_or_vote(rd)) {
      batch.put_hard_state(shard_, *rd.hard_state);
      needs_sync = true;
      held_hs_.reset();
    } else {
      held_hs_ = *rd.hard_state;
    }
    staged_hs_ = *rd.hard_state;
  }
  // With a snapshot the stored commit index catches up with it. So it does
  // with a membership change about to be applied: Raft rebuilds membership at
  // a restart from the snapshot plus the entries up to the stored commit
  // index, so a lagging one would bring back the old membership (two leaders
  // in one term: helper review, session 8).
  bool applies_conf_change =
      std::any_of(rd.committed_entries.begin(), rd.committed_entries.end(),
                  [](const raft::Entry& e) { return e.type == raft::EntryType::kConfChange; });
  if (stages_snapshot || applies_conf_change) stage_held_hard_state(batch);
  if (!rd.entries.empty()) {
    batch.append(shard_, rd.entries);
    needs_sync = true;
  }
  return needs_sync;
}

void Replica::stage_held_hard_state(LogBatch& batch) {
  if (!held_hs_) return;
  batch.put_hard_state(shard_, *held_hs_);
  held_hs_.reset();
}

void Replica::after_persist(raft::Ready& rd, Transport& transport) {
  materialize_snapshot_for(rd.messages_after_persist);
  send_all(rd.messages_after_persist, snapshot_, *raft_, shard_, transport);
  if (rd.persist_index.value() != 0) raft_->on_persisted(rd.persist_term, rd.persist_index);
  release_snapshot_bytes();
}

void Replica::release_snapshot_bytes() {
  // Not before stage() handed a pending compaction to the log store; the
  // transport copies what it sends (blob_source).
  if (pending_compaction_ || snapshot_.data.empty()) return;
  std::string().swap(snapshot_.data);
}

void Replica::apply(raft::Ready& rd) {
  LogIndex applied_at_entry = applied_;
  std::unique_lock<std::shared_mutex> lock;
  if (apply_lock_) lock = std::unique_lock<std::shared_mutex>(*apply_lock_);
  ++apply_generation_;
  if (rd.snapshot) {
    // Host::step verified these bytes (check_snapshot) before Raft saw them,
    // so a failure here is a bug, not bad input: stop rather than serve it.
    Status s = sm_->restore(rd.snapshot->data);
    SHOAL_ASSERT_MSG(s.is_ok(), "verified snapshot failed to restore");
    snapshot_ = *rd.snapshot;
    applied_ = snapshot_.meta.index;
    recent_replies_.clear();
    recent_reply_count_ = 0;
    restart_compaction_counters(/*stored_state=*/true);
    // Writes known committed but not applied yet are in the snapshot's
    // state; their replies are not. Answer them (H18) - their entries will
    // never be applied here.
    auto covered = committed_.upper_bound(applied_);
    for (auto it = committed_.begin(); it != covered; ++it) {
      answer_all(it->second,
                 Status::unknown_outcome("committed, but a snapshot replaced its reply"));
    }
    committed_.erase(committed_.begin(), covered);
  }
  handle_outcomes(rd);
  for (const auto& e : rd.committed_entries) {
    if (e.index <= applied_) continue;  // covered by an installed snapshot
    apply_entry(e);
  }
  if (rd.apply_index.value() != 0) raft_->on_applied(rd.apply_index);
  for (const auto& rs : rd.read_states) {
    auto it = reads_.find(rs.context);
    if (it == reads_.end()) continue;
    if (!rs.ok) {
      auto done = std::move(it->second.done);
      reads_.erase(it);
      done(Status::unavailable("read not confirmed by a quorum; retry"), {});
      continue;
    }
    it->second.index = rs.index.value() == 0 ? LogIndex(1) : rs.index;
  }
  serve_reads();
  maybe_compact();
  if (durable_ && applied_ != applied_at_entry) applied_dirty_ = true;
}

std::optional<LogIndex> Replica::take_applied_to_stage() {
  if (!applied_dirty_) return std::nullopt;
  applied_dirty_ = false;
  return applied_;
}

void Replica::handle_outcomes(const raft::Ready& rd) {
  for (const auto& o : rd.outcomes) {
    auto it = proposed_.find(o.id);
    if (it == proposed_.end()) continue;
    std::vector<ReplyCallback> done = std::move(it->second);
    proposed_.erase(it);
    switch (o.kind) {
      case raft::OutcomeKind::kCommitted: {
        if (o.index > applied_) {
          committed_.emplace(o.index, std::move(done));
          break;
        }
        auto r = std::find_if(recent_replies_.begin(), recent_replies_.end(),
                              [&](const auto& p) { return p.first == o.index; });
        if (r != recent_replies_.end()) {
          std::vector<kv::RecordedReply> copy = r->second;  // stays cached
          answer(done, copy);
        } else {
          answer_all(done, Status::unknown_outcome("committed, reply no longer available"));
        }
        break;
      }
      case raft::OutcomeKind::kRejected:
        answer_all(done, Status::unavailable("not committed (leadership changed); safe to retry"));
        break;
      case raft::OutcomeKind::kUnknown:
        answer_all(done, Status::unknown_outcome(
                             "leadership changed before the write was known to commit"));
        break;
    }
  }
}

// Each command of an entry gets its own reply. A count that differs from the
// callbacks' means the entry this node applied is not the one it proposed
// (a corrupt frame yields one error reply): no command gets another's reply;
// every one is answered with an error.
void Replica::answer(std::vector<ReplyCallback>& done, std::vector<kv::RecordedReply>& replies) {
  if (replies.size() != done.size()) {
    kv::RecordedReply mismatch;
    mismatch.error("ERR corrupt log entry: " + std::to_string(replies.size()) + " replies for " +
                   std::to_string(done.size()) + " commands");
    for (auto& d : done) d(Status::ok(), mismatch);
    return;
  }
  for (size_t i = 0; i < done.size(); ++i) done[i](Status::ok(), std::move(replies[i]));
}

void Replica::answer_all(std::vector<ReplyCallback>& done, const Status& status) {
  for (auto& d : done) d(status, {});
}

void Replica::apply_entry(const raft::Entry& e) {
  apply_replies_.clear();
  if (e.type == raft::EntryType::kNormal && !e.data.empty()) {
    sm_->apply_entry(e.data, apply_replies_);
  } else {
    apply_replies_.emplace_back().ok();
  }
  applied_ = e.index;
  writes_since_snapshot_ += apply_replies_.size();
  log_bytes_since_stored_ += e.data.size();
  auto it = committed_.find(e.index);
  if (it != committed_.end()) {
    std::vector<ReplyCallback> done = std::move(it->second);
    committed_.erase(it);
    answer(done, apply_replies_);
    return;
  }
  recent_reply_count_ += apply_replies_.size();
  recent_replies_.emplace_back(e.index, std::move(apply_replies_));
  apply_replies_ = {};
  while (recent_reply_count_ > kRecentReplies && recent_replies_.size() > 1) {
    recent_reply_count_ -= recent_replies_.front().second.size();
    recent_replies_.pop_front();
  }
}

void Replica::serve_reads() {
  for (auto it = reads_.begin(); it != reads_.end();) {
    PendingRead& r = it->second;
    if (r.index.value() == 0 || r.index > applied_) {
      ++it;
      continue;
    }
    std::vector<std::string_view> views(r.args.begin(), r.args.end());
    kv::RecordedReply reply;
    sm_->read(*r.spec, views, clock_.now_ms(), next_read_context_ * 0x9E3779B97F4A7C15ull, reply);
    ReplyCallback done = std::move(r.done);
    it = reads_.erase(it);
    // Keys this read found expired are deleted before it is answered, as
    // Redis deletes them on access: the client's next command (DBSIZE, say)
    // then sees them gone. The leader decides and proposes the deletes.
    auto seen = sm_->store().take_expired_seen();
    if (seen.empty() || !is_leader()) {
      done(Status::ok(), reply);
      continue;
    }
    auto waiting = std::make_shared<size_t>(0);
    auto finish = std::make_shared<std::function<void()>>(
        [done = std::move(done), reply = std::move(reply)]() { done(Status::ok(), reply); });
    ++*waiting;  // held until every delete was proposed
    for (const auto& key : seen) {
      auto at = stored_expiry(key);
      if (!at) continue;
      ++*waiting;
      propose_expiry(key, *at, [waiting, finish] {
        if (--*waiting == 0) (*finish)();
      });
    }
    if (--*waiting == 0) (*finish)();
  }
}

std::optional<int64_t> Replica::stored_expiry(const std::string& key) const {
  auto bytes = sm_->store().engine().get(key);
  if (!bytes) return std::nullopt;
  auto rec = kv::decode_record(*bytes);
  if (!rec || !rec->has_expiry()) return std::nullopt;
  return rec->expire_at_ms;
}

void Replica::maybe_compact() {
  // A snapshot serializes the whole state: taking one every N writes costs
  // O(state) per N writes. Waiting for at least as many writes as there were
  // keys in the last snapshot keeps it O(1) per write (it was a third of the
  // write path's CPU with 100k keys and N = 10,000). The last snapshot's
  // size, not the current one: with only inserts, the writes since a
  // snapshot never catch up with the growing key count, and the log (kept in
  // memory) would grow without bound.
  // A durable state machine is not serialized here at all: its state at the
  // applied index is written in the same batch as the compaction, and it is
  // serialized only when a follower needs it (materialize_snapshot_for).
  // While the stored log is small next to what a snapshot costs (the size of
  // the last one serialized), free Raft's memory only (docs/durable-shards.md,
  // "Memory-only compactions"). Serializing here stopped the loop for ~16 ms
  // per 100k keys, about once per 100k writes. A memory-only compaction costs
  // O(entries dropped), so it needs no wait for the key count: it keeps
  // Raft's in-memory log at compact_after_writes.
  const bool memory_only =
      !durable_ && options_.snapshot_min_log_bytes > 0 &&
      log_bytes_since_stored_ <
          std::max<uint64_t>(options_.snapshot_min_log_bytes, sm_->snapshot_size_hint());
  uint64_t threshold = options_.compact_after_writes;
  if (!durable_ && !memory_only) threshold = std::max<uint64_t>(threshold, keys_at_snapshot_);
  if (child_snapshot_ || writes_since_snapshot_ < threshold) return;
  if (memory_only) {
    compact_memory_only();
    return;
  }
  if (!durable_ && options_.snapshot_in_child && !child_snapshots_broken_ &&
      sm_->store().size() >= options_.snapshot_in_child_min_keys && start_child_snapshot()) {
    return;
  }
  compact_at_applied(/*serialize=*/!durable_);
}

bool Replica::start_child_snapshot() {
  auto term = raft_->log().term(applied_);
  if (!term) return false;
  // The fork happens here, between two applied entries: the child's copy of
  // the state machine is exactly the state at applied_.
  int64_t t0 = clock_.monotonic_ns();
  auto child =
      ChildSnapshot::start([this] { return sm_->snapshot_data(); }, sm_->snapshot_size_hint());
  spdlog::debug("shard {}: snapshot child for index {} forked in {} us", shard_.value(),
                applied_.value(), (clock_.monotonic_ns() - t0) / 1000);
  if (!child) {
    spdlog::warn("shard {}: can't fork a snapshot child; serializing in-process", shard_.value());
    return false;
  }
  child_snapshot_ = std::move(child);
  child_meta_ = raft::SnapshotMeta{applied_, *term, raft_->conf()};
  restart_compaction_counters(/*stored_state=*/true);
  return true;
}

bool Replica::compact_memory_only() {
  // A stored compaction not staged yet keeps its place: moving snapshot_ on
  // would stage a snapshot with no data and drop the stored log under it
  // (helper review, session 10; no path reaches this today).
  if (pending_compaction_) return false;
  auto term = raft_->log().term(applied_);
  if (!term) return false;
  raft_->compact(applied_);
  if (raft_->log().first_index() <= applied_) return false;  // Raft declined
  // snapshot_ describes the state at the compaction point for Raft and for
  // followers (materialize_snapshot_for serializes it when one needs it);
  // the store keeps its older snapshot and every entry after it.
  snapshot_.meta = raft::SnapshotMeta{applied_, *term, raft_->conf()};
  std::string().swap(snapshot_.data);
  restart_compaction_counters(/*stored_state=*/false);
  ++memory_only_compactions_;
  return true;
}

void Replica::poll_child_snapshot() {
  if (!child_snapshot_) return;
  ChildSnapshot::State state = child_snapshot_->poll();
  if (state == ChildSnapshot::State::kRunning) return;
  if (state == ChildSnapshot::State::kFailed) {
    // Nothing was staged and the log is whole. Serialize here from now on:
    // whatever broke the child may break the next one too, and a log that
    // never compacts grows without bound.
    spdlog::warn(
        "shard {}: snapshot child failed ({}); compaction snapshots are serialized "
        "in-process from now on",
        shard_.value(), child_snapshot_->error());
    child_snapshot_.reset();
    child_snapshots_broken_ = true;
    ++child_snapshots_failed_;
    compact_at_applied(/*serialize=*/true);
    return;
  }
  std::string data = child_snapshot_->take_bytes();
  child_snapshot_.reset();
  ++child_snapshots_done_;
  LogIndex at = child_meta_.index;
  // Superseded meanwhile: by a leader's snapshot (which Raft may hold already,
  // before apply() sets snapshot_) or by one taken for a follower.
  if (at <= snapshot_.meta.index || at < raft_->log().first_index()) return;
  raft_->compact(at);
  if (raft_->log().first_index() <= at) return;  // Raft declined: keep the log
  sm_->set_snapshot_size_hint(data.size());
  snapshot_.meta = child_meta_;
  snapshot_.data = std::move(data);
  pending_compaction_ = true;
}

bool Replica::compact_at_applied(bool serialize) {
  auto term = raft_->log().term(applied_);
  if (!term) return false;
  raft_->compact(applied_);
  // Raft compacts only what is persisted and applied; if it declined, the
  // stored log must not be compacted either.
  if (raft_->log().first_index() <= applied_) return false;
  snapshot_.meta = raft::SnapshotMeta{applied_, *term, raft_->conf()};
  snapshot_.data = serialize ? sm_->snapshot_data() : std::string();
  restart_compaction_counters(/*stored_state=*/true);
  pending_compaction_ = true;
  return true;
}

void Replica::restart_compaction_counters(bool stored_state) {
  writes_since_snapshot_ = 0;
  keys_at_snapshot_ = sm_->store().size();
  if (stored_state) log_bytes_since_stored_ = 0;
}

void Replica::fail_all(const Status& why) {
  child_snapshot_.reset();  // nothing will be staged any more: stop the child
  Status unknown = Status::unknown_outcome(why.message());
  // Collected but never proposed: certainly not applied.
  std::vector<ReplyCallback> unproposed = std::move(batch_done_);
  batch_done_.clear();
  batch_.clear();
  answer_all(unproposed, Status::unavailable(why.message()));
  for (auto& [id, done] : proposed_) answer_all(done, unknown);
  for (auto& [i, done] : committed_) answer_all(done, unknown);
  for (auto& [c, r] : reads_) r.done(Status::unavailable(why.message()), {});
  proposed_.clear();
  committed_.clear();
  reads_.clear();
}

}  // namespace shoal::replica
