// A linearizability checker for single-register-per-key histories (the KV
// workload): every key is checked independently (linearizability is local),
// first with a near-linear "zone" check that applies when every write wrote
// a unique value, then, if that finds a problem or does not apply, with the
// Wing & Gong search with Lowe's memoization (WGL).
//
// Ambiguous operations (a write whose outcome is unknown) have return time
// kNever: they may take effect at any point after their call, or never.
// Failed reads must be dropped by the caller: they carry no information.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace shoal::sim {

inline constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

struct Op {
  bool is_write = false;
  std::string value;  // written, or read ("" = the key was never written)
  uint64_t call = 0;
  uint64_t ret = kNever;  // kNever: outcome unknown (writes only)
  int client = 0;
};

struct CheckResult {
  bool ok = true;
  bool used_search = false;  // the WGL search ran
  std::string detail;
};

// Checks one key's history; the initial value is "".
CheckResult check_register(const std::vector<Op>& ops, size_t max_search_states = 2'000'000);

// The fast path alone: ok=true means linearizable. Requires unique written
// values; ok=false means "not proven" (the caller falls back to the search).
bool zone_check(const std::vector<Op>& ops, std::string* why);

// The exhaustive search alone (exposed for cross-checking in tests).
CheckResult wgl_check(const std::vector<Op>& ops, size_t max_states);

}  // namespace shoal::sim
