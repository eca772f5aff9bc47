// The key-value register workload: a few clients, each with one operation
// outstanding, writing unique values and reading a small set of keys through
// whichever node they believe leads (or any node: followers use ReadIndex).
#include <cstdio>

#include "sim/cluster.h"

namespace shoal::sim {

namespace {
constexpr uint64_t kTimeoutMs = 300;
}

void SimCluster::client_next(int client) {
  if (stopped_) return;
  if (now_ + kTimeoutMs + 50 > end_) {
    // Past the end for now; the run may still be extended (liveness grace).
    at(now_ + 100, [this, client] { client_next(client); });
    return;
  }
  Rng& r = client_rng_;
  ClientOp op;
  op.id = static_cast<int>(ops_.size());
  op.client = client;
  // Under churn the workload has read-mostly phases: quiet logs let a cut-off
  // follower win an election at once, which is what stale leases need.
  bool read_mostly = cfg_.read_phases && (now_ / 150) % 2 == 1;
  op.is_write = r.chance(read_mostly ? 0.05 : 0.5);
  op.key = "k" + std::to_string(r.below(cfg_.keys));
  if (op.is_write) op.value = "v" + std::to_string(next_value_++);
  op.call = now_;
  ops_.push_back(op);
  client_op_[client] = op.id;
  NodeId target = client_hint_[client];
  if (target.value() == 0 || r.chance(0.2)) {
    // Clients know the topology (as from CLUSTER SLOTS): current members.
    std::vector<NodeId> known;
    for (auto& [id, n] : nodes_) {
      if (n->ever_member && !n->retired) known.push_back(id);
    }
    target = known.empty() ? nodes_.begin()->first : known[r.below(known.size())];
  }
  trace(50, op.id, target.value());
  client_request(op.id, target);
}

void SimCluster::client_request(int op_id, NodeId target) {
  at(now_ + client_rng_.range(1, 3), [this, op_id, target] { node_request(target, op_id); });
  at(now_ + kTimeoutMs, [this, op_id] { client_timeout(op_id); });
}

void SimCluster::node_request(NodeId id, int op_id) {
  SimNode* n = node(id);
  if (!n || !n->up) return;  // the client will time out
  const ClientOp& op = ops_[op_id];
  if (op.is_write) {
    auto res = n->raft->propose(encode_put(op.key, op.value));
    if (res.is_ok()) {
      n->proposals[res.value()] = op_id;
    } else {
      if (cfg_.verbose) {
        std::printf("%8llu n%llu refuses op %d: %s\n", (unsigned long long)now_,
                    (unsigned long long)id.value(), op_id, res.status().to_string().c_str());
      }
      reply(*n, op_id, false, "", n->raft->leader());  // definite: nothing appended
    }
  } else {
    Status s = n->raft->read_index(static_cast<uint64_t>(op_id));
    if (s.is_ok()) {
      n->reads_waiting_index[static_cast<uint64_t>(op_id)] = op_id;
    } else {
      reply(*n, op_id, false, "", n->raft->leader());
    }
  }
  pump(*n);
}

void SimCluster::reply(SimNode& n, int op_id, bool ok, const std::string& value, NodeId hint) {
  at(now_ + client_rng_.range(1, 3),
     [this, op_id, ok, value, hint] { client_reply(op_id, ok, false, value, hint); });
}

void SimCluster::client_reply(int op_id, bool ok, bool ambiguous, const std::string& value,
                              NodeId hint) {
  ClientOp& op = ops_[op_id];
  if (op.state != ClientOp::State::kPending) return;  // already timed out
  if (ambiguous) {
    op.state = ClientOp::State::kAmbiguous;
    ++stats_.ambiguous;
  } else {
    op.ret = now_;
    op.state = ok ? ClientOp::State::kOk : ClientOp::State::kFailed;
    if (ok && !op.is_write) op.value = value;
    if (ok) ++(op.is_write ? stats_.writes_ok : stats_.reads_ok);
    if (ok && op.is_write && healing_ && op.call >= cfg_.chaos_ms + cfg_.heal_ms / 2) {
      ++heal_writes_ok_;
    }
  }
  if (hint.value() != 0) client_hint_[op.client] = hint;
  if (!ok && hint.value() == 0) client_hint_[op.client] = NodeId(0);
  trace(51, op_id, ok);
  if (cfg_.verbose && healing_) {
    std::printf("%8llu client %d op %d %s %s -> %s%s\n", (unsigned long long)now_, op.client, op_id,
                op.is_write ? "write" : "read", op.key.c_str(), ok ? "ok" : "fail",
                ambiguous ? " (ambiguous)" : "");
  }
  int c = op.client;
  at(now_ + client_rng_.range(0, 20), [this, c] { client_next(c); });
}

void SimCluster::client_timeout(int op_id) {
  ClientOp& op = ops_[op_id];
  if (op.state != ClientOp::State::kPending) return;
  if (op.is_write) {
    op.state = ClientOp::State::kAmbiguous;  // it may still commit
    ++stats_.ambiguous;
  } else {
    op.state = ClientOp::State::kFailed;
  }
  client_hint_[op.client] = NodeId(0);
  int c = op.client;
  at(now_ + client_rng_.range(0, 20), [this, c] { client_next(c); });
}

}  // namespace shoal::sim
