#include "raft/progress.h"

#include <algorithm>

#include "base/assert.h"

namespace shoal::raft {

void Inflights::add(LogIndex last, size_t bytes) {
  if (ring_.size() < max_msgs_) ring_.resize(max_msgs_);
  SHOAL_ASSERT(count_ < max_msgs_);
  ring_[(start_ + count_) % ring_.size()] = {last, bytes};
  ++count_;
  bytes_ += bytes;
}

void Inflights::free_le(LogIndex index) {
  while (count_ > 0 && ring_[start_].last <= index) {
    bytes_ -= ring_[start_].bytes;
    start_ = (start_ + 1) % ring_.size();
    --count_;
  }
  if (count_ == 0) start_ = 0;
}

void Inflights::free_first_one() {
  if (count_ > 0) free_le(ring_[start_].last);
}

void Inflights::reset() { start_ = count_ = bytes_ = 0; }

const char* to_string(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "?";
}

void Progress::become_probe() {
  // After a snapshot the follower has at least the snapshot's entries.
  if (state == ProgressState::kSnapshot) {
    next = LogIndex(std::max(match.value(), pending_snapshot.value()) + 1);
  } else {
    next = match.next();
  }
  state = ProgressState::kProbe;
  probe_sent = false;
  pending_snapshot = LogIndex(0);
  inflights.reset();
}

void Progress::become_replicate() {
  state = ProgressState::kReplicate;
  next = match.next();
  probe_sent = false;
  pending_snapshot = LogIndex(0);
  inflights.reset();
}

void Progress::become_snapshot(LogIndex snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.reset();
}

bool Progress::maybe_update(LogIndex n) {
  bool updated = false;
  if (n > match) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n.next());
  if (state == ProgressState::kReplicate) inflights.free_le(n);
  return updated;
}

bool Progress::maybe_decrease_to(LogIndex rejected, LogIndex matched_hint) {
  if (state == ProgressState::kReplicate) {
    // Stale rejection: we already know the follower matches beyond it.
    if (rejected <= match) return false;
    next = LogIndex(std::max(match.value(), matched_hint.value()) + 1);
    return true;
  }
  // In probe state only the outstanding probe (at next-1) can be rejected.
  if (next.prev() != rejected) return false;
  LogIndex want(std::max(std::min(rejected.value(), matched_hint.value() + 1), match.value() + 1));
  probe_sent = false;
  // A follower that rejects below its acknowledged match has lost durable
  // state (a broken host). Re-probing at once would ping-pong forever; the
  // next heartbeat response retries instead.
  if (want == next) return false;
  next = want;
  return true;
}

void Progress::sent_entries(LogIndex last, size_t bytes, size_t count) {
  if (state == ProgressState::kReplicate) {
    if (count > 0) {
      next = last.next();
      inflights.add(last, bytes);
    }
  } else if (state == ProgressState::kProbe) {
    probe_sent = true;
  }
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

}  // namespace shoal::raft
