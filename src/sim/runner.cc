#include "sim/runner.h"

namespace shoal::sim {

SeedResult run_seed(const SimConfig& cfg) {
  SimCluster c(cfg);
  SeedResult r;
  r.seed = cfg.seed;
  r.violation = c.run();
  r.trace_hash = c.trace_hash();
  r.stats = c.stats();
  return r;
}

namespace {
struct KnobName {
  const char* name;
  bool raft::TestingKnobs::*field;
};
constexpr KnobName kKnobs[] = {
    {"commit_prior_term_entries", &raft::TestingKnobs::commit_prior_term_entries},
    {"skip_vote_log_check", &raft::TestingKnobs::skip_vote_log_check},
    {"allow_concurrent_conf_changes", &raft::TestingKnobs::allow_concurrent_conf_changes},
    {"lease_without_check_quorum", &raft::TestingKnobs::lease_without_check_quorum},
    {"send_before_persist", &raft::TestingKnobs::send_before_persist},
    {"read_before_own_term_commit", &raft::TestingKnobs::read_before_own_term_commit},
    {"accept_stale_persist_acks", &raft::TestingKnobs::accept_stale_persist_acks},
    {"campaign_with_unapplied_conf", &raft::TestingKnobs::campaign_with_unapplied_conf},
    {"read_without_quorum_round", &raft::TestingKnobs::read_without_quorum_round},
    {"count_self_before_persist", &raft::TestingKnobs::count_self_before_persist},
};
}  // namespace

bool set_knob(raft::TestingKnobs& k, const std::string& name) {
  for (const auto& kn : kKnobs) {
    if (name == kn.name) {
      k.*kn.field = true;
      return true;
    }
  }
  return false;
}

std::string knob_list() {
  std::string out;
  for (const auto& kn : kKnobs) out += std::string(out.empty() ? "" : ", ") + kn.name;
  return out;
}

}  // namespace shoal::sim
