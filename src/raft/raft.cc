// Raft: construction, roles, ticks, message dispatch and the Ready cycle.
#include "raft/raft.h"

#include <algorithm>

#include "base/assert.h"
#include "raft/quorum.h"

namespace shoal::raft {

const char* to_string(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

const char* to_string(MessageType t) {
  static const char* const kNames[] = {"App",     "AppResp",     "Vote",      "VoteResp",
                                       "PreVote", "PreVoteResp", "Heartbeat", "HeartbeatResp",
                                       "Snap",    "TimeoutNow",  "ReadIndex", "ReadIndexResp"};
  return kNames[static_cast<int>(t)];
}

Status Config::validate() const {
  if (id.value() == 0) return Status::invalid_argument("node id 0 is reserved");
  if (heartbeat_ticks <= 0 || election_ticks <= heartbeat_ticks) {
    return Status::invalid_argument("need 0 < heartbeat_ticks < election_ticks");
  }
  if (max_inflight_msgs == 0) return Status::invalid_argument("max_inflight_msgs must be > 0");
  // A lease without check-quorum has no leader stickiness behind it: another
  // leader can be elected while the lease still looks valid (DESIGN.md §5).
  if (read_mode == ReadMode::kLease && !check_quorum && !knobs.lease_without_check_quorum) {
    return Status::invalid_argument("lease reads require check_quorum");
  }
  if (lease_drift_ticks < 0 || lease_drift_ticks >= election_ticks) {
    return Status::invalid_argument("lease_drift_ticks must be in [0, election_ticks)");
  }
  return Status::ok();
}

InitialState InitialState::bootstrap(std::vector<NodeId> voters) {
  std::sort(voters.begin(), voters.end());
  InitialState st;
  st.snapshot.index = LogIndex(1);
  st.snapshot.term = Term(1);
  st.snapshot.conf.voters = std::move(voters);
  st.hard_state = {Term(1), NodeId(0), LogIndex(1)};
  st.applied = LogIndex(1);
  return st;
}

Raft::Raft(const Config& cfg) : cfg_(cfg) {}

Result<std::unique_ptr<Raft>> Raft::open(const Config& cfg, InitialState st) {
  if (Status s = cfg.validate(); !s.is_ok()) return s;
  if (st.applied < st.snapshot.index) return Status::invalid_argument("applied below snapshot");
  for (size_t i = 0; i < st.entries.size(); ++i) {
    if (st.entries[i].index.value() != st.snapshot.index.value() + 1 + i) {
      return Status::corruption("stored entries are not contiguous after the snapshot");
    }
  }
  std::unique_ptr<Raft> r(new Raft(cfg));
  r->init(std::move(st));
  return r;
}

void Raft::init(InitialState&& st) {
  rng_ = cfg_.seed * 0x9E3779B97F4A7C15ull + cfg_.id.value();
  log_.restore(st.snapshot.index, st.snapshot.term);
  snapshot_meta_ = st.snapshot;
  conf_ = st.snapshot.conf;
  LogIndex applied = std::min(st.applied, std::max(st.hard_state.commit, st.snapshot.index));
  log_.load(std::move(st.entries), st.hard_state.commit, st.snapshot.index);
  term_ = st.hard_state.term;
  vote_ = st.hard_state.vote;
  prev_hs_ = hard_state();
  // Replay membership changes the state machine already applied, so conf_
  // matches the applied index (configuration takes effect when applied).
  on_applied(std::min(applied, log_.committed()));
  become_follower(term_, NodeId(0));
}

uint64_t Raft::next_random() {
  // splitmix64: deterministic, seeded by the config.
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void Raft::reset(Term term) {
  if (term != term_) {
    term_ = term;
    vote_ = NodeId(0);
  }
  lead_ = NodeId(0);
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_timeout_ = cfg_.election_ticks + static_cast<int>(next_random() % cfg_.election_ticks);
  abort_transfer();
  votes_.clear();
  prs_.clear();
  pending_conf_index_ = LogIndex(0);
  uncommitted_bytes_ = 0;
  broadcast_pending_ = false;
  reads_.fail_all([&](const PendingRead& r) { finish_read(r, false); });
  quorum_round_ = round_;
  lease_until_ = 0;
}

void Raft::become_follower(Term term, NodeId lead) {
  bool was_leader = role_ == Role::kLeader;
  reset(term);
  role_ = Role::kFollower;
  lead_ = lead;
  if (was_leader || proposal_deadline_ == 0) {
    proposal_deadline_ = ticks_ + 2 * static_cast<uint64_t>(cfg_.election_ticks);
  }
}

void Raft::become_pre_candidate() {
  // Pre-vote changes neither term nor vote (Raft thesis §9.6).
  role_ = Role::kPreCandidate;
  votes_.clear();
  lead_ = NodeId(0);
  prs_.clear();
}

void Raft::become_candidate() {
  reset(term_.next());
  role_ = Role::kCandidate;
  vote_ = cfg_.id;
}

void Raft::become_leader() {
  SHOAL_ASSERT(role_ != Role::kFollower);
  reset(term_);
  role_ = Role::kLeader;
  lead_ = cfg_.id;
  proposal_deadline_ = 0;
  rebuild_progress();
  // Conservatively treat the whole log as possibly holding a pending change.
  pending_conf_index_ = log_.last_index();
  // The empty entry of our own term lets us commit earlier entries (§5.4.2)
  // and start serving reads (§8).
  log_.append(Entry{term_, log_.last_index().next(), EntryType::kNormal, {}});
  broadcast_pending_ = true;
}

bool Raft::promotable() const {
  // Learners and removed nodes never campaign; a learner still votes when
  // asked (it may have been promoted without knowing it, etcd #10998).
  return is_voter(conf_, cfg_.id);
}

bool Raft::has_unapplied_conf(LogIndex upto) const {
  if (cfg_.knobs.campaign_with_unapplied_conf) return false;
  for (LogIndex i = log_.applied().next(); i <= upto && i <= log_.last_index(); i = i.next()) {
    if (log_.at(i).type == EntryType::kConfChange) return true;
  }
  return false;
}

void Raft::campaign() {
  if (role_ == Role::kLeader || !promotable()) return;
  if (has_unapplied_conf(log_.committed())) return;
  start_campaign(cfg_.pre_vote, false);
}

void Raft::tick() {
  ++ticks_;
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
  if (role_ != Role::kLeader && !proposals_.empty() && ticks_ >= proposal_deadline_) {
    expire_proposals(true);
  }
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_timeout_ && promotable()) {
    election_elapsed_ = 0;
    if (has_unapplied_conf(log_.committed())) return;  // etcd-io/raft #469
    start_campaign(cfg_.pre_vote, false);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= cfg_.election_ticks) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum) {
      // Check-quorum: step down unless a quorum was heard from in the last
      // election timeout, so a partitioned leader stops acting as one.
      auto active = [&](NodeId id) -> std::optional<bool> {
        if (id == cfg_.id) return true;
        const Progress* p = pr(id);
        return p && p->recent_active;
      };
      bool ok = joint_vote(conf_, active) == VoteResult::kWon;
      for (auto& p : prs_) p.recent_active = p.id == cfg_.id;
      if (!ok) {
        become_follower(term_, NodeId(0));
        return;
      }
    }
    // A transfer that did not finish within an election timeout is aborted.
    if (lead_transferee_.value() != 0) abort_transfer();
  }
  if (heartbeat_elapsed_ >= cfg_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

void Raft::send(Message&& m) {
  m.from = cfg_.id;
  if (m.term.value() == 0) m.term = term_;
  // Only a leader's messages are independent of local durability: it counts
  // itself toward commit only after on_persisted, and its term and vote were
  // made durable before it could win. Everything else (votes, acks, term
  // bumps) must wait until the Ready is persisted.
  if (role_ == Role::kLeader || cfg_.knobs.send_before_persist) {
    msgs_.push_back(std::move(m));
  } else {
    msgs_after_.push_back(std::move(m));
  }
}

Status Raft::step(Message m) {
  if (m.to != cfg_.id) return Status::invalid_argument("message for another node");
  if (m.from.value() == 0 || m.from == cfg_.id) return Status::invalid_argument("bad sender");
  bool handled = false;
  if (Status s = step_by_term(m, handled); !s.is_ok() || handled) return s;
  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kPreVote:
      handle_vote_request(m);
      return Status::ok();
    default:
      break;
  }
  switch (role_) {
    case Role::kLeader:
      step_leader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      step_candidate(m);
      break;
    case Role::kFollower:
      step_follower(m);
      break;
  }
  return Status::ok();
}

// Term rules common to every role (§5.1), with pre-vote and stickiness.
Status Raft::step_by_term(Message& m, bool& handled) {
  bool vote_req = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (m.term > term_) {
    if (vote_req) {
      // Leader stickiness (thesis §4.2.3): ignore a vote request while we
      // believe a live leader exists, unless it is a forced transfer.
      bool in_lease =
          cfg_.check_quorum && lead_.value() != 0 && election_elapsed_ < cfg_.election_ticks;
      if (in_lease && !m.force) {
        handled = true;
        return Status::ok();
      }
    }
    if (m.type == MessageType::kPreVote || (m.type == MessageType::kPreVoteResp && !m.reject)) {
      // Pre-vote traffic never changes our term.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, NodeId(0));
    }
    return Status::ok();
  }
  if (m.term < term_) {
    handled = true;
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat)) {
      // A stale leader: tell it our term so it steps down (etcd #8501).
      send(Message{.type = MessageType::kAppResp, .to = m.from});
    } else if (m.type == MessageType::kPreVote) {
      send(Message{.type = MessageType::kPreVoteResp, .to = m.from, .reject = true});
    } else if (m.type == MessageType::kVote) {
      // §5.1: tell a stale candidate our term. Without this, a candidate can
      // stay behind forever while a node with a stale configuration keeps
      // raising the term of the only voters it can reach.
      send(Message{.type = MessageType::kVoteResp, .to = m.from, .reject = true});
    }
  }
  return Status::ok();
}

