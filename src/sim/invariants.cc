// Safety invariants checked after every event, and the final history check.
//
//   election safety    at most one leader per term
//   log matching       one entry per (index, term), cluster-wide
//   leader completeness a new leader holds every entry committed so far
//   commit durability  a committed entry never changes; commit never decreases
//   state machine      every node applies the same entry (and state) per index
#include <cstdio>
#include <map>

#include "sim/cluster.h"

namespace shoal::sim {

namespace {
uint64_t hash_of(const Entry& e) {
  return mix(hash_bytes(e.data.data(), e.data.size()), static_cast<uint64_t>(e.type));
}
std::string n_str(NodeId id) { return "n" + std::to_string(id.value()); }
}  // namespace

void SimCluster::fail(std::string what) {
  if (stopped_) return;
  stopped_ = true;
  violation_ = "t=" + std::to_string(now_) + "ms: " + what;
}

void SimCluster::check_entries(SimNode& n, const std::vector<Entry>& es) {
  for (const Entry& e : es) {
    auto key = std::make_pair(e.index.value(), e.term.value());
    uint64_t h = hash_of(e);
    auto [it, fresh] = entry_at_.emplace(key, h);
    if (!fresh && it->second != h) {
      fail("log matching: two different entries at index " + std::to_string(key.first) + " term " +
           std::to_string(key.second) + " (" + n_str(n.id) + ")");
      return;
    }
  }
}

void SimCluster::check_applied(SimNode& n, const Entry& e) {
  uint64_t i = e.index.value();
  if (i >= committed_.size() || committed_[i].first.value() == 0) {
    // Applied before any node was seen committing it: record it now.
    if (committed_.size() <= i) committed_.resize(i + 1);
    committed_[i] = {e.term, hash_of(e)};
    return;
  }
  if (committed_[i].first != e.term || committed_[i].second != hash_of(e)) {
    fail("state machine safety: " + n_str(n.id) + " applied a different entry at index " +
         std::to_string(i));
  }
}

void SimCluster::check(SimNode& n) {
  const raft::Raft& r = *n.raft;
  const raft::RaftLog& log = r.log();
  // Commit never decreases within an incarnation, and committed entries
  // never change anywhere.
  if (log.committed() < n.commit_seen) {
    fail(n_str(n.id) + " commit index went backwards");
    return;
  }
  if (log.committed().value() > 10'000'000 || log.last_index().value() > 10'000'000) {
    fail(n_str(n.id) + " log ran away: commit " + std::to_string(log.committed().value()) +
         " last " + std::to_string(log.last_index().value()));
    return;
  }
  if (committed_.size() <= log.committed().value()) committed_.resize(log.committed().value() + 1);
  for (LogIndex i = std::max(n.commit_seen.next(), log.first_index()); i <= log.committed();
       i = i.next()) {
    const Entry& e = log.at(i);
    auto& slot = committed_[i.value()];
    if (slot.first.value() == 0) {
      slot = {e.term, hash_of(e)};
      ++stats_.commits;
    } else if (slot.first != e.term || slot.second != hash_of(e)) {
      fail("committed entry changed at index " + std::to_string(i.value()) + " on " + n_str(n.id) +
           " (term " + std::to_string(e.term.value()) + " vs " +
           std::to_string(slot.first.value()) + ")");
      return;
    }
  }
  n.commit_seen = log.committed();
  if (cfg_.verbose && (r.role() != n.last_role)) {
    std::printf("%8llu n%llu %s term %llu last %llu/%llu\n", (unsigned long long)now_,
                (unsigned long long)n.id.value(), raft::to_string(r.role()),
                (unsigned long long)r.term().value(), (unsigned long long)log.last_index().value(),
                (unsigned long long)log.last_term().value());
  }
  if (r.role() != raft::Role::kLeader) {
    n.last_role = r.role();
    return;
  }
  auto [it, fresh] = leader_of_term_.emplace(r.term().value(), n.id);
  if (!fresh && it->second != n.id) {
    fail("election safety: " + n_str(it->second) + " and " + n_str(n.id) + " both lead term " +
         std::to_string(r.term().value()));
    return;
  }
  if (fresh) check_new_leader(n);
  n.last_role = r.role();
}

// Leader completeness (§5.4): a new leader holds every entry committed so far.
void SimCluster::check_new_leader(SimNode& n) {
  const raft::Raft& r = *n.raft;
  const raft::RaftLog& log = r.log();
  ++stats_.elections;
  trace(5, n.id.value(), r.term().value());
  if (cfg_.verbose) {
    std::printf("%8llu n%llu leads term %llu\n", (unsigned long long)now_,
                (unsigned long long)n.id.value(), (unsigned long long)r.term().value());
  }
  // Leader completeness (§5.4): every entry committed so far is ours.
  for (uint64_t i = log.first_index().value(); i < committed_.size(); ++i) {
    if (committed_[i].first.value() == 0) continue;
    auto t = log.term(LogIndex(i));
    if (!t || *t != committed_[i].first || hash_of(log.at(LogIndex(i))) != committed_[i].second) {
      fail("leader completeness: " + n_str(n.id) + " leads term " +
           std::to_string(r.term().value()) + " without committed entry " + std::to_string(i));
      return;
    }
  }
}

std::string SimCluster::check_history() {
  std::map<std::string, std::vector<Op>> by_key;
  for (const ClientOp& op : ops_) {
    Op o{op.is_write, op.value, op.call, op.ret, op.client};
    switch (op.state) {
      case ClientOp::State::kOk:
        break;
      case ClientOp::State::kAmbiguous:
      case ClientOp::State::kPending:
        if (!op.is_write) continue;  // failed or unfinished reads say nothing
        o.ret = kNever;
        break;
      case ClientOp::State::kFailed:
        continue;  // a definite failure did not happen
    }
    by_key[op.key].push_back(o);
  }
  for (auto& [key, ops] : by_key) {
    CheckResult res = check_register(ops);
    if (!res.ok) {
      if (cfg_.verbose) {
        for (const Op& o : ops) {
          std::printf("  c%d %s %s [%llu, %lld]\n", o.client, o.is_write ? "W" : "R",
                      o.value.c_str(), (unsigned long long)o.call,
                      o.ret == kNever ? -1LL : (long long)o.ret);
        }
      }
      return "linearizability: key " + key + ": " + res.detail;
    }
  }
  return "";
}

}  // namespace shoal::sim
