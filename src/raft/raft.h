// Shoal's Raft: a pure consensus state machine (DESIGN.md §5).
//
// WHAT IT IS. One Raft replica of one group, in the style of etcd's raft and
// ScyllaDB's fsm: no I/O, no threads, no clock. Time is `tick()`, input is
// `step()` and the host's calls below, output is a `Ready` batch. Everything
// is deterministic given the Config (including its seed) and the call order.
// Not thread-safe: one Raft is driven by one thread at a time.
//
// THE HOST CONTRACT (what the host must do, in this order, every iteration):
//   1. Feed input: tick() at a fixed rate; step() every message received for
//      this group (any order, duplicates and losses are fine); propose(),
//      read_index(), transfer_leadership() as clients ask.
//   2. If has_ready(), take `Ready rd = ready()` and handle it:
//      a. Send `rd.messages` now (they don't depend on local durability).
//         For a kSnap message attach the data of the host's snapshot taken
//         at msg.snapshot.meta.index, and later call report_snapshot().
//      b. Persist, atomically and in Ready order: `rd.snapshot` (replaces the
//         log up to its index), `rd.hard_state` (term and vote together:
//         never torn, H16), then `rd.entries` (which overwrite any stored
//         entries at the same or higher indexes). fsync as configured.
//         The commit index may be stored later than the Ready that carries
//         it (Raft keeps it volatile), but the stored one must cover the
//         stored snapshot and every kConfChange entry in
//         `rd.committed_entries`: a replica restarted below an applied
//         membership change would run with the old membership.
//      c. Only after (b) is durable: send `rd.messages_after_persist`, then
//         call on_persisted(rd.persist_term, rd.persist_index) if
//         persist_index != 0. (b)+(c) may run asynchronously, while later
//         Readys are taken, provided Readys are persisted in order.
//      d. Install `rd.snapshot` into the state machine (if any), then apply
//         `rd.committed_entries` in order, persisting the applied index
//         atomically with the state it describes; then call
//         on_applied(rd.apply_index) if apply_index != 0. kConfChange entries
//         are applied to membership by the library itself inside on_applied.
//         (d) may lag behind on another thread's schedule, provided Readys are
//         applied and acknowledged in order.
//      e. Serve `rd.read_states` (ok ones) once applied >= state.index;
//         resolve clients from `rd.outcomes`.
//      A synchronous host may do a-e and then call advance(rd).
//   3. Compaction: after taking a snapshot of the state machine at applied
//      index i, call compact(i). Keep that snapshot to serve kSnap messages.
//   4. Restart: build InitialState from durable storage (hard state, latest
//      snapshot meta, entries after it, applied index) and call open().
//      Every proposal in flight at a crash has unknown outcome.
//
// WHAT THE LIBRARY GUARANTEES in return, if the host keeps the contract:
//   - Election safety (one leader per term), log matching, leader
//     completeness and state machine safety (Raft paper Figure 3), including
//     across crashes that lose anything not yet acknowledged via on_persisted.
//   - An entry is reported committed only once a quorum (both halves when
//     joint) has it durably, and only entries of the leader's own term are
//     committed by counting (§5.4.2).
//   - Every ProposalId returned by propose*() is reported exactly once in
//     Ready::outcomes as committed, rejected (definitely never committed) or
//     unknown (H18). A propose*() that returns an error appended nothing.
//   - A ReadState with ok=true, served after applying up to its index, is
//     linearizable (ReadIndex §6.4 of the Raft thesis, or a valid lease).
//   - Stale persistence acks (a (term, index) whose entry was since replaced)
//     are ignored (the etcd "append ABA" race).
//
// ASSUMPTIONS beyond the contract: lease reads (ReadMode::kLease) assume tick
// rates differ by less than lease_drift_ticks per election timeout, and that
// a kTimeoutNow older than an election timeout is dropped by the transport
// (a forced campaign ignores leader stickiness). docs/raft.md has the rest.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "raft/conf_change.h"
#include "raft/log.h"
#include "raft/progress.h"
#include "raft/read_only.h"
#include "raft/types.h"

