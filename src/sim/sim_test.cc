// Tests of the simulation harness itself: determinism and that clean seeds
// run clean (the long runs are ctests of shoal-raft-sim).
#include <gtest/gtest.h>

#include "sim/runner.h"

namespace shoal::sim {
namespace {

TEST(RaftSim, SameSeedSameTraceHash) {
  for (uint64_t seed : {1u, 7u, 123u}) {
    SimConfig cfg;
    cfg.seed = seed;
    SeedResult a = run_seed(cfg);
    SeedResult b = run_seed(cfg);
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.stats.events, b.stats.events);
    EXPECT_TRUE(a.violation.empty()) << a.violation;
  }
  SimConfig c1, c2;
  c1.seed = 1;
  c2.seed = 2;
  EXPECT_NE(run_seed(c1).trace_hash, run_seed(c2).trace_hash);
}

TEST(RaftSim, ChurnSeedsAreCleanAndDoWork) {
  SimCluster::Stats total;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimConfig cfg;
    cfg.seed = seed;
    cfg.profile = SimConfig::Profile::kChurn;
    SeedResult r = run_seed(cfg);
    ASSERT_TRUE(r.violation.empty()) << "seed " << seed << ": " << r.violation;
    total.writes_ok += r.stats.writes_ok;
    total.reads_ok += r.stats.reads_ok;
    total.crashes += r.stats.crashes;
    total.conf_changes += r.stats.conf_changes;
    total.snapshots += r.stats.snapshots;
    total.transfers += r.stats.transfers;
  }
  // The nemesis and the workload must actually exercise the system.
  EXPECT_GT(total.writes_ok, 1000u);
  EXPECT_GT(total.reads_ok, 1000u);
  EXPECT_GT(total.crashes, 50u);
  EXPECT_GT(total.conf_changes, 20u);
  EXPECT_GT(total.snapshots, 20u);
  EXPECT_GT(total.transfers, 5u);
}

TEST(RaftSim, BrokenRuleIsFound) {
  // A quick teeth check in-process; the full table is in the ctests.
  SimConfig cfg;
  cfg.knobs.read_before_own_term_commit = true;
  bool found = false;
  for (uint64_t seed = 1; seed <= 50 && !found; ++seed) {
    cfg.seed = seed;
    found = !run_seed(cfg).violation.empty();
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace shoal::sim
