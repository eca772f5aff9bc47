// WAIT numreplicas timeout (DESIGN.md section 4.6).
//
// When WAIT starts, the client's earlier writes have completed (WAIT is a
// barrier in the client's order), so each of them is at or below its
// shard's commit index. WAIT therefore records, for every shard this node
// leads, the commit index at that moment, and counts a shard's other voters
// whose acknowledged (durable) log reaches it. The answer is the smallest
// count over those shards, given as soon as it reaches numreplicas or when
// the timeout passes (0 = no timeout), as Redis does.
//
// Scope: the shards this node leads. A client's writes through this node run
// there in redirect mode; in proxy mode writes forwarded to other nodes are
// not covered. A shard this node stopped leading counts floor(RF/2): its
// committed entries are on a majority.
#include <algorithm>

#include "node/cluster_node.h"

namespace shoal::node {

void ClusterNode::start_wait(uint64_t client, Op op) {
  std::vector<std::string_view> views(op.args.begin(), op.args.end());
  std::string_view err = kv::wait_arguments_error(views);
  if (!err.empty()) {
    kv::RecordedReply reply;
    reply.error(err);
    return op.done(Status::ok(), std::move(reply));
  }
  int64_t needed = std::stoll(op.args[1]);
  // Clamped: a deadline beyond a year is as good as none, and must not overflow.
  int64_t timeout = std::min<int64_t>(std::stoll(op.args[2]), int64_t{365} * 24 * 3600 * 1000);
  ReplicaWait w{client, std::move(op), needed, timeout == 0 ? 0 : now_ms() + timeout, {}};
  for (const auto& shard : map_.shards) {
    replica::Replica* r = host_.replica(shard.id);
    if (r && r->is_leader()) w.targets.emplace_back(shard.id, r->raft().log().committed());
  }
  waits_.push_back(std::move(w));
  check_waits();
}

int64_t ClusterNode::replicas_reached(const ReplicaWait& w) {
  if (w.targets.empty()) return 0;
  int64_t least = INT64_MAX;
  for (const auto& [id, index] : w.targets) {
    replica::Replica* r = host_.replica(id);
    int64_t n = 0;
    if (r && r->is_leader()) {
      for (NodeId v : r->raft().conf().voters) {
        const raft::Progress* p = r->raft().progress(v);
        if (v != options_.id && p && p->match >= index) ++n;
      }
    } else {
      n = static_cast<int64_t>(map_.replication_factor / 2);
    }
    least = std::min(least, n);
  }
  return least;
}

// Answers the WAITs that are satisfied or timed out. Their callbacks run
// after the list is updated: a callback may start the client's next WAIT.
void ClusterNode::check_waits() {
  int64_t now = now_ms();
  std::vector<std::pair<Reply, int64_t>> answers;
  std::erase_if(waits_, [&](ReplicaWait& w) {
    int64_t reached = replicas_reached(w);
    bool expired = w.deadline_ms != 0 && now >= w.deadline_ms;
    if (reached < w.needed && !expired) return false;
    answers.emplace_back(std::move(w.op.done), reached);
    return true;
  });
  for (auto& [done, reached] : answers) {
    kv::RecordedReply reply;
    reply.integer(reached);
    done(Status::ok(), std::move(reply));
  }
}

// The client went away: its WAITs end now (the answers go nowhere), so that
// a WAIT 0 that is never satisfied cannot hold the client's state forever.
void ClusterNode::end_waits_of(uint64_t client) {
  std::vector<Reply> ended;
  std::erase_if(waits_, [&](ReplicaWait& w) {
    if (w.client != client) return false;
    ended.push_back(std::move(w.op.done));
    return true;
  });
  for (auto& done : ended) done(Status::unavailable("client gone"), {});
}

}  // namespace shoal::node
