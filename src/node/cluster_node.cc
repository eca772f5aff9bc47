#include "node/cluster_node.h"

#include <spdlog/spdlog.h>

#include "base/coding.h"
#include "base/crc16.h"
#include "node/cluster_node_internal.h"
#include "storage/memory_engine.h"

namespace shoal::node {

// Raft messages of the host go to peers stamped with the shard's epoch.
class ClusterNode::HostTransport final : public replica::Transport {
 public:
  explicit HostTransport(ClusterNode& node) : node_(node) {}
  void send(ShardId shard, raft::Message msg) override {
    NodeId to = msg.to;
    node_.peers_.outgoing(to).raft.push_back(
        transport::RaftEnvelope{shard, node_.epoch_of(shard), std::move(msg)});
  }
  replica::SnapshotSend send_snapshot(ShardId shard, raft::Message msg,
                                      const raft::Snapshot& snap) override {
    if (!node_.snapshots_->enabled()) return Transport::send_snapshot(shard, std::move(msg), snap);
    return node_.snapshots_->start_send(shard, msg, snap);
  }

 private:
  ClusterNode& node_;
};

ClusterNode::ClusterNode(ClusterNodeOptions options, replica::LogStore& store, PeerOutbox& peers,
                         env::Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      peers_(peers),
      host_transport_(std::make_unique<HostTransport>(*this)),

      host_(options_.id, store, *host_transport_, clock,
            replica::HostOptions{options_.sync, options_.defer_sync}),
      snapshots_(std::make_unique<SnapshotShipping>(
          options_.id, options_.snapshots, host_,
          [this](NodeId to) -> transport::PeerBatch& { return peers_.outgoing(to); },
          [this](ShardId shard) { return epoch_of(shard); }, clock)) {
  // Not from 1: a response meant for an earlier incarnation of this node must
  // not match a new request's id (the clock differs between incarnations).
  next_forward_id_ = static_cast<uint64_t>(clock.monotonic_ns()) * 0x9E3779B97F4A7C15ull | 1;
}

ClusterNode::~ClusterNode() = default;

Status ClusterNode::open(cluster::ClusterMap map) {
  if (Status s = cluster::validate(map); !s.is_ok()) return s;
  if (!map.node(options_.id)) return Status::invalid_argument("this node is not in the map");
  if (Status s = snapshots_->open(); !s.is_ok()) return s;
  map_ = std::move(map);
  for (size_t i = 0; i < map_.shards.size(); ++i) shard_pos_[map_.shards[i].id.value()] = i;
  auto open_one = [&](ShardId shard, const std::vector<NodeId>& voters) {
    if (!options_.state_engines) {
      return host_.add_replica(shard, options_.replica, voters,
                               std::make_unique<storage::MemoryEngine>());
    }
    auto engines = options_.state_engines(shard);
    if (!engines.is_ok()) return engines.status();
    return host_.add_replica(shard, options_.replica, voters, std::move(engines.value().data),
                             std::move(engines.value().sessions));
  };
  for (const auto& s : map_.shards) {
    if (std::find(s.replicas.begin(), s.replicas.end(), options_.id) == s.replicas.end()) continue;
    if (Status st = open_one(s.id, s.replicas); !st.is_ok()) return st;
    // A single voter need not wait for an election timeout; in a new group
    // the preferred leader (the placement's first replica) stands first, so
    // that leaders start out spread evenly.
    local_.push_back(host_.replica(s.id));
    raft::Raft& raft = local_.back()->raft();
    bool fresh = raft.term().value() <= 1 && raft.log().last_index().value() <= 1;
    if (s.replicas.size() == 1 || (fresh && s.replicas.front() == options_.id)) raft.campaign();
  }
  const auto& meta = map_.meta_replicas;
  if (options_.clustered && std::find(meta.begin(), meta.end(), options_.id) != meta.end()) {
    if (Status st = open_one(cluster::kMetaShard, meta); !st.is_ok()) return st;
    if (meta.size() == 1) host_.replica(cluster::kMetaShard)->raft().campaign();
  }
  return run_once();
}

transport::ShardEpoch ClusterNode::epoch_of(ShardId shard) const {
  const cluster::ShardInfo* s = shard_info(shard);
  if (!s) return transport::ShardEpoch{1, 1};  // the meta shard
  return transport::ShardEpoch{s->conf_ver, s->version};
}

const cluster::ShardInfo* ClusterNode::shard_info(ShardId id) const {
  auto it = shard_pos_.find(id.value());
  return it == shard_pos_.end() ? nullptr : &map_.shards[it->second];
}

std::optional<NodeId> ClusterNode::leader_of(ShardId shard) const {
  return leaders_.leader(shard, clock_.monotonic_ns() / 1'000'000);
}

// ---- per-client order --------------------------------------------------

void ClusterNode::execute(uint64_t client, ClientContext ctx, const kv::CommandSpec& spec,
                          std::vector<std::string> args, Reply done) {
  queue_of(client).waiting.push_back(Op{&spec, std::move(args), ctx, std::move(done)});
  pump(client);
}

// An unpipelined client's queue empties after each command: its map node
// (and the deque inside, with its buffers) is kept for the next client rather
// than freed and allocated again per command.
ClusterNode::ClientQueue& ClusterNode::queue_of(uint64_t client) {
  auto it = clients_.find(client);
  if (it != clients_.end()) return it->second;
  if (spare_clients_.empty()) return clients_.try_emplace(client).first->second;
  auto node = std::move(spare_clients_.back());
  spare_clients_.pop_back();
  node.key() = client;
  return clients_.insert(std::move(node)).position->second;
}

void ClusterNode::drop_idle_client(ClientQueues::iterator it) {
  SHOAL_ASSERT(it->second.waiting.empty() && it->second.idle() && !it->second.pumping);
  if (spare_clients_.size() >= kSpareClientQueues) {
    clients_.erase(it);
    return;
  }
  spare_clients_.push_back(clients_.extract(it));
}

void ClusterNode::forget_client(uint64_t client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  it->second.waiting.clear();
  end_waits_of(client);  // a WAIT would otherwise hold the client until it is satisfied
  it = clients_.find(client);
  if (it != clients_.end() && it->second.idle() && !it->second.pumping) drop_idle_client(it);
}

// A command is pipelined when it is a write to a shard this node leads and
// needs nothing else; everything else is a barrier (see the header).
bool ClusterNode::is_pipelined(Op& op) {
  if (!op.spec->is_write()) return false;
  std::optional<ShardId> shard = single_shard_of(op);
  if (!shard) return false;
  replica::Replica* r = host_.replica(*shard);
  return r && serves(*r, *op.spec) && !host_.failed();
}

void ClusterNode::pump(uint64_t client) {
  auto it = clients_.find(client);
  // A completion called back from start() below ends here: the outer pump
  // goes on with this client.
  if (it == clients_.end() || it->second.pumping) return;
  // `q` stays valid: a client being pumped is never erased (forget_client
  // checks the flag; the erase below comes after it is cleared). `it` might
  // not, were a reply callback ever to call execute() for a new client (the
  // map would rehash), so the end looks the client up again. Queues are
  // reused (queue_of), so a dangling reference here would silently point at
  // another client's queue: keep the flag's rule.
  ClientQueue& q = it->second;
  q.pumping = true;
  while (!q.waiting.empty() && !q.barrier_in_flight) {
    bool pipelined = is_pipelined(q.waiting.front());
    if (!pipelined && q.writes_in_flight > 0) break;
    Op op = std::move(q.waiting.front());
    q.waiting.pop_front();
    if (pipelined)
      ++q.writes_in_flight;
    else
      q.barrier_in_flight = true;
    start(client, std::move(op), pipelined);
  }
  q.pumping = false;
  if (q.waiting.empty() && q.idle()) drop_idle_client(clients_.find(client));
}

void ClusterNode::start(uint64_t client, Op&& op, bool pipelined) {
  Reply done = std::move(op.done);
  op.done = [this, client, pipelined, done = std::move(done)](Status s, kv::RecordedReply reply) {
    done(std::move(s), std::move(reply));
    finished(client, pipelined);
  };
  if (op.spec->name == "wait") return start_wait(client, std::move(op));
  route(std::move(op));
}

void ClusterNode::finished(uint64_t client, bool pipelined) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  if (pipelined)
    --it->second.writes_in_flight;
  else
    it->second.barrier_in_flight = false;
  pump(client);
}

// ---- routing -----------------------------------------------------------

const ClusterNode::Op::Slots& ClusterNode::slots_of(Op& op) {
  if (op.slots) return *op.slots;
  Op::Slots s;
  kv::CommandTable::for_each_key_position(*op.spec, op.args.size(), [&](size_t p) {
    Slot slot = key_slot(op.args[p]);
    if (!s.has_keys) {
      s.has_keys = true;
      s.first = slot;
    } else {
      s.one_slot = slot == s.first;
    }
    return s.one_slot;
  });
  return op.slots.emplace(s);
}

std::optional<ShardId> ClusterNode::single_shard_of(Op& op) const {
  const Op::Slots& slots = slots_of(op);
  if (!slots.has_keys) return std::nullopt;
  const cluster::ShardInfo* s = map_.shard_for_slot(slots.first);
  if (!s) return std::nullopt;
  if (!slots.one_slot) {
    // Keys in several slots may still live on one shard.
    bool same = true;
    kv::CommandTable::for_each_key_position(*op.spec, op.args.size(), [&](size_t p) {
      same = map_.shard_for_slot(key_slot(op.args[p])) == s;
      return same;
    });
    if (!same) return std::nullopt;
  }
  return s->id;
}

void ClusterNode::route(Op&& op) {
  if (op.spec->container() == "cluster") {
    // COUNTKEYSINSLOT / GETKEYSINSLOT name their slot; an invalid one gets
    // its error from the handler on any shard.
    int64_t v = 0;
    bool valid = parse_decimal_int64(op.args[2], &v) && v >= 0 && v < kSlotCount;
    Slot slot(valid ? static_cast<uint16_t>(v) : 0);
    op.internal = true;
    return run_on_shard(map_.shard_for_slot(slot)->id, slot, std::move(op), 0);
  }
  const Op::Slots& slots = slots_of(op);
  if (!slots.has_keys) return fan_out(std::move(op));
  Slot slot = slots.first;
  if (!slots.one_slot) {
    if (options_.mode == RoutingMode::kProxy && is_splittable(*op.spec))
      return split_by_shard(std::move(op));
    if (options_.clustered) {
      kv::RecordedReply r;
      r.error("CROSSSLOT Keys in request don't hash to the same slot");
      return op.done(Status::ok(), std::move(r));
    }
  }
  const cluster::ShardInfo* shard = map_.shard_for_slot(slot);
  SHOAL_ASSERT(shard != nullptr);
  run_on_shard(shard->id, slot, std::move(op), /*attempt=*/0);
}

void ClusterNode::run_on_shard(ShardId shard, Slot slot, Op&& op, int attempt) {
  if (host_.failed()) return op.done(Status::unavailable("node cannot write its log"), {});
  replica::Replica* r = host_.replica(shard);
  if (r && serves(*r, *op.spec)) return run_local(*r, std::move(op));
  if (r && follower_readable(*r, *op.spec, op.ctx)) return run_local(*r, std::move(op));
  std::optional<NodeId> leader = leader_of(shard);
  if (!leader || *leader == options_.id)
    return wait_for_leader(shard, slot, std::move(op), attempt);
  if (options_.mode == RoutingMode::kRedirect && !op.internal) {
    const cluster::NodeInfo* n = map_.node(*leader);
    SHOAL_ASSERT(n != nullptr);
    kv::RecordedReply reply;
    reply.error(fmt::format("MOVED {} {}:{}", slot.value(), n->host, n->client_port));
    return op.done(Status::ok(), std::move(reply));
  }
  forward(*leader, shard, slot, std::move(op), attempt);
}

void ClusterNode::run_local(replica::Replica& r, Op&& op) {
  if (op.spec->is_write()) {
    int64_t now = request_time_ms_ ? *request_time_ms_ : clock_.now_ms();
    r.propose(kv::WriteCommand{0, 0, now, std::move(op.args)}, std::move(op.done));
  } else if (r.is_leader()) {
    r.read(*op.spec, std::move(op.args), std::move(op.done));
  } else {
    // A follower's ReadIndex request to the leader (or its answer) can be
    // lost, and Raft does not time it out: the read gets a deadline here
    // (H22). Failing a read is always safe.
    r.read(*op.spec, std::move(op.args), with_deadline(std::move(op.done)));
  }
}

// A READONLY connection's read on a local follower, which asks the leader it
// knows for the commit index (follower ReadIndex).
bool ClusterNode::follower_readable(replica::Replica& r, const kv::CommandSpec& spec,
                                    ClientContext ctx) {
  return ctx.readonly && !spec.is_write() && !r.is_leader() && r.raft().leader().value() != 0;
}

// Wraps `done` so that it is called exactly once: by the operation, or with
// kUnavailable when forward_timeout_ms passes first.
Reply ClusterNode::with_deadline(Reply done) {
  auto shared = std::make_shared<Reply>(std::move(done));
  deadlines_.push_back(Deadline{now_ms() + options_.forward_timeout_ms, shared});
  return [shared](Status s, kv::RecordedReply reply) {
    if (!*shared) return;  // timed out already
    Reply d = std::exchange(*shared, nullptr);
    d(std::move(s), std::move(reply));
  };
}

void ClusterNode::expire_deadlines() {
  int64_t now = now_ms();
  std::vector<Reply> expired;
  std::erase_if(deadlines_, [&](Deadline& d) {
    if (!*d.done) return true;  // answered
    if (d.at_ms > now) return false;
    expired.push_back(std::exchange(*d.done, nullptr));
    return true;
  });
  for (auto& done : expired) done(Status::unavailable("no answer in time; retry"), {});
}

// Whether this replica takes `spec` now: a leader serves writes unless it is
// handing leadership over (Raft refuses proposals then; the write waits for
// the transfer to end instead of failing), and reads once an entry of its
// term committed (before that Raft refuses them, H12; the read waits).
bool ClusterNode::serves(replica::Replica& r, const kv::CommandSpec& spec) {
  if (!r.is_leader()) return false;
  if (spec.is_write()) return r.raft().transferee().value() == 0;
  const raft::RaftLog& log = r.raft().log();
  return log.term(log.committed()) == r.raft().term();
}

void ClusterNode::wait_for_leader(ShardId shard, Slot slot, Op op, int attempt, int64_t delay_ms) {
  int64_t now = now_ms();
  waiting_.push_back(
      Waiting{shard, slot, std::move(op), attempt, now + options_.leader_wait_ms, now + delay_ms});
}

// Commands that waited for an election go again once a leader is known, or
// end with CLUSTERDOWN at their deadline.
void ClusterNode::retry_waiting() {
  size_t n = waiting_.size();
  for (size_t i = 0; i < n; ++i) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    replica::Replica* r = host_.replica(w.shard);
    bool ready =
        (r && serves(*r, *w.op.spec)) || (r && follower_readable(*r, *w.op.spec, w.op.ctx));
    std::optional<NodeId> leader = leader_of(w.shard);
    if (now_ms() < w.not_before_ms) {
      waiting_.push_back(std::move(w));
    } else if (ready || (leader && *leader != options_.id)) {
      run_on_shard(w.shard, w.slot, std::move(w.op), w.attempt);
    } else if (now_ms() >= w.deadline_ms) {
      kv::RecordedReply reply;
      reply.error("CLUSTERDOWN The cluster is down");
      w.op.done(Status::ok(), std::move(reply));
    } else {
      waiting_.push_back(std::move(w));
    }
  }
}

