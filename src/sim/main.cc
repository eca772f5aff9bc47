// shoal-raft-sim: runs the seeded Raft cluster simulation over a range of
// seeds. Exit 0 when every seed is clean (or, with --expect-violation, when
// some seed finds a violation); a failing seed prints its replay command.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "sim/runner.h"

using namespace shoal::sim;

namespace {

// The flags that, with --start/--seeds, reproduce a run exactly.
std::string replay_args(const SimConfig& base, const std::string& profile,
                        const std::string& commit_index, const std::vector<std::string>& knobs) {
  std::string out;
  if (commit_index != "eager") out += " --commit-index " + commit_index;
  if (base.read_phases) out += " --read-phases";
  if (profile != "mixed") out += " --profile " + profile;
  if (base.chaos_ms != SimConfig{}.chaos_ms) out += " --chaos-ms " + std::to_string(base.chaos_ms);
  if (base.heal_ms != SimConfig{}.heal_ms) out += " --heal-ms " + std::to_string(base.heal_ms);
  for (const auto& k : knobs) out += " --knob " + k;
  return out;
}

void accumulate(SimCluster::Stats& total, const SimCluster::Stats& s) {
  total.events += s.events;
  total.writes_ok += s.writes_ok;
  total.reads_ok += s.reads_ok;
  total.elections += s.elections;
  total.crashes += s.crashes;
  total.conf_changes += s.conf_changes;
  total.snapshots += s.snapshots;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Seeded deterministic simulation of the Shoal Raft library"};
  uint64_t start = 1, seeds = 100;
  std::vector<std::string> knobs;
  bool expect_violation = false, verbose = false, print_hash = false;
  SimConfig base;
  app.add_option("--start", start, "first seed");
  app.add_option("--seeds", seeds, "number of seeds to run");
  app.add_option("--knob", knobs, "break a safety rule on purpose: " + knob_list());
  app.add_option("--chaos-ms", base.chaos_ms, "virtual ms of faults");
  app.add_option("--heal-ms", base.heal_ms, "virtual ms after healing");
  std::string profile = "mixed";
  app.add_option("--profile", profile, "fault intensity: mixed (by seed), calm or churn")
      ->check(CLI::IsMember({"mixed", "calm", "churn"}));
  app.add_flag("--expect-violation", expect_violation,
               "succeed iff some seed finds a violation (teeth tests)");
  app.add_flag("--read-phases", base.read_phases, "alternate write-heavy and read-mostly phases");
  std::string commit_index = "eager";
  app.add_option("--commit-index", commit_index,
                 "how the host stores the commit index: eager (every hard state), lazy (as the "
                 "replica host: with term/vote changes, snapshots and membership changes) or "
                 "lazy-ignoring-membership (a host bug, for teeth tests)")
      ->check(CLI::IsMember({"eager", "lazy", "lazy-ignoring-membership"}));
  app.add_flag("--verbose", verbose, "print the nemesis and election log");
  app.add_flag("--print-hash", print_hash, "print each seed's trace hash");
  CLI11_PARSE(app, argc, argv);
  using CommitIndexWrite = SimConfig::CommitIndexWrite;
  base.commit_index = commit_index == "lazy"    ? CommitIndexWrite::kLazy
                      : commit_index == "eager" ? CommitIndexWrite::kEager
                                                : CommitIndexWrite::kLazyIgnoringMembership;
  for (const auto& k : knobs) {
    if (!set_knob(base.knobs, k)) {
      std::fprintf(stderr, "unknown knob %s (known: %s)\n", k.c_str(), knob_list().c_str());
      return 2;
    }
  }
  if (profile == "calm") base.profile = SimConfig::Profile::kCalm;
  if (profile == "churn") base.profile = SimConfig::Profile::kChurn;
  std::string knob_args = replay_args(base, profile, commit_index, knobs);
  auto t0 = std::chrono::steady_clock::now();
  SimCluster::Stats total;
  for (uint64_t s = start; s < start + seeds; ++s) {
    SimConfig cfg = base;
    cfg.seed = s;
    cfg.verbose = verbose;
    SeedResult r = run_seed(cfg);
    accumulate(total, r.stats);
    if (print_hash)
      std::printf("seed %llu trace %016llx\n", (unsigned long long)s,
                  (unsigned long long)r.trace_hash);
    if (!r.violation.empty()) {
      std::printf("seed %llu: VIOLATION %s\n", (unsigned long long)s, r.violation.c_str());
      std::printf("replay: shoal-raft-sim --start %llu --seeds 1%s --verbose\n",
                  (unsigned long long)s, knob_args.c_str());
      if (expect_violation) {
        std::printf("found after %llu seed(s)\n", (unsigned long long)(s - start + 1));
        return 0;
      }
      return 1;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "%llu seeds clean in %.1fs: %llu events, %llu writes ok, %llu reads ok, "
      "%llu elections, %llu crashes, %llu conf changes, %llu snapshots\n",
      (unsigned long long)seeds, secs, (unsigned long long)total.events,
      (unsigned long long)total.writes_ok, (unsigned long long)total.reads_ok,
      (unsigned long long)total.elections, (unsigned long long)total.crashes,
      (unsigned long long)total.conf_changes, (unsigned long long)total.snapshots);
  if (expect_violation) {
    std::printf("expected a violation within %llu seeds but found none\n",
                (unsigned long long)seeds);
    return 1;
  }
  return 0;
}