namespace shoal::raft {

// Bug switches: each breaks one safety rule on purpose so the simulation
// harness can prove it catches the breakage (docs/raft.md, "teeth"). All
// false in production; never set them outside tests.
struct TestingKnobs {
  bool commit_prior_term_entries = false;      // break §5.4.2 (Figure 8)
  bool skip_vote_log_check = false;            // break §5.4.1 election restriction
  bool allow_concurrent_conf_changes = false;  // break "one pending change"
  bool lease_without_check_quorum = false;     // lease reads with no stickiness
  bool send_before_persist = false;            // send every message immediately
  bool read_before_own_term_commit = false;    // serve ReadIndex too early (H12)
  bool accept_stale_persist_acks = false;      // the append ABA race
  bool campaign_with_unapplied_conf = false;   // etcd-io/raft #469
  bool read_without_quorum_round = false;      // ReadIndex without confirming leadership
  bool count_self_before_persist = false;      // leader counts entries it has not made durable
};

enum class ReadMode : uint8_t {
  kReadIndex,  // every read costs a heartbeat round (batched)
  kLease,      // serve from the lease when valid, else ReadIndex
};

struct Config {
  NodeId id;
  int election_ticks = 10;  // randomized in [election_ticks, 2*election_ticks)
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;  // also enables leader stickiness
  ReadMode read_mode = ReadMode::kReadIndex;
  int lease_drift_ticks = 2;       // lease = election_ticks - drift after the round was sent
  size_t max_msg_bytes = 1 << 20;  // payload per kApp
  size_t max_inflight_msgs = 256;  // per follower in replicate state
  size_t max_inflight_bytes = 0;   // 0 = unbounded
  size_t max_uncommitted_bytes = 64 << 20;  // leader refuses proposals beyond
  size_t max_apply_bytes = 64 << 20;        // committed entries per Ready
  size_t max_tracked_proposals = 1 << 20;
  uint64_t seed = 1;  // randomizes election timeouts deterministically
  TestingKnobs knobs;

  Status validate() const;
};

struct InitialState {
  HardState hard_state;
  SnapshotMeta snapshot;       // compaction point and membership as of it
  std::vector<Entry> entries;  // durable entries after snapshot.index
  LogIndex applied;            // host state machine's applied index

  // A brand-new group: every initial voter starts from the same snapshot at
  // index 1 (term 1). A node joining later starts from InitialState{} and
  // receives a snapshot from the leader.
  static InitialState bootstrap(std::vector<NodeId> voters);
};

struct Ready {
  std::optional<HardState> hard_state;
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
  std::vector<Message> messages;
  std::vector<Message> messages_after_persist;
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
  std::vector<ProposalOutcome> outcomes;
  Term persist_term;       // pass to on_persisted once (b) is durable
  LogIndex persist_index;  // 0: nothing to acknowledge
  LogIndex apply_index;    // pass to on_applied once (d) is done; 0: nothing
};

class Raft {
 public:
  // Starts a replica from durable state (or InitialState::bootstrap).
  // Fails on an invalid Config or inconsistent state.
  static Result<std::unique_ptr<Raft>> open(const Config& cfg, InitialState state);

  // --- input ---
  // One unit of logical time; elections and heartbeats count ticks.
  void tick();
  // Messages come from peers: malformed ones are refused with an error.
  Status step(Message m);
  // Leader only. Fails with kUnavailable (not leader, transfer in progress) or
  // kBusy (uncommitted bytes bound) and then appended nothing.
  Result<ProposalId> propose(std::string data);
  // Also requires an entry of this term committed and no change pending.
  Result<ProposalId> propose_conf_change(const ConfChange& cc);
  // Leader only: hands leadership to a caught-up voter (thesis §3.10).
  // Proposals are refused until it succeeds or aborts (one election timeout).
  Status transfer_leadership(NodeId target);
  // Starts a linearizable read; the answer arrives as a ReadState with the
  // same context (on a follower, after asking the leader). Refused on a
  // leader that has not yet committed an entry of its term (H12).
  Status read_index(uint64_t context);
  // Campaigns now (host-driven, e.g. tests or graceful start); a no-op for
  // leaders, non-voters and nodes with an unapplied configuration change.
  void campaign();
  // The host took a snapshot of the state machine at `index` (<= applied):
  // drops the log up to it. Ignored if `index` is not applied and durable.
  void compact(LogIndex index);
  // The outcome of sending the snapshot of a kSnap message to `to`.
  void report_snapshot(NodeId to, bool ok);