// ---- loop --------------------------------------------------------------

void ClusterNode::tick() {
  host_.tick();
  ++ticks_;
  if (options_.clustered && ticks_ % options_.hint_interval_ticks == 0) announce_leadership();
  if (options_.clustered && options_.balance_interval_ticks > 0 &&
      ticks_ % options_.balance_interval_ticks == 0) {
    balance_leaders();
  }
  expire_forwards();
  if (!deadlines_.empty()) expire_deadlines();
  if (!waits_.empty()) check_waits();
}

bool ClusterNode::has_ready() {
  for (replica::Replica* r : local_) {
    if (r->has_ready()) return true;
  }
  replica::Replica* meta = host_.replica(cluster::kMetaShard);
  return meta && meta->has_ready();
}

Status ClusterNode::run_once() {
  Status s = host_.run_once();
  snapshots_->poll();
  int64_t now = now_ms();
  for (replica::Replica* r : local_) {
    NodeId lead = r->raft().leader();
    if (lead.value() != 0)
      leaders_.observe(r->shard(), r->raft().term(), lead, now);
    else
      leaders_.forget(r->shard(), r->raft().term());
  }
  if (!waiting_.empty()) retry_waiting();
  if (!forwards_.empty()) reroute_reads();
  if (!waits_.empty()) check_waits();
  if (options_.clustered && !map_written_) write_map_to_meta_shard();
  return s;
}

