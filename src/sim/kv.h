// The key-value register state machine of the simulation workload: entries
// carry "key=value"; snapshots carry the whole map plus the apply hash chain.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/assert.h"
#include "base/coding.h"

namespace shoal::sim {

inline std::string encode_kv(const std::map<std::string, std::string>& kv, uint64_t chain) {
  std::string out;
  put_fixed64(out, chain);
  put_varint64(out, kv.size());
  for (const auto& [k, v] : kv) {
    put_length_prefixed(out, k);
    put_length_prefixed(out, v);
  }
  return out;
}

// Snapshots are produced by the simulator itself, so corruption is a bug.
inline std::map<std::string, std::string> decode_kv(std::string_view data, uint64_t* chain) {
  std::map<std::string, std::string> kv;
  *chain = 0;
  if (data.empty()) return kv;
  ByteReader r(data);
  auto c = r.fixed64();
  auto n = r.varint64();
  SHOAL_ASSERT(c && n);
  *chain = *c;
  for (uint64_t i = 0; i < *n; ++i) {
    auto k = r.length_prefixed();
    auto v = r.length_prefixed();
    SHOAL_ASSERT(k && v);
    kv.emplace(std::string(*k), std::string(*v));
  }
  return kv;
}

inline std::string encode_put(std::string_view key, std::string_view value) {
  std::string out(key);
  out.push_back('=');
  out.append(value);
  return out;
}

inline void apply_put(std::map<std::string, std::string>& kv, std::string_view cmd) {
  size_t eq = cmd.find('=');
  if (eq == std::string_view::npos) return;  // e.g. the leader's empty entry
  kv[std::string(cmd.substr(0, eq))] = std::string(cmd.substr(eq + 1));
}

}  // namespace shoal::sim
