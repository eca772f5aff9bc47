#include "replica/host.h"

#include <spdlog/spdlog.h>

namespace shoal::replica {

Host::Host(NodeId node, LogStore& store, Transport& transport, env::Clock& clock,
           HostOptions options)
    : node_(node), store_(store), transport_(transport), clock_(clock), options_(options) {}

Status Host::add_replica(ShardId shard, ReplicaOptions options,
                         std::optional<std::vector<NodeId>> bootstrap_voters,
                         std::unique_ptr<storage::Engine> engine,
                         std::unique_ptr<storage::Engine> sessions) {
  if (replicas_.count(shard)) return Status::invalid_argument("replica already open");
  options.raft.id = node_;
  // Distinct election-timeout randomness per node and group, or replicas that
  // start together would time out together and split votes forever.
  options.raft.seed ^= node_.value() * 0x9E3779B97F4A7C15ull + shard.value();
  auto r = Replica::open(shard, options, store_, clock_, std::move(bootstrap_voters),
                         std::move(engine), std::move(sessions));
  if (!r.is_ok()) return r.status();
  if (auto applied = r.value()->take_applied_to_stage()) store_.stage_applied(shard, *applied);
  replicas_.emplace(shard, std::move(r).value());
  return Status::ok();
}

Replica* Host::replica(ShardId shard) {
  auto it = replicas_.find(shard);
  return it == replicas_.end() ? nullptr : it->second.get();
}

void Host::remove_replica(ShardId shard) {
  auto it = replicas_.find(shard);
  if (it == replicas_.end()) return;
  it->second->fail_all(Status::unavailable("replica removed"));
  replicas_.erase(it);
}

void Host::tick() {
  if (failed()) return;
  for (auto& [id, r] : replicas_) r->raft().tick();
}

bool Host::step(ShardId shard, raft::Message msg) {
  if (failed()) return false;
  Replica* r = replica(shard);
  if (!r) return false;
  if (msg.type == raft::MessageType::kSnap) {
    // Verified here, before Raft accepts it: once Raft has, the snapshot
    // replaces the log and cannot be refused anymore.
    if (Status s = kv::StateMachine::check_snapshot(msg.snapshot.data); !s.is_ok()) {
      ++bad_snapshots_;
      spdlog::warn("node {} shard {}: dropped a snapshot from node {}: {}", node_.value(),
                   shard.value(), msg.from.value(), s.message());
      return false;
    }
  }
  if (Status s = r->raft().step(std::move(msg)); !s.is_ok()) {
    spdlog::debug("node {} shard {}: dropped message: {}", node_.value(), shard.value(),
                  s.message());
    return false;
  }
  return true;
}

void Host::report_snapshot(ShardId shard, NodeId to, bool ok) {
  if (failed()) return;
  if (Replica* r = replica(shard)) r->raft().report_snapshot(to, ok);
}

Status Host::run_once() {
  if (failed()) {
    // Raft may still take proposals and reads (it thinks it leads); answer
    // them rather than leave clients waiting forever (DESIGN.md section 5).
    for (auto& [id, r] : replicas_) r->fail_all(failure_);
    return failure_;
  }
  Readies readies;
  auto batch = store_.new_batch();
  bool needs_sync = false;
  // Pipelined: while a batch that changed a term or vote waits for its sync,
  // later messages wait too. Raft sends a leader's appends at once because
  // its term was durable before it could win - not so for a single voter
  // that wins alone, whose unsynced term a power loss can take back (then
  // it wins that term again and proposes different entries at the same
  // indexes: a learner holding the first ones would diverge).
  bool hold = options_.defer_sync && term_vote_ticket_ > synced_;
  bool changes_term_or_vote = false;
  for (auto& [id, r] : replicas_) {
    r->poll_child_snapshot();
    if (!r->has_ready()) continue;
    raft::Ready rd = r->take_ready();
    if (hold)
      r->hold_messages(rd);
    else
      r->send_now(rd, transport_);
    changes_term_or_vote |= r->changes_term_or_vote(rd);
    needs_sync |= r->stage(rd, *batch);
    readies.emplace_back(id, std::move(rd));
  }
  if (readies.empty()) return Status::ok();
  bool sync_here = options_.sync && needs_sync && !options_.defer_sync;
  if (!batch->empty()) {
    // A durable state machine's applied index (staged by the previous
    // apply) is written with this batch; its commit index goes with it, so
    // that a stored commit index never falls below a stored applied index.
    for (auto& [id, r] : replicas_) {
      if (r->durable_state()) r->stage_held_hard_state(*batch);
    }
    if (Status s = store_.commit(*batch, sync_here); !s.is_ok()) {
      spdlog::error("node {}: raft log write failed, refusing further writes: {}", node_.value(),
                    s.message());
      return fail(s);
    }
    ++batches_;
  }
  if (options_.sync && needs_sync && options_.defer_sync) ++written_;
  if (options_.defer_sync && changes_term_or_vote) term_vote_ticket_ = written_;
  if (written_ == synced_) {  // nothing waits for a sync: as a synchronous host
    for (auto& [shard, rd] : readies) {
      if (Replica* r = replica(shard)) r->after_persist(rd, transport_);
      apply(shard, rd);
    }
    return Status::ok();
  }
  // Behind a sync. Committed entries are durable on a quorum already (a
  // leader counts itself only once its own copy is synced), so they are
  // applied and answered now; what depends on this batch's own durability
  // (persistence acks, votes, append responses) waits for the sync, in order.
  for (auto& [shard, rd] : readies) apply(shard, rd);
  awaiting_.emplace_back(written_, std::move(readies));
  return Status::ok();
}

void Host::apply(ShardId shard, raft::Ready& rd) {
  Replica* r = replica(shard);
  if (!r) return;  // removed meanwhile
  r->apply(rd);
  // A durable state machine staged its writes into the store's next batch;
  // the applied index they reach goes into the same batch.
  if (auto applied = r->take_applied_to_stage()) store_.stage_applied(shard, *applied);
}

Status Host::on_synced(uint64_t ticket, const Status& status) {
  if (failed()) return failure_;
  if (!status.is_ok()) {
    spdlog::error("node {}: raft log sync failed, refusing further writes: {}", node_.value(),
                  status.message());
    return fail(status);
  }
  synced_ = std::max(synced_, ticket);
  while (!awaiting_.empty() && awaiting_.front().first <= synced_) {
    Readies readies = std::move(awaiting_.front().second);
    awaiting_.pop_front();
    for (auto& [shard, rd] : readies) {
      if (Replica* r = replica(shard)) r->after_persist(rd, transport_);
    }
  }
  return Status::ok();
}

// Nothing of this batch or of any batch awaiting a sync may be acknowledged;
// the host stops (H16).
Status Host::fail(const Status& s) {
  failure_ = s;
  awaiting_.clear();
  for (auto& [id, r] : replicas_) r->fail_all(s);
  return s;
}

}  // namespace shoal::replica