void ClusterNode::announce_leadership() {
  std::vector<transport::LeaderHint> hints;
  for (replica::Replica* r : local_) {
    if (r->is_leader())
      hints.push_back(transport::LeaderHint{r->shard(), r->raft().term(), options_.id});
  }
  if (hints.empty()) return;
  for (const auto& n : map_.nodes) {
    if (n.id == options_.id) continue;
    auto& out = peers_.outgoing(n.id).hints;
    out.insert(out.end(), hints.begin(), hints.end());
  }
}

// The meta shard holds the cluster map (DESIGN.md section 2). Its first
// leader writes the map the cluster was created with; later changes (node
// add/remove, moves) will be proposed there by the control plane.
void ClusterNode::write_map_to_meta_shard() {
  replica::Replica* meta = host_.replica(cluster::kMetaShard);
  if (!meta || !meta->is_leader() || map_write_in_flight_) return;
  map_write_in_flight_ = true;
  kv::WriteCommand cmd{0,
                       0,
                       clock_.now_ms(),
                       {"SET", std::string(kMapKey), cluster::encode_cluster_map(map_), "NX"}};
  meta->propose(cmd, [this](Status s, kv::RecordedReply) {
    map_write_in_flight_ = false;
    if (s.is_ok()) map_written_ = true;
  });
}

