// Membership changes (Raft paper §6, thesis §4) and leadership transfer
// (thesis §3.10).
#include "base/assert.h"
#include "raft/raft.h"

namespace shoal::raft {

Result<ProposalId> Raft::propose_conf_change(const ConfChange& cc) {
  if (role_ != Role::kLeader) return Status::unavailable("not leader");
  // A new leader may hold uncommitted changes of earlier terms; proposing
  // before committing in its own term broke single-server changes (H14).
  if (!committed_own_term()) return Status::unavailable("no entry of this term committed yet");
  // One change at a time: the next one is validated against the applied config.
  if (pending_conf_index_ > log_.applied() && !cfg_.knobs.allow_concurrent_conf_changes) {
    return Status::busy("a configuration change is already pending");
  }
  Result<ConfState> next = apply_conf_change(conf_, cc);
  if (!next.is_ok()) return next.status();
  Result<ProposalId> id = append_proposal(EntryType::kConfChange, encode_conf_change(cc));
  if (id.is_ok()) pending_conf_index_ = log_.last_index();
  return id;
}

void Raft::apply_conf_entry(const Entry& e) {
  Result<ConfChange> cc = decode_conf_change(e.data);
  if (!cc.is_ok()) return;  // never valid: a no-op on every replica alike
  Result<ConfState> next = apply_conf_change(conf_, cc.value());
  if (!next.is_ok()) return;  // e.g. a stale leave: deterministic no-op everywhere
  conf_ = std::move(next).value();
  conf_history_.push_back({e.index, conf_});
  if (role_ != Role::kLeader) return;
  if (!is_voter(conf_, cfg_.id)) {
    // A removed leader steps down (etcd #11038); the rest elect a new one.
    become_follower(term_, NodeId(0));
    return;
  }
  rebuild_progress();
  if (lead_transferee_.value() != 0 && !contains(conf_.voters, lead_transferee_)) abort_transfer();
  if (maybe_commit()) {
  }
  broadcast_pending_ = true;
}

void Raft::maybe_auto_leave() {
  if (role_ != Role::kLeader || !is_joint(conf_) || !conf_.auto_leave) return;
  if (pending_conf_index_ > log_.applied()) return;
  Result<ProposalId> id = append_proposal(EntryType::kConfChange, encode_conf_change({}));
  if (id.is_ok()) {
    pending_conf_index_ = log_.last_index();
    // The library proposed it, so no client waits for this outcome.
    proposals_.pop_back();
  }
}

Status Raft::transfer_leadership(NodeId target) {
  if (role_ != Role::kLeader) return Status::unavailable("not leader");
  if (target == cfg_.id) return Status::invalid_argument("already leader");
  if (!contains(conf_.voters, target) || is_joint(conf_)) {
    return Status::invalid_argument("target is not a voter of a settled configuration");
  }
  if (pending_conf_index_ > log_.applied()) return Status::busy("configuration change pending");
  Progress* p = pr(target);
  if (!p) return Status::invalid_argument("unknown target");
  if (lead_transferee_ == target) return Status::ok();
  lead_transferee_ = target;
  // The transfer aborts after an election timeout (tick_heartbeat).
  election_elapsed_ = 0;
  if (p->match == log_.last_index()) {
    maybe_send_timeout_now(*p);
  } else {
    send_append(*p, false);
  }
  return Status::ok();
}

void Raft::abort_transfer() { lead_transferee_ = NodeId(0); }

void Raft::maybe_send_timeout_now(Progress& p) {
  // The target must hold our whole log, so it can win and loses nothing.
  if (lead_transferee_ != p.id || p.match != log_.last_index()) return;
  send(Message{.type = MessageType::kTimeoutNow, .to = p.id});
}

SnapshotMeta Raft::snapshot_meta_at(LogIndex index) const {
  SnapshotMeta meta{index, *log_.term(index), snapshot_meta_.conf};
  for (const auto& [i, cs] : conf_history_) {
    if (i <= index) meta.conf = cs;
  }
  return meta;
}

}  // namespace shoal::raft
