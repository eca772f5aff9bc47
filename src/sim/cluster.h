// SimCluster: a seeded, deterministic in-memory Raft cluster on one thread.
//
// Each node is a real shoal::raft::Raft driven by a host that follows the
// contract in raft/raft.h: an asynchronous "disk" that persists Readys in
// order after a random delay (a crash loses whatever was not yet durable),
// a network with per-message delay, loss, duplication, reordering and
// symmetric/asymmetric partitions, and a key-value register state machine.
// Invariants are checked after every event (invariants.cc); any violation
// stops the run with a description. All randomness comes from one seed and
// nothing depends on addresses or hash-table order, so a seed replays exactly.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "sim/kv.h"
#include "sim/linearizability.h"
#include "sim/rng.h"

namespace shoal::sim {

using raft::Entry;
using raft::Message;

struct SimConfig {
  uint64_t seed = 1;
  raft::TestingKnobs knobs;
  uint64_t chaos_ms = 2500;
  uint64_t heal_ms = 2500;
  int initial_voters = 3;  // 3 or 5; 0 = chosen by the seed
  int clients = 4;
  int keys = 3;
  // Fault intensity: calm (nemesis every 20-200 ms), churn (every 5-50 ms,
  // longer, bursts of membership changes), or mixed (chosen by the seed).
  enum class Profile { kMixed, kCalm, kChurn } profile = Profile::kMixed;
  bool read_phases = false;  // read-mostly phases (quiet logs) under churn
  // How the host stores the commit index (docs/durable-shards.md, "The
  // commit index is written lazily"). kEager: with every hard state. kLazy:
  // as the replica host does - a commit-only hard state is held back until
  // a term or vote change, a snapshot, or a committed membership change.
  // kLazyIgnoringMembership: the same without the membership rule, a host
  // bug kept to show the simulator catches it.
  enum class CommitIndexWrite {
    kEager,
    kLazy,
    kLazyIgnoringMembership
  } commit_index = CommitIndexWrite::kEager;
  bool verbose = false;
};

// One client operation as recorded for the linearizability checker.
struct ClientOp {
  int id = 0;
  int client = 0;
  bool is_write = false;
  std::string key;
  std::string value;
  uint64_t call = 0;
  uint64_t ret = kNever;
  enum class State { kPending, kOk, kFailed, kAmbiguous } state = State::kPending;
};

struct PendingWrite {
  std::optional<raft::HardState> hs;
  std::optional<raft::Snapshot> snapshot;
  std::vector<Entry> entries;
  std::vector<Message> after;
  Term persist_term;
  LogIndex persist_index;
};

struct PendingApply {
  std::optional<raft::Snapshot> snapshot;
  std::vector<Entry> entries;
  LogIndex index;
};

struct SimNode {
  NodeId id;
  bool up = false;
  bool ever_member = false;
  bool retired = false;  // removed from the group: shut down for good (H13)
  uint64_t incarnation = 0;
  std::unique_ptr<raft::Raft> raft;
  // Durable state (survives crashes).
  raft::HardState hs;
  raft::SnapshotMeta snap_meta;
  std::string snap_data;
  std::vector<Entry> log;  // entries after snap_meta.index
  // Volatile host state.
  std::deque<PendingWrite> disk;
  bool disk_busy = false;
  std::deque<PendingApply> apply_queue;
  bool apply_busy = false;
  std::map<std::string, std::string> kv;
  LogIndex applied;
  uint64_t chain = 0;                           // hash chain over applied entries
  std::map<raft::ProposalId, int> proposals;    // -> op id
  std::map<uint64_t, int> reads_waiting_index;  // context -> op id
  std::vector<std::pair<LogIndex, int>> reads_waiting_apply;
  LogIndex commit_seen;  // for "commit never decreases" within an incarnation
  raft::Role last_role = raft::Role::kFollower;
  // SimConfig::commit_index lazy modes: the last hard state handed to the
  // disk, and a commit-only one held back (volatile).
  raft::HardState staged_hs;
  std::optional<raft::HardState> held_hs;
};

class SimCluster {
 public:
  explicit SimCluster(const SimConfig& cfg);
  ~SimCluster();

