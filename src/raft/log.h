// RaftLog: the in-memory log of one replica, from its last snapshot (or
// compaction point) to its last entry, with the host-facing cursors.
//
// Invariants (checked by SHOAL_ASSERT):
//   snap_index <= applied <= committed <= last_index
//   persisted <= handed_persist <= last_index   (entries are durable in order)
//   applied <= handed_apply <= committed
// The host persists a suffix of the log handed out in a Ready and acknowledges
// it with (term, index); the library keeps every entry after the compaction
// point in memory, so the host decides memory use by compacting (§7).
#pragma once

#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "raft/types.h"

namespace shoal::raft {

class RaftLog {
 public:
  // Resets the log to an empty suffix after `meta` (install or bootstrap).
  void restore(LogIndex index, Term term);
  // Loads entries already durable at start-up (all count as persisted).
  void load(std::vector<Entry> stable, LogIndex committed, LogIndex applied);

  LogIndex first_index() const { return snap_index_.next(); }
  LogIndex last_index() const { return LogIndex(snap_index_.value() + entries_.size()); }
  Term last_term() const { return entries_.empty() ? snap_term_ : entries_.back().term; }
  LogIndex snap_index() const { return snap_index_; }
  Term snap_term() const { return snap_term_; }
  // Term of entry i; nullopt if compacted away or beyond the end.
  std::optional<Term> term(LogIndex i) const;
  bool match_term(LogIndex i, Term t) const;
  // §5.4.1: is a log ending at (last_term, last) at least as up to date as ours?
  bool is_up_to_date(LogIndex last, Term last_term) const;
  const Entry& at(LogIndex i) const;

  // Leader side: appends one entry at last_index()+1.
  void append(Entry&& e);
  // Follower side (§5.3): if (prev, prev_term) matches, appends `ents`,
  // truncating a conflicting tail, and returns the index of the last entry
  // the message vouches for. Returns nullopt on a mismatch. Never truncates
  // a committed entry (asserted: that would be a safety violation).
  std::optional<LogIndex> maybe_append(LogIndex prev, Term prev_term, std::vector<Entry>&& ents);
  // Fast backtracking hint: the largest index <= `index` whose term <= `term`.
  std::pair<LogIndex, Term> find_conflict_by_term(LogIndex index, Term term) const;

  // Copies entries [lo, hi] into `out`, stopping after max_bytes (always at
  // least one entry). Requires first_index() <= lo.
  size_t slice(LogIndex lo, LogIndex hi, size_t max_bytes, std::vector<Entry>& out) const;

  void commit_to(LogIndex i);
  void applied_to(LogIndex i);
  // The host confirmed entries up to i are durable (and still ours).
  void persisted_to(LogIndex i);
  // Drops entries <= i; requires i <= applied.
  void compact(LogIndex i);

  LogIndex committed() const { return committed_; }
  LogIndex applied() const { return applied_; }
  LogIndex persisted() const { return persisted_; }
  LogIndex handed_persist() const { return handed_persist_; }
  void set_handed_persist(LogIndex i) { handed_persist_ = i; }
  LogIndex handed_apply() const { return handed_apply_; }
  void set_handed_apply(LogIndex i) { handed_apply_ = i; }

 private:
  void truncate_from(LogIndex i);

  LogIndex snap_index_;
  Term snap_term_;
  std::deque<Entry> entries_;  // entries_[k].index == snap_index_ + 1 + k
  LogIndex committed_;
  LogIndex applied_;
  LogIndex persisted_;
  LogIndex handed_persist_;
  LogIndex handed_apply_;
};

}  // namespace shoal::raft
