// Proxy mode and peer traffic: forwarding a command to its shard's leader,
// serving commands peers forward to us, and the leadership announcements
// that let nodes route to shards they hold no replica of.
#include <spdlog/spdlog.h>

#include "base/crc16.h"
#include "node/cluster_node.h"
#include "node/cluster_node_internal.h"

namespace shoal::node {
namespace {
constexpr int kMaxForwardAttempts = 10;

const kv::CommandSpec* find_spec(const std::vector<std::string>& args) {
  if (args.empty()) return nullptr;
  const auto& table = kv::CommandTable::instance();
  const kv::CommandSpec* spec = table.find(args[0]);
  if (spec && table.is_container(*spec))
    spec = args.size() > 1 ? table.find_sub(*spec, args[1]) : nullptr;
  if (!spec || !spec->handler || (spec->flags & kv::kInternal)) return nullptr;
  size_t argc = args.size();
  bool arity_ok = spec->arity >= 0 ? argc == static_cast<size_t>(spec->arity)
                                   : argc >= static_cast<size_t>(-spec->arity);
  return arity_ok ? spec : nullptr;
}
}  // namespace

void ClusterNode::forward(NodeId leader, ShardId shard, Slot slot, Op op, int attempt) {
  uint64_t id = next_forward_id_++;
  ++forwards_started_;
  transport::ForwardRequest req{id, shard, epoch_of(shard), op.args, op.ctx.readonly};
  peers_.outgoing(leader).requests.push_back(std::move(req));
  forwards_.emplace(id, Forward{shard, slot, std::move(op), attempt,
                                now_ms() + options_.forward_timeout_ms, leader});
}

// A forwarded read whose target no longer leads its shard (a newer leader is
// known) goes to the new leader at once instead of waiting for its deadline:
// a read changes nothing, so sending it twice is safe. Writes are never
// re-sent (H17, H18).
void ClusterNode::reroute_reads() {
  std::vector<Forward> again;
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    const Forward& f = it->second;
    std::optional<NodeId> now_leads = leader_of(f.shard);
    bool moved = now_leads && *now_leads != f.to;
    if (f.op.spec->is_write() || !moved || f.attempt + 1 >= kMaxForwardAttempts) {
      ++it;
      continue;
    }
    again.push_back(std::move(it->second));
    it = forwards_.erase(it);
  }
  for (auto& f : again) run_on_shard(f.shard, f.slot, std::move(f.op), f.attempt + 1);
}

void ClusterNode::on_forward_response(NodeId from, transport::ForwardResponse resp) {
  auto it = forwards_.find(resp.id);
  if (it == forwards_.end()) return;  // late: already timed out
  if (it->second.to != from) return;  // not the node it was sent to
  Forward f = std::move(it->second);
  forwards_.erase(it);
  switch (resp.code) {
    case transport::ForwardCode::kOk: {
      auto reply = kv::RecordedReply::decode(resp.reply);
      if (!reply) {
        return f.op.done(f.op.spec->is_write()
                             ? Status::unknown_outcome("undecodable reply from the leader")
                             : Status::unavailable("undecodable reply from the leader"),
                         {});
      }
      return f.op.done(Status::ok(), std::move(*reply));
    }
    case transport::ForwardCode::kUnknownOutcome:
      return f.op.done(Status::unknown_outcome(resp.message), {});
    case transport::ForwardCode::kNotLeader:
    case transport::ForwardCode::kUnavailable:
    case transport::ForwardCode::kStaleEpoch:
      // The peer did not execute the command: going again is safe.
      if (resp.code == transport::ForwardCode::kNotLeader) {
        leaders_.refused_by(f.shard, from);
      }
      if (f.attempt + 1 < kMaxForwardAttempts) {
        // Again after a short pause (an election or a hand-over is usually
        // over within tens of milliseconds), at most until leader_wait_ms.
        return wait_for_leader(f.shard, f.slot, std::move(f.op), f.attempt + 1,
                               20 * (f.attempt + 1));
      }
      kv::RecordedReply reply;
      reply.error("CLUSTERDOWN The cluster is down");
      return f.op.done(Status::ok(), std::move(reply));
  }
}