size_t ClusterNode::expire_cycle(size_t limit) {
  size_t n = 0;
  for (replica::Replica* r : local_) {
    if (r->is_leader() && n < limit) n += r->propose_expirations(limit - n);
  }
  return n;
}

// Leaders spread evenly (issue 5): the placement names a preferred leader per
// shard (its first replica), balanced across nodes. Elections ignore it, so a
// leader that is not the preferred one hands over to it once that replica is
// alive and fully caught up - a few shards per round, so that a restarted node
// takes its share back gradually.
void ClusterNode::balance_leaders() {
  constexpr int kMaxPerRound = 4;
  int moved = 0;
  for (const auto& shard : map_.shards) {
    if (moved >= kMaxPerRound) break;
    replica::Replica* r = host_.replica(shard.id);
    if (!r || !r->is_leader() || shard.replicas.empty()) continue;
    NodeId preferred = shard.replicas.front();
    if (preferred == options_.id || r->raft().transferee().value() != 0) continue;
    const raft::Progress* p = r->raft().progress(preferred);
    if (!p || !p->recent_active || p->match != r->raft().log().last_index()) continue;
    Status st = r->raft().transfer_leadership(preferred);
    spdlog::debug("balance: shard {} -> node {}: {}", shard.id.value(), preferred.value(),
                  st.to_string());
    if (st.is_ok()) ++moved;
  }
}

