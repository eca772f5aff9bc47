// Running seeds: one seed, or a range, with the replay command for failures.
#pragma once

#include <cstdint>
#include <string>

#include "sim/cluster.h"

namespace shoal::sim {

struct SeedResult {
  uint64_t seed = 0;
  std::string violation;  // empty = clean
  uint64_t trace_hash = 0;
  SimCluster::Stats stats;
};

SeedResult run_seed(const SimConfig& cfg);

// Names of the bug switches understood by --knob (TestingKnobs fields).
bool set_knob(raft::TestingKnobs& k, const std::string& name);
std::string knob_list();

}  // namespace shoal::sim
