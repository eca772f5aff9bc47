// SimCluster: the event loop, node life cycle and the run's phases.
#include "sim/cluster.h"

#include <algorithm>
#include <cstdio>

#include "base/assert.h"

namespace shoal::sim {

namespace {
// A clean seed takes ~10-40k events; a storm is a bug worth reporting.
constexpr uint64_t kMaxEvents = 3'000'000;
constexpr uint64_t kLivenessGraceMs = 10'000;

bool later(const auto& a, const auto& b) {
  return a.time != b.time ? a.time > b.time : a.seq > b.seq;
}
}  // namespace

SimCluster::SimCluster(const SimConfig& cfg)
    : cfg_(cfg),
      rng_(cfg.seed),
      net_rng_(rng_.fork()),
      nemesis_rng_(rng_.fork()),
      client_rng_(rng_.fork()) {}

SimCluster::~SimCluster() = default;

void SimCluster::at(uint64_t time, std::function<void()> fn) {
  queue_.push_back({time, seq_++, std::move(fn)});
  std::push_heap(queue_.begin(), queue_.end(), [](auto& a, auto& b) { return later(a, b); });
}

void SimCluster::trace(uint64_t a, uint64_t b, uint64_t c) {
  trace_ = mix(mix(mix(mix(trace_, now_), a), b), c);
}

SimNode* SimCluster::node(NodeId id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

raft::Config SimCluster::raft_config(NodeId id, uint64_t incarnation) {
  // Knobs are drawn once per seed (BUGGIFY-style) in run(): the same for every node.
  raft::Config c = raft_template_;
  c.id = id;
  c.seed = cfg_.seed * 1000003 + id.value() * 7919 + incarnation;
  return c;
}

void SimCluster::start_node(SimNode& n, raft::InitialState st) {
  n.kv.clear();
  n.applied = st.snapshot.index;
  n.chain = 0;
  if (!n.snap_data.empty() || n.snap_meta.index.value() > 0) {
    // The state machine restarts from the durable snapshot.
    n.kv = decode_kv(n.snap_data, &n.chain);
  }
  n.staged_hs = st.hard_state;
  auto r = raft::Raft::open(raft_config(n.id, n.incarnation), std::move(st));
  SHOAL_ASSERT_MSG(r.is_ok(), r.status().to_string().c_str());
  n.raft = std::move(r).value();
  n.up = true;
  n.held_hs.reset();
  n.commit_seen = n.raft->log().committed();
  n.last_role = raft::Role::kFollower;
  schedule_tick(n.id, n.incarnation);
  trace(1, n.id.value(), n.incarnation);
}

void SimCluster::schedule_tick(NodeId id, uint64_t incarnation) {
  // Ticks every 10 ms, with a per-node phase so nodes do not tick in lockstep.
  uint64_t phase = (id.value() * 3 + incarnation) % 10;
  uint64_t next = (now_ / 10 + 1) * 10 + phase;
  at(next, [this, id, incarnation] {
    SimNode* n = node(id);
    if (!n || !n->up || n->incarnation != incarnation) return;
    n->raft->tick();
    pump(*n);
    schedule_tick(id, incarnation);
  });
}

void SimCluster::crash(SimNode& n) {
  if (!n.up) return;
  ++stats_.crashes;
  trace(2, n.id.value());
  // Everything not yet durable is lost, including in-flight client work:
  // writes become ambiguous, reads fail (the client sees a timeout).
  n.up = false;
  n.raft.reset();
  n.disk.clear();
  n.disk_busy = false;
  n.apply_queue.clear();
  n.apply_busy = false;
  n.proposals.clear();
  n.reads_waiting_index.clear();
  n.reads_waiting_apply.clear();
  ++n.incarnation;
  if (cfg_.verbose)
    std::printf("%8llu crash n%llu\n", (unsigned long long)now_, (unsigned long long)n.id.value());
}

void SimCluster::restart(SimNode& n) {
  if (n.up || n.retired) return;
  raft::InitialState st;
  st.hard_state = n.hs;
  st.snapshot = n.snap_meta;
  st.entries = n.log;
  st.applied = n.snap_meta.index;
  if (cfg_.verbose)
    std::printf("%8llu restart n%llu\n", (unsigned long long)now_,
                (unsigned long long)n.id.value());
  start_node(n, std::move(st));
  pump(n);
}

void SimCluster::dump() {
  for (auto& [id, n] : nodes_) {
    if (!n->up) {
      std::printf("n%llu down\n", (unsigned long long)id.value());
      continue;
    }
    const raft::Raft& r = *n->raft;
    std::string conf;
    for (NodeId v : r.conf().voters) conf += std::to_string(v.value()) + " ";
    conf += "| ";
    for (NodeId v : r.conf().voters_outgoing) conf += std::to_string(v.value()) + " ";
    conf += "| L ";
    for (NodeId v : r.conf().learners) conf += std::to_string(v.value()) + " ";
    std::printf(
        "n%llu %s term %llu lead %llu commit %llu applied %llu last %llu/%llu persisted %llu "
        "conf [%s] disk %zu\n",
        (unsigned long long)id.value(), raft::to_string(r.role()),
        (unsigned long long)r.term().value(), (unsigned long long)r.leader().value(),
        (unsigned long long)r.log().committed().value(),
        (unsigned long long)r.log().applied().value(),
        (unsigned long long)r.log().last_index().value(),
        (unsigned long long)r.log().last_term().value(),
        (unsigned long long)r.log().persisted().value(), conf.c_str(), n->disk.size());
    if (r.role() != raft::Role::kLeader) continue;
    for (NodeId m : raft::all_members(r.conf())) {
      const raft::Progress* p = r.progress(m);
      if (!p) continue;
      std::printf("   pr n%llu %s match %llu next %llu inflight %zu probe_sent %d\n",
                  (unsigned long long)m.value(), raft::to_string(p->state),
                  (unsigned long long)p->match.value(), (unsigned long long)p->next.value(),
                  p->inflights.count(), p->probe_sent);
    }
  }
}

// Per-seed configuration drawn from the seed (FoundationDB's BUGGIFY idea):
// the same for every node of the run.
void SimCluster::draw_knobs(Rng& knobs) {
  raft_template_.election_ticks = 10;
  raft_template_.heartbeat_ticks = knobs.chance(0.8) ? 1 : 2;
  raft_template_.pre_vote = knobs.chance(0.8);
  raft_template_.check_quorum = knobs.chance(0.8);
  raft_template_.read_mode = raft_template_.check_quorum && knobs.chance(0.5)
                                 ? raft::ReadMode::kLease
                                 : raft::ReadMode::kReadIndex;
  const size_t inflight[] = {1, 4, 256};
  raft_template_.max_inflight_msgs = inflight[knobs.below(3)];
  raft_template_.max_msg_bytes = knobs.chance(0.3) ? 64 : (1 << 20);
  raft_template_.knobs = cfg_.knobs;
  if (cfg_.knobs.lease_without_check_quorum) {
    // The dangerous configuration the switch allows: leases with neither
    // check-quorum nor pre-vote, i.e. with no leader stickiness at all.
    raft_template_.check_quorum = false;
    raft_template_.pre_vote = false;
    raft_template_.read_mode = raft::ReadMode::kLease;
  }
  churn_ = cfg_.profile == SimConfig::Profile::kChurn ||
           (cfg_.profile == SimConfig::Profile::kMixed && knobs.chance(0.5));
  drop_ = knobs.chance(0.5) ? 0.0 : 0.05;
  dup_ = knobs.chance(0.5) ? 0.0 : 0.05;
  max_delay_ms_ = knobs.range(2, 20);
  const uint64_t disk_ms[] = {1, 4, 20};
  max_disk_ms_ = disk_ms[knobs.below(3)];
  max_apply_lag_ms_ = knobs.chance(0.3) ? knobs.range(1, 15) : 0;
}

std::string SimCluster::run() {
  Rng knobs = rng_.fork();
  draw_knobs(knobs);
  int voters = cfg_.initial_voters ? cfg_.initial_voters : (knobs.chance(0.6) ? 3 : 5);
  std::vector<NodeId> ids;
  for (int i = 0; i < voters; ++i) ids.push_back(NodeId(next_node_id_++));
  for (NodeId id : ids) {
    auto n = std::make_unique<SimNode>();
    n->id = id;
    raft::InitialState st = raft::InitialState::bootstrap(ids);
    n->hs = st.hard_state;
    n->snap_meta = st.snapshot;
    n->snap_data = encode_kv({}, 0);
    SimNode& ref = *n;
    nodes_[id] = std::move(n);
    ref.ever_member = true;
    start_node(ref, st);
  }
  client_hint_.assign(cfg_.clients, NodeId(0));
  client_op_.assign(cfg_.clients, -1);
  for (int c = 0; c < cfg_.clients; ++c)
    at(client_rng_.range(1, 50), [this, c] { client_next(c); });
  at(nemesis_rng_.range(50, 200), [this] { nemesis_step(); });
  at(cfg_.chaos_ms, [this] { heal(); });
  end_ = cfg_.chaos_ms + cfg_.heal_ms;
  // Liveness deadline: a healed cluster that has not yet served a write gets
  // more time, up to kLivenessGraceMs, before the run calls it stuck.
  const uint64_t hard_end = end_ + kLivenessGraceMs;
  while (!queue_.empty() && !stopped_) {
    if (queue_.front().time > end_) {
      if (heal_writes_ok_ > 0 || end_ >= hard_end) break;
      end_ += 500;
      continue;
    }
    std::pop_heap(queue_.begin(), queue_.end(), [](auto& a, auto& b) { return later(a, b); });
    Event ev = std::move(queue_.back());
    queue_.pop_back();
    now_ = ev.time;
    if (++stats_.events > kMaxEvents) {
      fail("runaway: more than " + std::to_string(kMaxEvents) + " events (message storm?)");
      break;
    }
    ev.fn();
  }
  if (cfg_.verbose) dump();
  if (stopped_) return violation_;
  if (heal_writes_ok_ == 0) {
    return "liveness: no write succeeded within " +
           std::to_string(cfg_.heal_ms / 2 + kLivenessGraceMs) + " ms of healing";
  }
  return check_history();
}

}  // namespace shoal::sim