size_t ClusterNode::transfer_leaderships() {
  size_t still = 0;
  auto hand_over = [&](ShardId id) {
    replica::Replica* r = host_.replica(id);
    if (!r || !r->is_leader()) return;
    if (r->raft().transferee().value() != 0) {  // already handing over
      ++still;
      return;
    }
    // The most caught-up voter that answered recently: a dead one would
    // only make the transfer time out.
    NodeId best;
    LogIndex best_match;
    for (NodeId v : r->raft().conf().voters) {
      const raft::Progress* p = r->raft().progress(v);
      if (v == options_.id || !p || !p->recent_active) continue;
      if (best.value() == 0 || p->match > best_match) {
        best = v;
        best_match = p->match;
      }
    }
    // No live voter to take over: nothing to wait for.
    if (best.value() != 0 && r->raft().transfer_leadership(best).is_ok()) ++still;
  };
  for (const auto& shard : map_.shards) hand_over(shard.id);
  hand_over(cluster::kMetaShard);
  return still;
}

size_t ClusterNode::dbsize() {
  size_t n = 0;
  for (replica::Replica* r : local_) {
    if (r->is_leader()) n += r->state_machine().store().size();
  }
  return n;
}

std::pair<uint64_t, uint64_t> ClusterNode::compactions() {
  std::pair<uint64_t, uint64_t> n{0, 0};
  for (replica::Replica* r : local_) {
    n.first += r->memory_only_compactions();
    n.second += r->stored_compactions();
  }
  return n;
}

size_t ClusterNode::expires_count() {
  size_t n = 0;
  for (replica::Replica* r : local_) {
    if (r->is_leader()) n += r->state_machine().store().expires_count();
  }
  return n;
}

int64_t ClusterNode::now_ms() const { return clock_.monotonic_ns() / 1'000'000; }

}  // namespace shoal::node
