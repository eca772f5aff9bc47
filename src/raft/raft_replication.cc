// Log replication (Raft paper §5.3), commitment (§5.4.2) and snapshots (§7).
#include <algorithm>

#include "base/assert.h"
#include "raft/quorum.h"
#include "raft/raft.h"

namespace shoal::raft {

Progress* Raft::pr(NodeId id) {
  auto it = std::lower_bound(prs_.begin(), prs_.end(), id,
                             [](const Progress& p, NodeId v) { return p.id < v; });
  return it != prs_.end() && it->id == id ? &*it : nullptr;
}

const Progress* Raft::progress(NodeId id) const { return const_cast<Raft*>(this)->pr(id); }

// Keeps the progress of members that stay, adds new members in probe state.
void Raft::rebuild_progress() {
  std::vector<Progress> next;
  for (NodeId id : all_members(conf_)) {
    if (Progress* p = pr(id)) {
      next.push_back(std::move(*p));
      continue;
    }
    next.emplace_back(id, log_.last_index().next(), cfg_.max_inflight_msgs,
                      cfg_.max_inflight_bytes);
    if (id == cfg_.id) {
      next.back().match = log_.persisted();
      next.back().become_replicate();
    }
  }
  prs_ = std::move(next);
}

bool Raft::committed_own_term() const { return log_.term(log_.committed()) == term_; }

void Raft::send_snapshot(Progress& p) {
  Message m{.type = MessageType::kSnap, .to = p.id};
  m.snapshot.meta = snapshot_meta_;
  p.become_snapshot(snapshot_meta_.index);
  send(std::move(m));
}

// Sends entries from p.next (or an empty append carrying the commit index).
// Returns false if nothing was sent.
bool Raft::send_append(Progress& p, bool send_if_empty) {
  if (p.is_paused()) return false;
  LogIndex prev = p.next.prev();
  std::optional<Term> prev_term = log_.term(prev);
  if (!prev_term) {
    send_snapshot(p);  // the follower needs entries we compacted away
    return true;
  }
  Message m{.type = MessageType::kApp, .to = p.id, .log_term = *prev_term, .index = prev};
  size_t bytes = 0;
  if (p.next <= log_.last_index()) {
    // In probe state send one entry: the probe is likely to be rejected.
    LogIndex hi = p.state == ProgressState::kProbe ? p.next : log_.last_index();
    bytes = log_.slice(p.next, hi, cfg_.max_msg_bytes, m.entries);
  } else if (!send_if_empty) {
    return false;
  }
  m.commit = log_.committed();
  size_t n = m.entries.size();
  LogIndex last = n ? m.entries.back().index : prev;
  send(std::move(m));
  p.sent_entries(last, bytes, n);
  return true;
}

void Raft::broadcast_append() {
  for (auto& p : prs_) {
    if (p.id == cfg_.id) continue;
    // Fill the pipeline up to the inflight bounds; at least tell the commit.
    bool sent = send_append(p, true);
    while (sent && p.state == ProgressState::kReplicate && p.next <= log_.last_index()) {
      sent = send_append(p, false);
    }
  }
}

void Raft::broadcast_heartbeat() {
  ++round_;
  reads_.assign(round_);
  reads_.round_sent(round_, ticks_);
  for (auto& p : prs_) {
    if (p.id == cfg_.id) continue;
    // Never tell a follower a commit index beyond what it is known to hold.
    send(Message{.type = MessageType::kHeartbeat,
                 .to = p.id,
                 .commit = std::min(p.match, log_.committed()),
                 .seq = round_});
  }
  if (joint_value(conf_, [&](NodeId id) { return id == cfg_.id ? round_ : 0; }) >= round_) {
    on_round_acked();  // a single-voter group needs nobody else
  }
}

void Raft::handle_append(Message& m) {
  Message resp{.type = MessageType::kAppResp, .to = m.from};
  if (m.index < log_.committed()) {
    resp.index = log_.committed();  // we already hold everything up to it
    send(std::move(resp));
    return;
  }
  for (size_t i = 0; i < m.entries.size(); ++i) {
    if (m.entries[i].index.value() != m.index.value() + 1 + i) return;  // malformed
  }
  LogIndex commit = m.commit;
  if (auto last = log_.maybe_append(m.index, m.log_term, std::move(m.entries))) {
    log_.commit_to(std::min(commit, *last));
    resp.index = *last;
  } else {
    // Fast backtracking (§5.3): hint the largest index whose term is <= the
    // leader's term at m.index, so the leader skips a whole term at once.
    auto [hint, hint_term] = log_.find_conflict_by_term(m.index, m.log_term);
    resp.index = m.index;
    resp.reject = true;
    resp.reject_hint = hint;
    resp.hint_term = hint_term;
  }
  send(std::move(resp));
}

void Raft::handle_heartbeat(const Message& m) {
  log_.commit_to(std::min(m.commit, log_.last_index()));
  send(Message{.type = MessageType::kHeartbeatResp, .to = m.from, .seq = m.seq});
}

void Raft::handle_snapshot(Message& m) {
  const SnapshotMeta& meta = m.snapshot.meta;
  Message resp{.type = MessageType::kAppResp, .to = m.from};
  if (meta.index <= log_.committed()) {
    resp.index = log_.committed();
  } else if (log_.match_term(meta.index, meta.term)) {
    // We already hold the snapshot's entries: just learn they are committed.
    log_.commit_to(meta.index);
    resp.index = log_.last_index();
  } else {
    log_.restore(meta.index, meta.term);
    snapshot_meta_ = meta;
    conf_ = meta.conf;
    conf_history_.clear();
    pending_install_ = std::move(m.snapshot);
    resp.index = meta.index;
  }
  send(std::move(resp));
}

void Raft::handle_append_response(const Message& m) {
  Progress* p = pr(m.from);
  if (!p) return;
  p->recent_active = true;
  if (m.reject) {
    LogIndex next_probe = m.reject_hint;
    if (m.hint_term.value() > 0) {
      next_probe = log_.find_conflict_by_term(m.reject_hint, m.hint_term).first;
    }
    if (p->maybe_decrease_to(m.index, next_probe)) {
      if (p->state == ProgressState::kReplicate) p->become_probe();
      send_append(*p, false);
    }
    return;
  }
  bool was_paused = p->is_paused();
  if (!p->maybe_update(m.index)) {
    if (was_paused && !p->is_paused()) send_append(*p, false);
    return;
  }
  if (p->state == ProgressState::kProbe) {
    p->become_replicate();
  } else if (p->state == ProgressState::kSnapshot && p->match >= p->pending_snapshot) {
    p->become_probe();
    p->become_replicate();
  }
  if (maybe_commit()) {
    broadcast_pending_ = true;
  } else {
    while (p->next <= log_.last_index() && send_append(*p, false)) {
    }
  }
  if (m.from == lead_transferee_) maybe_send_timeout_now(*p);
}

void Raft::handle_heartbeat_response(const Message& m) {
  Progress* p = pr(m.from);
  if (!p) return;
  p->recent_active = true;
  p->probe_sent = false;
  if (p->state == ProgressState::kReplicate && p->inflights.full()) p->inflights.free_first_one();
  // An empty append at `next` surfaces lost appends: the follower rejects it
  // and the leader falls back to probing.
  if (p->match < log_.last_index()) send_append(*p, true);
  if (m.seq > p->acked_round) {
    p->acked_round = m.seq;
    on_round_acked();
  }
  if (m.from == lead_transferee_) maybe_send_timeout_now(*p);
}

bool Raft::maybe_commit() {
  uint64_t q = joint_value(conf_, [&](NodeId id) {
    const Progress* p = pr(id);
    return p ? p->match.value() : 0;
  });
  LogIndex idx(q);
  if (idx <= log_.committed()) return false;
  // §5.4.2: only an entry of the current term is committed by counting
  // replicas; earlier entries are committed indirectly (Figure 8).
  if (log_.term(idx) != term_ && !cfg_.knobs.commit_prior_term_entries) return false;
  log_.commit_to(idx);
  return true;
}

void Raft::compact(LogIndex index) {
  // Only what is applied (hence durable here) may be dropped; anything else
  // is a host bug, ignored rather than trusted.
  if (index <= log_.snap_index() || index > log_.applied() || index > log_.persisted()) return;
  snapshot_meta_ = snapshot_meta_at(index);
  log_.compact(index);
  while (!conf_history_.empty() && conf_history_.front().first <= index) conf_history_.pop_front();
}

void Raft::report_snapshot(NodeId to, bool ok) {
  Progress* p = pr(to);
  if (role_ != Role::kLeader || !p || p->state != ProgressState::kSnapshot) return;
  // On failure the snapshot is forgotten; on success the follower holds it.
  if (!ok) p->pending_snapshot = LogIndex(0);
  p->become_probe();
  // Wait for the follower's ack before sending more (it paces snapshots).
  p->probe_sent = true;
}

}  // namespace shoal::raft
