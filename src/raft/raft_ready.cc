// Proposals, their outcomes (H18), and the Ready/advance cycle.
#include <algorithm>

#include "base/assert.h"
#include "raft/raft.h"

namespace shoal::raft {

Result<ProposalId> Raft::append_proposal(EntryType type, std::string data) {
  if (role_ != Role::kLeader) return Status::unavailable("not leader");
  if (lead_transferee_.value() != 0) return Status::unavailable("leadership transfer in progress");
  size_t bytes = data.size();
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + bytes > cfg_.max_uncommitted_bytes) {
    return Status::busy("too many uncommitted bytes");
  }
  if (proposals_.size() >= cfg_.max_tracked_proposals) {
    return Status::busy("too many proposals in flight");
  }
  LogIndex index = log_.last_index().next();
  log_.append(Entry{term_, index, type, std::move(data)});
  uncommitted_bytes_ += bytes;
  ProposalId id = next_proposal_id_++;
  proposals_.push_back({id, index, term_, bytes});
  if (cfg_.knobs.count_self_before_persist) {
    if (Progress* self = pr(cfg_.id)) self->maybe_update(index);
  }
  broadcast_pending_ = true;
  return id;
}

Result<ProposalId> Raft::propose(std::string data) {
  return append_proposal(EntryType::kNormal, std::move(data));
}

// Settles tracked proposals the commit index now decides: the entry at a
// committed index never changes, so a different term there is a definite
// rejection (a mere overwrite is not: Figure 8 can bring an entry back).
void Raft::resolve_proposals() {
  while (!proposals_.empty() && proposals_.front().index <= log_.committed()) {
    const Tracked& t = proposals_.front();
    std::optional<Term> got = log_.term(t.index);
    OutcomeKind kind = !got             ? OutcomeKind::kUnknown
                       : *got == t.term ? OutcomeKind::kCommitted
                                        : OutcomeKind::kRejected;
    if (role_ == Role::kLeader && t.term == term_) {
      uncommitted_bytes_ -= std::min(uncommitted_bytes_, t.bytes);
    }
    outcomes_.push_back({t.id, kind, t.index});
    proposals_.pop_front();
  }
}

void Raft::expire_proposals(bool all) {
  resolve_proposals();
  while (!proposals_.empty() && (all || proposals_.size() > cfg_.max_tracked_proposals)) {
    outcomes_.push_back({proposals_.front().id, OutcomeKind::kUnknown, proposals_.front().index});
    proposals_.pop_front();
  }
}

bool Raft::has_ready() const {
  LogIndex apply_hi = std::min(log_.committed(), log_.persisted());
  return !msgs_.empty() || !msgs_after_.empty() || hard_state() != prev_hs_ ||
         log_.handed_persist() < log_.last_index() || pending_install_.has_value() ||
         log_.handed_apply() < apply_hi || !read_states_.empty() || !outcomes_.empty() ||
         broadcast_pending_ || reads_.has_unassigned() ||
         (!proposals_.empty() && proposals_.front().index <= log_.committed());
}

Ready Raft::ready() {
  if (role_ == Role::kLeader) {
    if (broadcast_pending_) broadcast_append();
    if (reads_.has_unassigned()) start_read_round();
  }
  broadcast_pending_ = false;
  resolve_proposals();
  Ready rd;
  HardState hs = hard_state();
  if (hs != prev_hs_) {
    rd.hard_state = hs;
    prev_hs_ = hs;
  }
  if (pending_install_) {
    rd.snapshot = std::move(pending_install_);
    pending_install_.reset();
    rd.persist_term = rd.snapshot->meta.term;
    rd.persist_index = rd.snapshot->meta.index;
    rd.apply_index = rd.snapshot->meta.index;
  }
  if (log_.handed_persist() < log_.last_index()) {
    LogIndex lo = log_.handed_persist().next();
    log_.slice(lo, log_.last_index(), SIZE_MAX, rd.entries);
    log_.set_handed_persist(log_.last_index());
    rd.persist_term = rd.entries.back().term;
    rd.persist_index = rd.entries.back().index;
  }
  // Apply only what is committed *and* durable here, so the applied index
  // persisted by the host never runs ahead of the local log.
  LogIndex apply_hi = std::min(log_.committed(), log_.persisted());
  if (log_.handed_apply() < apply_hi) {
    log_.slice(log_.handed_apply().next(), apply_hi, cfg_.max_apply_bytes, rd.committed_entries);
    log_.set_handed_apply(rd.committed_entries.back().index);
    rd.apply_index = rd.committed_entries.back().index;
  }
  rd.messages = std::move(msgs_);
  rd.messages_after_persist = std::move(msgs_after_);
  rd.read_states = std::move(read_states_);
  rd.outcomes = std::move(outcomes_);
  msgs_.clear();
  msgs_after_.clear();
  read_states_.clear();
  outcomes_.clear();
  return rd;
}

void Raft::on_persisted(Term term, LogIndex index) {
  // A stale ack names an entry that has since been overwritten: counting it
  // would claim durability of the replacement (etcd's append ABA race).
  if (!cfg_.knobs.accept_stale_persist_acks && !log_.match_term(index, term)) return;
  if (index > log_.handed_persist()) return;
  log_.persisted_to(index);
  if (role_ == Role::kLeader) {
    Progress* self = pr(cfg_.id);
    if (self && self->maybe_update(log_.persisted()) && maybe_commit()) broadcast_pending_ = true;
  }
}

void Raft::on_applied(LogIndex index) {
  index = std::min(index, log_.committed());
  for (LogIndex i = log_.applied().next(); i <= index; i = i.next()) {
    if (i > log_.snap_index() && log_.at(i).type == EntryType::kConfChange) {
      log_.applied_to(i.prev());
      apply_conf_entry(log_.at(i));
    }
  }
  log_.applied_to(index);
  maybe_auto_leave();
}

void Raft::advance(const Ready& rd) {
  if (rd.persist_index.value() != 0) on_persisted(rd.persist_term, rd.persist_index);
  if (rd.apply_index.value() != 0) on_applied(rd.apply_index);
}

}  // namespace shoal::raft