  // Runs chaos, then heal, then the checks. Returns "" or a violation.
  std::string run();
  uint64_t trace_hash() const { return trace_; }
  const std::vector<ClientOp>& history() const { return ops_; }
  struct Stats {
    uint64_t events = 0, messages = 0, commits = 0, writes_ok = 0, reads_ok = 0, ambiguous = 0;
    uint64_t crashes = 0, conf_changes = 0, snapshots = 0, transfers = 0, elections = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  friend class Invariants;
  // event loop (cluster.cc)
  void at(uint64_t time, std::function<void()> fn);
  void trace(uint64_t a, uint64_t b = 0, uint64_t c = 0);
  raft::Config raft_config(NodeId id, uint64_t incarnation);
  void start_node(SimNode& n, raft::InitialState st);
  void crash(SimNode& n);
  void restart(SimNode& n);
  SimNode* node(NodeId id);
  void schedule_tick(NodeId id, uint64_t incarnation);
  void dump();
  void draw_knobs(Rng& knobs);
  // host (host.cc)
  void pump(SimNode& n);
  std::optional<raft::HardState> hard_state_to_write(SimNode& n, const raft::Ready& rd,
                                                     const PendingApply& a);
  void persist(SimNode& n, PendingWrite w);
  void disk_done(NodeId id, uint64_t incarnation);
  bool write_durable(SimNode& n, PendingWrite& w);
  void apply(SimNode& n, const PendingApply& a);
  void apply_done(NodeId id, uint64_t incarnation);
  void finish_apply(SimNode& n, const PendingApply& a);
  void serve_reads(SimNode& n);
  void send(const Message& m);
  void deliver(Message m, uint64_t incarnation_of_sender);
  bool blocked(NodeId from, NodeId to) const;
  void take_snapshot(SimNode& n);
  void retire_removed(raft::ConfState cs);
  // invariants (invariants.cc)
  void check(SimNode& n);
  void check_new_leader(SimNode& n);
  void check_entries(SimNode& n, const std::vector<Entry>& es);
  void check_applied(SimNode& n, const Entry& e);
  void fail(std::string what);
  std::string check_history();
  // nemesis (nemesis.cc)
  void nemesis_step();
  void new_partition(NodeId victim);
  void heal();
  void janitor();
  void change_membership(SimNode& leader);
  SimNode* leader();
  // workload (workload.cc)
  void client_next(int client);
  void client_request(int op_id, NodeId target);
  void node_request(NodeId id, int op_id);
  void handle_outcomes(SimNode& n, const raft::Ready& rd);
  void reply(SimNode& n, int op_id, bool ok, const std::string& value, NodeId hint);
  void client_reply(int op_id, bool ok, bool ambiguous, const std::string& value, NodeId hint);
  void client_timeout(int op_id);

  SimConfig cfg_;
  raft::Config raft_template_;
  Rng rng_;
  Rng net_rng_;
  Rng nemesis_rng_;
  Rng client_rng_;
  uint64_t now_ = 0;
  uint64_t end_ = 0;  // the run ends here (extended while a healed cluster is stuck)
  uint64_t seq_ = 0;
  uint64_t trace_ = 0;
  bool stopped_ = false;
  std::string violation_;
  Stats stats_;

  struct Event {
    uint64_t time;
    uint64_t seq;
    std::function<void()> fn;
  };
  std::vector<Event> queue_;  // a heap ordered by (time, seq)

  std::map<NodeId, std::unique_ptr<SimNode>> nodes_;
  uint64_t next_node_id_ = 1;
  std::set<std::pair<NodeId, NodeId>> cut_;  // (from, to) links that drop everything
  double drop_ = 0, dup_ = 0;
  uint64_t max_delay_ms_ = 10;
  uint64_t max_disk_ms_ = 4;
  uint64_t max_apply_lag_ms_ =
      0;  // 0: apply within the Ready  // fsync latency bound, drawn per seed
  bool healing_ = false;
  bool churn_ = false;
  uint64_t newest_conf_applied_ = 0;
  int ticks_per_ms_div_ = 10;  // one raft tick every 10 ms

  // invariant state
  std::map<uint64_t, NodeId> leader_of_term_;
  std::vector<std::pair<Term, uint64_t>> committed_;            // by index: (term, entry hash)
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> entry_at_;  // (index, term) -> hash
  std::vector<uint64_t> chain_at_;                              // by index: applied chain hash

  // workload
  std::vector<ClientOp> ops_;
  std::vector<NodeId> client_hint_;
  std::vector<int> client_op_;  // current op per client (-1 none)
  uint64_t next_value_ = 1;
  uint64_t heal_writes_ok_ = 0;
  uint64_t last_leader_seen_ = 0;
};

}  // namespace shoal::sim