void Raft::step_follower(Message& m) {
  switch (m.type) {
    case MessageType::kApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_append(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_heartbeat(m);
      break;
    case MessageType::kSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_snapshot(m);
      break;
    case MessageType::kTimeoutNow:
      // Forced campaign for a transfer, but never with a configuration change
      // we have not applied (tikv #17363).
      if (promotable() && !has_unapplied_conf(log_.last_index())) start_campaign(false, true);
      break;
    case MessageType::kReadIndexResp:
      read_states_.push_back({m.context, m.index, !m.reject});
      break;
    default:
      break;
  }
}

void Raft::step_candidate(Message& m) {
  switch (m.type) {
    case MessageType::kApp:
    case MessageType::kHeartbeat:
    case MessageType::kSnap:
      become_follower(m.term, m.from);
      step_follower(m);
      break;
    case MessageType::kVoteResp:
    case MessageType::kPreVoteResp:
      handle_vote_response(m);
      break;
    default:
      break;
  }
}

void Raft::step_leader(Message& m) {
  switch (m.type) {
    case MessageType::kAppResp:
      handle_append_response(m);
      break;
    case MessageType::kHeartbeatResp:
      handle_heartbeat_response(m);
      break;
    case MessageType::kReadIndex:
      handle_read_request(m.context, m.from);
      break;
    default:
      break;
  }
}

}  // namespace shoal::raft
