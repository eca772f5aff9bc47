// The simulated host: handles each Ready exactly as raft/raft.h prescribes,
// with an asynchronous disk and a lossy network.
#include <algorithm>
#include <cstdio>

#include "sim/cluster.h"

namespace shoal::sim {

namespace {
uint64_t entry_hash(const Entry& e) {
  return mix(mix(hash_bytes(e.data.data(), e.data.size()), e.term.value()),
             static_cast<uint64_t>(e.type));
}
}  // namespace

void SimCluster::pump(SimNode& n) {
  while (n.up && !stopped_ && n.raft->has_ready()) {
    raft::Ready rd = n.raft->ready();
    check_entries(n, rd.entries);
    for (const Message& m : rd.messages) send(m);
    handle_outcomes(n, rd);
    PendingApply a{rd.snapshot, std::move(rd.committed_entries), rd.apply_index};
    std::optional<raft::HardState> hs = hard_state_to_write(n, rd, a);
    bool must_write =
        hs || rd.snapshot || !rd.entries.empty() || !rd.messages_after_persist.empty();
    if (must_write) {
      persist(
          n, PendingWrite{std::move(hs), std::move(rd.snapshot), std::move(rd.entries),
                          std::move(rd.messages_after_persist), rd.persist_term, rd.persist_index});
    }
    serve_reads(n);  // a read state may already be satisfied
    if (a.index.value() == 0) continue;
    if (max_apply_lag_ms_ == 0) {
      finish_apply(n, a);
      continue;
    }
    // An apply thread that lags: later Readys are taken before on_applied.
    n.apply_queue.push_back(std::move(a));
    if (!n.apply_busy) {
      n.apply_busy = true;
      NodeId id = n.id;
      uint64_t inc = n.incarnation;
      at(now_ + net_rng_.range(0, max_apply_lag_ms_), [this, id, inc] { apply_done(id, inc); });
    }
  }
  if (n.up && !stopped_) check(n);
}

// SimConfig::commit_index: which hard state this Ready writes, if any.
std::optional<raft::HardState> SimCluster::hard_state_to_write(SimNode& n, const raft::Ready& rd,
                                                               const PendingApply& a) {
  using Mode = SimConfig::CommitIndexWrite;
  if (cfg_.commit_index == Mode::kEager) return rd.hard_state;
  std::optional<raft::HardState> hs = rd.hard_state;
  if (hs) {
    bool term_or_vote = hs->term != n.staged_hs.term || hs->vote != n.staged_hs.vote;
    n.staged_hs = *hs;
    if (term_or_vote) {
      n.held_hs.reset();
      return hs;
    }
    n.held_hs = *hs;
    hs.reset();
  }
  bool conf = std::any_of(a.entries.begin(), a.entries.end(),
                          [](const Entry& e) { return e.type == raft::EntryType::kConfChange; });
  if (n.held_hs && (rd.snapshot || (conf && cfg_.commit_index == Mode::kLazy))) {
    hs = n.held_hs;
    n.held_hs.reset();
  }
  return hs;
}

void SimCluster::apply_done(NodeId id, uint64_t incarnation) {
  SimNode* n = node(id);
  if (!n || !n->up || n->incarnation != incarnation) return;
  std::deque<PendingApply> batch;
  batch.swap(n->apply_queue);
  for (PendingApply& a : batch) {
    if (!n->up) return;
    finish_apply(*n, a);
  }
  n->apply_busy = false;
  pump(*n);
}

void SimCluster::finish_apply(SimNode& n, const PendingApply& a) {
  apply(n, a);
  bool conf_applied = a.snapshot.has_value();
  for (const Entry& e : a.entries) conf_applied |= e.type == raft::EntryType::kConfChange;
  n.raft->on_applied(a.index);
  // Only a configuration newer than any applied so far can retire a node
  // (a restarting node replays old ones).
  if (conf_applied && n.raft->log().applied().value() > newest_conf_applied_) {
    newest_conf_applied_ = n.raft->log().applied().value();
    retire_removed(n.raft->conf());
  }
  serve_reads(n);
}

// Client answers: proposal outcomes (H18) and read states.
void SimCluster::handle_outcomes(SimNode& n, const raft::Ready& rd) {
  for (const auto& o : rd.outcomes) {
    auto it = n.proposals.find(o.id);
    if (it == n.proposals.end()) continue;
    int op = it->second;
    n.proposals.erase(it);
    if (o.kind == raft::OutcomeKind::kCommitted) {
      reply(n, op, true, "", NodeId(0));
    } else if (o.kind == raft::OutcomeKind::kRejected) {
      reply(n, op, false, "", n.raft->leader());
    } else {
      NodeId id = n.id;
      at(now_ + 1, [this, op, id] { client_reply(op, false, true, "", id); });
    }
  }
  for (const auto& rs : rd.read_states) {
    auto it = n.reads_waiting_index.find(rs.context);
    if (it == n.reads_waiting_index.end()) continue;
    int op = it->second;
    n.reads_waiting_index.erase(it);
    if (rs.ok) {
      n.reads_waiting_apply.push_back({rs.index, op});
    } else {
      reply(n, op, false, "", n.raft->leader());
    }
  }
}

void SimCluster::apply(SimNode& n, const PendingApply& rd) {
  if (rd.snapshot) {
    n.kv = decode_kv(rd.snapshot->data, &n.chain);
    n.applied = rd.snapshot->meta.index;
    uint64_t i = n.applied.value();
    if (i < chain_at_.size() && chain_at_[i] != 0 && chain_at_[i] != n.chain) {
      fail("snapshot state differs from the replicas' state at index " + std::to_string(i));
    }
  }
  for (const Entry& e : rd.entries) {
    if (e.index != n.applied.next()) {
      fail("n" + std::to_string(n.id.value()) + " applies index " +
           std::to_string(e.index.value()) + " after " + std::to_string(n.applied.value()));
      return;
    }
    check_applied(n, e);
    if (e.type == raft::EntryType::kNormal) apply_put(n.kv, e.data);
    n.chain = mix(n.chain, entry_hash(e));
    n.applied = e.index;
    uint64_t i = e.index.value();
    if (chain_at_.size() <= i) chain_at_.resize(i + 1, 0);
    if (chain_at_[i] == 0) {
      chain_at_[i] = n.chain;
    } else if (chain_at_[i] != n.chain) {
      fail("replicas diverge: n" + std::to_string(n.id.value()) + " state at index " +
           std::to_string(i) + " differs");
    }
    trace(10, n.id.value(), mix(i, n.chain));
  }
}

// The control plane's part (DESIGN.md §6 step 5): once a configuration
// without a replica is applied anywhere it is committed, so that replica is
// shut down for good; its id is never reused.
void SimCluster::retire_removed(raft::ConfState cs) {  // a copy: retiring may destroy its owner
  for (auto& [id, m] : nodes_) {
    bool member = raft::is_voter(cs, id) || raft::is_learner(cs, id);
    if (member) {
      m->ever_member = true;
    } else if (m->ever_member && !m->retired) {
      m->retired = true;
      if (cfg_.verbose)
        std::printf("%8llu n%llu retired\n", (unsigned long long)now_,
                    (unsigned long long)id.value());
      crash(*m);
      trace(6, id.value());
    }
  }
}

void SimCluster::serve_reads(SimNode& n) {
  auto& w = n.reads_waiting_apply;
  for (size_t k = 0; k < w.size();) {
    if (w[k].first <= n.applied) {
      const ClientOp& op = ops_[w[k].second];
      auto it = n.kv.find(op.key);
      reply(n, w[k].second, true, it == n.kv.end() ? "" : it->second, NodeId(0));
      w.erase(w.begin() + k);
    } else {
      ++k;
    }
  }
}

void SimCluster::persist(SimNode& n, PendingWrite w) {
  if (cfg_.knobs.send_before_persist) {
    // The broken host of the teeth test: acks leave before the data is durable.
    for (const Message& m : w.after) send(m);
    w.after.clear();
  }
  n.disk.push_back(std::move(w));
  if (!n.disk_busy) {
    n.disk_busy = true;
    NodeId id = n.id;
    uint64_t inc = n.incarnation;
    at(now_ + net_rng_.range(0, max_disk_ms_), [this, id, inc] { disk_done(id, inc); });
  }
}

void SimCluster::disk_done(NodeId id, uint64_t incarnation) {
  SimNode* n = node(id);
  if (!n || !n->up || n->incarnation != incarnation) return;
  // One sync makes everything queued so far durable (group commit).
  std::deque<PendingWrite> batch;
  batch.swap(n->disk);
  for (PendingWrite& w : batch) {
    if (!write_durable(*n, w)) return;
  }
  for (PendingWrite& w : batch) {
    for (const Message& m : w.after) send(m);
    if (w.persist_index.value() != 0) n->raft->on_persisted(w.persist_term, w.persist_index);
  }
  pump(*n);
  if (!n->up || n->incarnation != incarnation) return;
  if (n->disk.empty()) {
    n->disk_busy = false;
  } else {
    at(now_ + net_rng_.range(0, max_disk_ms_),
       [this, id, incarnation] { disk_done(id, incarnation); });
  }
}

bool SimCluster::write_durable(SimNode& n, PendingWrite& w) {
  NodeId id = n.id;
  if (w.snapshot) {
    n.snap_meta = w.snapshot->meta;
    n.snap_data = w.snapshot->data;
    n.log.clear();
  }
  if (w.hs) {
    // A vote, once durable, never changes within its term (no double vote).
    if (w.hs->term < n.hs.term ||
        (w.hs->term == n.hs.term && n.hs.vote.value() != 0 && w.hs->vote != n.hs.vote)) {
      fail("n" + std::to_string(id.value()) + " durable hard state went backwards / double vote");
    }
    n.hs = *w.hs;
  }
  if (!w.entries.empty()) {
    uint64_t first = w.entries.front().index.value();
    uint64_t base = n.snap_meta.index.value();
    if (first <= base) {
      fail("persisting entries at or below the snapshot");
      return false;
    }
    n.log.resize(std::min<uint64_t>(n.log.size(), first - base - 1));
    if (n.log.size() != first - base - 1) {
      fail("n" + std::to_string(id.value()) + " durable log has a gap before " +
           std::to_string(first));
      return false;
    }
    for (auto& e : w.entries) n.log.push_back(std::move(e));
  }
  trace(3, id.value(), w.persist_index.value());
  return true;
}

void SimCluster::take_snapshot(SimNode& n) {
  // The state machine and the library must agree on the applied index.
  if (!n.up || !n.disk.empty() || !n.apply_queue.empty()) return;
  if (n.applied <= n.snap_meta.index || n.applied != n.raft->log().applied()) return;
  LogIndex i = n.applied;
  auto t = n.raft->log().term(i);
  if (!t) return;
  ++stats_.snapshots;
  uint64_t drop = i.value() - n.snap_meta.index.value();
  n.log.erase(n.log.begin(), n.log.begin() + std::min<uint64_t>(drop, n.log.size()));
  n.snap_meta = {i, *t, n.raft->conf()};
  n.snap_data = encode_kv(n.kv, n.chain);
  if (n.held_hs) {  // lazy commit index: stored with the snapshot
    n.hs = *n.held_hs;
    n.held_hs.reset();
  }
  n.raft->compact(i);
  trace(4, n.id.value(), i.value());
}

bool SimCluster::blocked(NodeId from, NodeId to) const { return cut_.count({from, to}) > 0; }

void SimCluster::send(const Message& m0) {
  ++stats_.messages;
  SimNode* from = node(m0.from);
  trace(20 + static_cast<uint64_t>(m0.type), m0.from.value(), mix(m0.to.value(), m0.term.value()));
  Message m = m0;
  if (m.type == raft::MessageType::kSnap) {
    if (!from || from->snap_meta.index != m.snapshot.meta.index) {
      if (from && from->up) from->raft->report_snapshot(m.to, false);
      return;
    }
    m.snapshot.data = from->snap_data;
  }
  uint64_t inc = from ? from->incarnation : 0;
  bool lost = blocked(m.from, m.to) || net_rng_.chance(drop_);
  if (lost) {
    if (m.type == raft::MessageType::kSnap && from && from->up) {
      from->raft->report_snapshot(m.to, false);
    }
    return;
  }
  int copies = net_rng_.chance(dup_) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    Message copy = c + 1 < copies ? m : std::move(m);
    at(now_ + net_rng_.range(1, max_delay_ms_),
       [this, msg = std::move(copy), inc]() mutable { deliver(std::move(msg), inc); });
  }
}