  // --- output ---
  // True if ready() would return anything; cheap.
  bool has_ready() const;
  // Takes the pending output; see the contract at the top of this file.
  Ready ready();
  // Everything up to (term, index) of a Ready is durable. Ignored if the
  // entry at `index` no longer has `term` (a stale ack).
  void on_persisted(Term term, LogIndex index);
  // The state machine applied everything up to `index`; applies kConfChange
  // entries to the membership.
  void on_applied(LogIndex index);
  // Synchronous hosts: on_persisted + on_applied for `rd`.
  void advance(const Ready& rd);

  // --- observers ---
  NodeId id() const { return cfg_.id; }
  Term term() const { return term_; }
  Role role() const { return role_; }
  NodeId leader() const { return lead_; }
  NodeId vote() const { return vote_; }
  const ConfState& conf() const { return conf_; }
  const RaftLog& log() const { return log_; }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  bool lease_valid() const;
  NodeId transferee() const { return lead_transferee_; }
  const Progress* progress(NodeId id) const;
  const Config& config() const { return cfg_; }

 private:
  Raft(const Config& cfg);
  void init(InitialState&& st);

  // roles (raft.cc)
  void reset(Term term);
  void become_follower(Term term, NodeId lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  bool promotable() const;
  bool has_unapplied_conf(LogIndex upto) const;
  void send(Message&& m);
  void tick_election();
  void tick_heartbeat();
  uint64_t next_random();
  Status step_by_term(Message& m, bool& handled);
  void step_leader(Message& m);
  void step_candidate(Message& m);
  void step_follower(Message& m);

  // elections (raft_election.cc)
  void start_campaign(bool pre, bool force);
  void handle_vote_request(const Message& m);
  void handle_vote_response(const Message& m);

  // replication (raft_replication.cc)
  Progress* pr(NodeId id);
  void rebuild_progress();
  bool send_append(Progress& p, bool send_if_empty);
  void send_snapshot(Progress& p);
  void broadcast_append();
  void broadcast_heartbeat();
  void handle_append(Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(Message& m);
  void handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);
  bool maybe_commit();
  bool committed_own_term() const;
  Result<ProposalId> append_proposal(EntryType type, std::string data);
  void resolve_proposals();
  void expire_proposals(bool all);

  // membership and transfer (raft_membership.cc)
  void apply_conf_entry(const Entry& e);
  void maybe_auto_leave();
  void abort_transfer();
  void maybe_send_timeout_now(Progress& p);
  SnapshotMeta snapshot_meta_at(LogIndex index) const;

  // reads (raft_read.cc)
  void handle_read_request(uint64_t context, NodeId from);
  void finish_read(const PendingRead& r, bool ok);
  void start_read_round();
  void on_round_acked();

  Config cfg_;
  RaftLog log_;
  Term term_;
  NodeId vote_;
  NodeId lead_;
  Role role_ = Role::kFollower;
  ConfState conf_;
  SnapshotMeta snapshot_meta_;                               // as of log_.snap_index()
  std::deque<std::pair<LogIndex, ConfState>> conf_history_;  // applied after snapshot
  std::vector<Progress> prs_;                                // sorted by id; leader only
  std::vector<std::pair<NodeId, bool>> votes_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  uint64_t ticks_ = 0;  // monotonic; the lease clock
  uint64_t rng_ = 0;

  NodeId lead_transferee_;
  LogIndex pending_conf_index_;
  size_t uncommitted_bytes_ = 0;
  bool broadcast_pending_ = false;

  struct Tracked {
    ProposalId id;
    LogIndex index;
    Term term;
    size_t bytes;
  };
  std::deque<Tracked> proposals_;
  ProposalId next_proposal_id_ = 1;
  uint64_t proposal_deadline_ = 0;  // when not leader: unknown after this tick

  ReadQueue reads_;
  uint64_t round_ = 0;         // last heartbeat round sent
  uint64_t quorum_round_ = 0;  // last round acked by a quorum
  uint64_t lease_until_ = 0;   // tick until which the lease holds

  HardState prev_hs_;
  std::optional<Snapshot> pending_install_;
  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_;
  std::vector<ReadState> read_states_;
  std::vector<ProposalOutcome> outcomes_;
};

}  // namespace shoal::raft
