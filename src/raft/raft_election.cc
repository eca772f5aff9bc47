// Elections: pre-vote, vote and forced campaigns (Raft paper §5.2, §5.4.1;
// thesis §9.6 for pre-vote).
#include "raft/quorum.h"
#include "raft/raft.h"

namespace shoal::raft {

void Raft::start_campaign(bool pre, bool force) {
  MessageType type;
  Term term;
  if (pre) {
    become_pre_candidate();
    type = MessageType::kPreVote;
    term = term_.next();  // the term we would campaign at; ours is unchanged
  } else {
    become_candidate();
    type = MessageType::kVote;
    term = term_;
  }
  votes_.push_back({cfg_.id, true});
  auto vote_of = [&](NodeId id) -> std::optional<bool> {
    for (auto& [v, granted] : votes_) {
      if (v == id) return granted;
    }
    return std::nullopt;
  };
  if (joint_vote(conf_, vote_of) == VoteResult::kWon) {
    // A single-voter group wins at once.
    if (pre) {
      start_campaign(false, force);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId id : all_members(conf_)) {
    if (id == cfg_.id || !is_voter(conf_, id)) continue;
    send(Message{.type = type,
                 .to = id,
                 .term = term,
                 .log_term = log_.last_term(),
                 .index = log_.last_index(),
                 .force = force});
  }
}

void Raft::handle_vote_request(const Message& m) {
  // Votes are answered from the log, not from our view of the configuration:
  // a learner or a node that has not applied a change still votes (§5.4.1,
  // etcd #10998).
  bool can_vote = vote_ == m.from || (vote_.value() == 0 && lead_.value() == 0) ||
                  (m.type == MessageType::kPreVote && m.term > term_);
  bool log_ok = log_.is_up_to_date(m.index, m.log_term) ||
                (cfg_.knobs.skip_vote_log_check && m.type == MessageType::kVote);
  MessageType resp =
      m.type == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
  if (can_vote && log_ok) {
    // Reply at the request's term: for a pre-vote that is a future term.
    send(Message{.type = resp, .to = m.from, .term = m.term});
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    send(Message{.type = resp, .to = m.from, .reject = true});
  }
}

void Raft::handle_vote_response(const Message& m) {
  bool pre = role_ == Role::kPreCandidate;
  if ((pre && m.type != MessageType::kPreVoteResp) || (!pre && m.type != MessageType::kVoteResp)) {
    return;
  }
  bool seen = false;
  for (auto& [v, granted] : votes_) seen |= v == m.from;
  if (!seen) votes_.push_back({m.from, !m.reject});
  auto vote_of = [&](NodeId id) -> std::optional<bool> {
    for (auto& [v, granted] : votes_) {
      if (v == id) return granted;
    }
    return std::nullopt;
  };
  switch (joint_vote(conf_, vote_of)) {
    case VoteResult::kWon:
      if (pre) {
        start_campaign(false, false);
      } else {
        become_leader();
      }
      break;
    case VoteResult::kLost:
      become_follower(term_, NodeId(0));
      break;
    case VoteResult::kPending:
      break;
  }
}

}  // namespace shoal::raft
