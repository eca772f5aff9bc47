// Linearizable reads: ReadIndex (thesis §6.4), batched per heartbeat round,
// leader leases (thesis §6.4.1) and follower ReadIndex.
#include "raft/quorum.h"
#include "raft/raft.h"

namespace shoal::raft {

bool Raft::lease_valid() const {
  // The lease rests on leader stickiness, which check-quorum provides; it is
  // void during a transfer, whose target campaigns with force (etcd-io/raft #99).
  bool stickiness = cfg_.check_quorum || cfg_.knobs.lease_without_check_quorum;
  return role_ == Role::kLeader && stickiness && cfg_.read_mode == ReadMode::kLease &&
         lead_transferee_.value() == 0 && committed_own_term() && ticks_ < lease_until_;
}

Status Raft::read_index(uint64_t context) {
  if (role_ != Role::kLeader) {
    if (lead_.value() == 0) return Status::unavailable("no known leader");
    // Follower ReadIndex: the leader answers with an index to wait for.
    send(Message{.type = MessageType::kReadIndex, .to = lead_, .context = context});
    return Status::ok();
  }
  if (!committed_own_term() && !cfg_.knobs.read_before_own_term_commit) {
    // Until an entry of its term commits, a new leader may not know the
    // latest commit index (H12, redisraft #18).
    return Status::unavailable("leader has not committed in its term yet");
  }
  handle_read_request(context, cfg_.id);
  return Status::ok();
}

void Raft::handle_read_request(uint64_t context, NodeId from) {
  bool can_serve = committed_own_term() || cfg_.knobs.read_before_own_term_commit;
  PendingRead r{context, from, log_.committed(), 0};
  if (!can_serve) {
    finish_read(r, false);
    return;
  }
  bool single = joint_value(conf_, [&](NodeId id) { return id == cfg_.id ? 1 : 0; }) >= 1;
  if (lease_valid() || single || cfg_.knobs.read_without_quorum_round) {
    finish_read(r, true);
    return;
  }
  reads_.add(r);
}

void Raft::finish_read(const PendingRead& r, bool ok) {
  if (r.from == cfg_.id) {
    read_states_.push_back({r.context, r.index, ok});
  } else {
    send(Message{.type = MessageType::kReadIndexResp,
                 .to = r.from,
                 .index = r.index,
                 .reject = !ok,
                 .context = r.context});
  }
}

void Raft::start_read_round() {
  // One extra heartbeat round serves every read that arrived since the last.
  broadcast_heartbeat();
}

void Raft::on_round_acked() {
  uint64_t q = joint_value(conf_, [&](NodeId id) -> uint64_t {
    if (id == cfg_.id) return round_;
    const Progress* p = pr(id);
    return p ? p->acked_round : 0;
  });
  if (q <= quorum_round_) return;
  quorum_round_ = q;
  reads_.release(q, [&](const PendingRead& r) { finish_read(r, true); });
  // The lease runs from when the round was *sent*: every follower that acked
  // heard from us after that moment and will not vote for another leader for
  // an election timeout (minus a margin for clock drift).
  if (auto sent = reads_.take_sent_tick(q)) {
    uint64_t until = *sent + cfg_.election_ticks - cfg_.lease_drift_ticks;
    lease_until_ = std::max(lease_until_, until);
  }
}

}  // namespace shoal::raft