void SimCluster::deliver(Message m, uint64_t sender_incarnation) {
  SimNode* to = node(m.to);
  bool snap = m.type == raft::MessageType::kSnap;
  NodeId from_id = m.from;
  if (!to || !to->up || blocked(m.from, m.to)) {
    SimNode* from = node(from_id);
    if (snap && from && from->up && from->incarnation == sender_incarnation) {
      from->raft->report_snapshot(m.to, false);
    }
    return;
  }
  NodeId to_id = m.to;
  if (cfg_.verbose && healing_ && m.type != raft::MessageType::kHeartbeat &&
      m.type != raft::MessageType::kHeartbeatResp && m.type != raft::MessageType::kApp &&
      m.type != raft::MessageType::kAppResp) {
    std::printf("%8llu   %s n%llu->n%llu term %llu%s\n", (unsigned long long)now_,
                raft::to_string(m.type), (unsigned long long)m.from.value(),
                (unsigned long long)m.to.value(), (unsigned long long)m.term.value(),
                m.reject ? " reject" : "");
  }
  trace(40 + static_cast<uint64_t>(m.type), m.from.value(), mix(m.to.value(), m.index.value()));
  Status s = to->raft->step(std::move(m));
  if (!s.is_ok()) fail("step refused a message: " + s.to_string());
  pump(*to);
  SimNode* from = node(from_id);
  if (snap && from && from->up && from->incarnation == sender_incarnation) {
    from->raft->report_snapshot(to_id, true);
    pump(*from);
  }
}

}  // namespace shoal::sim