// H22: every forwarded command has a deadline. A write whose answer never
// came may or may not have applied (H18); it is never retried blindly.
void ClusterNode::expire_forwards() {
  int64_t now = now_ms();
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    Forward f = std::move(it->second);
    it = forwards_.erase(it);
    if (f.op.spec->is_write())
      f.op.done(Status::unknown_outcome("no answer from the shard's leader in time"), {});
    else
      f.op.done(Status::unavailable("no answer from the shard's leader in time; retry"), {});
  }
}

void ClusterNode::serve_forward(NodeId from, transport::ForwardRequest req) {
  auto respond = [this, from, id = req.id](transport::ForwardCode code, std::string reply,
                                           std::string message, NodeId hint) {
    peers_.outgoing(from).responses.push_back(
        transport::ForwardResponse{id, code, std::move(reply), std::move(message), hint});
  };
  const cluster::ShardInfo* shard = shard_info(req.shard);
  if (!shard) return respond(transport::ForwardCode::kUnavailable, {}, "unknown shard", NodeId());
  if (req.epoch < epoch_of(req.shard))
    return respond(transport::ForwardCode::kStaleEpoch, {}, "stale shard epoch", NodeId());
  const kv::CommandSpec* spec = find_spec(req.args);
  if (!spec) {
    // Deterministic: the same request would be refused again. A definite
    // error (not executed), so the forwarder does not retry it.
    kv::RecordedReply err;
    err.error("ERR command not executable on the shard's leader");
    return respond(transport::ForwardCode::kOk, err.encode(), {}, NodeId());
  }
  for (size_t p : kv::CommandTable::key_positions(*spec, req.args.size())) {
    if (map_.shard_for_slot(key_slot(req.args[p])) != shard)
      return respond(transport::ForwardCode::kStaleEpoch, {}, "key not in shard", NodeId());
  }
  replica::Replica* r = host_.replica(req.shard);
  bool follower_read = r && req.allow_follower && !spec->is_write();
  if (r && r->is_leader() && !serves(*r, *spec)) {
    return respond(transport::ForwardCode::kUnavailable, {},
                   "leader not ready (hand-over or first commit)", NodeId());
  }
  if (host_.failed() || !r || (!r->is_leader() && !follower_read)) {
    auto hint = leader_of(req.shard);
    return respond(transport::ForwardCode::kNotLeader, {}, "not the leader",
                   hint && *hint != options_.id ? *hint : NodeId());
  }
  Reply done = [respond](Status s, kv::RecordedReply reply) {
    if (s.is_ok()) return respond(transport::ForwardCode::kOk, reply.encode(), {}, NodeId());
    if (s.code() == StatusCode::kUnknownOutcome)
      return respond(transport::ForwardCode::kUnknownOutcome, {}, s.message(), NodeId());
    respond(transport::ForwardCode::kUnavailable, {}, s.message(), NodeId());
  };
  run_local(*r, Op{spec, std::move(req.args), ClientContext{}, std::move(done), true});
}

void ClusterNode::on_peer_batch(transport::PeerBatch batch) {
  if (!map_.node(batch.from)) return;  // not a member (anymore)
  int64_t now = now_ms();
  for (auto& h : batch.hints) {
    if (shard_info(h.shard) && map_.node(h.leader))
      leaders_.observe(h.shard, h.term, h.leader, now);
  }
  for (auto& env : batch.raft) {
    if (env.epoch < epoch_of(env.shard)) continue;  // an older configuration's message
    if (env.msg.from != batch.from) continue;       // a peer speaks only for itself
    host_.step(env.shard, std::move(env.msg));
  }
  snapshots_->on_messages(batch.from, batch.snapshot_chunks, batch.snapshot_acks);
  for (auto& req : batch.requests) serve_forward(batch.from, std::move(req));
  for (auto& resp : batch.responses) on_forward_response(batch.from, std::move(resp));
}

}  // namespace shoal::node
