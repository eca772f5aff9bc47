#include "raft/log.h"

#include <algorithm>

#include "base/assert.h"

namespace shoal::raft {

void RaftLog::restore(LogIndex index, Term term) {
  snap_index_ = index;
  snap_term_ = term;
  entries_.clear();
  committed_ = applied_ = persisted_ = handed_persist_ = handed_apply_ = index;
}

void RaftLog::load(std::vector<Entry> stable, LogIndex committed, LogIndex applied) {
  for (auto& e : stable) {
    SHOAL_ASSERT(e.index == last_index().next());
    entries_.push_back(std::move(e));
  }
  persisted_ = handed_persist_ = last_index();
  committed_ = std::clamp(committed, snap_index_, last_index());
  applied_ = handed_apply_ = std::clamp(applied, snap_index_, committed_);
}

std::optional<Term> RaftLog::term(LogIndex i) const {
  if (i == snap_index_) return snap_term_;
  if (i < snap_index_ || i > last_index()) return std::nullopt;
  return entries_[i.value() - snap_index_.value() - 1].term;
}

bool RaftLog::match_term(LogIndex i, Term t) const {
  auto got = term(i);
  return got && *got == t;
}

bool RaftLog::is_up_to_date(LogIndex last, Term last_term) const {
  Term mine = this->last_term();
  return last_term > mine || (last_term == mine && last >= last_index());
}

const Entry& RaftLog::at(LogIndex i) const {
  SHOAL_ASSERT(i > snap_index_ && i <= last_index());
  return entries_[i.value() - snap_index_.value() - 1];
}

void RaftLog::append(Entry&& e) {
  SHOAL_ASSERT(e.index == last_index().next());
  entries_.push_back(std::move(e));
}

void RaftLog::truncate_from(LogIndex i) {
  SHOAL_ASSERT_MSG(i > committed_, "truncating a committed entry");
  entries_.resize(i.value() - snap_index_.value() - 1);
  LogIndex last = last_index();
  handed_persist_ = std::min(handed_persist_, last);
  persisted_ = std::min(persisted_, last);
}

std::optional<LogIndex> RaftLog::maybe_append(LogIndex prev, Term prev_term,
                                              std::vector<Entry>&& ents) {
  if (!match_term(prev, prev_term)) {
    // Entries at or below the compaction point are committed, hence equal.
    if (prev >= snap_index_ || ents.empty()) return std::nullopt;
  }
  LogIndex last_new(prev.value() + ents.size());
  for (auto& e : ents) {
    if (e.index <= snap_index_) continue;  // already covered by our snapshot
    if (e.index <= last_index()) {
      if (term(e.index) == e.term) continue;
      truncate_from(e.index);
    }
    SHOAL_ASSERT(e.index == last_index().next());
    entries_.push_back(std::move(e));
  }
  return last_new;
}

std::pair<LogIndex, Term> RaftLog::find_conflict_by_term(LogIndex index, Term t) const {
  LogIndex i = std::min(index, last_index());
  while (i > snap_index_) {
    Term ti = *term(i);
    if (ti <= t) return {i, ti};
    i = i.prev();
  }
  return {snap_index_, snap_term_};
}

size_t RaftLog::slice(LogIndex lo, LogIndex hi, size_t max_bytes, std::vector<Entry>& out) const {
  SHOAL_ASSERT(lo > snap_index_);
  size_t bytes = 0;
  for (LogIndex i = lo; i <= hi; i = i.next()) {
    const Entry& e = at(i);
    size_t b = entry_bytes(e);
    if (i != lo && bytes + b > max_bytes) break;
    bytes += b;
    out.push_back(e);
  }
  return bytes;
}

void RaftLog::commit_to(LogIndex i) {
  if (i <= committed_) return;  // the commit index never decreases
  SHOAL_ASSERT(i <= last_index());
  committed_ = i;
}

void RaftLog::applied_to(LogIndex i) {
  if (i <= applied_) return;
  SHOAL_ASSERT(i <= committed_);
  applied_ = i;
  handed_apply_ = std::max(handed_apply_, i);
}

void RaftLog::persisted_to(LogIndex i) {
  if (i <= persisted_) return;
  persisted_ = std::min(i, last_index());
  handed_persist_ = std::max(handed_persist_, persisted_);
}

void RaftLog::compact(LogIndex i) {
  if (i <= snap_index_) return;
  SHOAL_ASSERT(i <= applied_ && i <= persisted_);
  Term t = *term(i);
  entries_.erase(entries_.begin(), entries_.begin() + (i.value() - snap_index_.value()));
  snap_index_ = i;
  snap_term_ = t;
}

}  // namespace shoal::raft
