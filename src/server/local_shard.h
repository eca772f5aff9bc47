// LocalShard: the node's keyspace on this single node, executing commands
// against one kv::Store under one mutex.
//
// This is the seam where replication goes: today a write is applied directly
// (RF 1, in memory); with the replica host (issue 4) a write becomes a Raft
// proposal carrying (args, now_ms) and is answered after it is applied, while
// reads keep running here. Expiry follows the same shape already: reads never
// delete; deletions of expired keys are explicit operations decided here (the
// "leader") and applied like writes.
//
// Thread-safety: all public methods are safe to call from any event loop.
#pragma once

#include <atomic>
#include <mutex>
#include <span>
#include <string_view>

#include "base/adaptive_mutex.h"
#include "env/clock.h"
#include "env/random.h"
#include "kv/command.h"

namespace shoal::server {

class LocalShard {
 public:
  explicit LocalShard(env::Clock& clock);

  // Runs a keyspace command (spec.handler != nullptr) and writes its reply.
  void execute(const kv::CommandSpec& spec, std::span<const std::string_view> args,
               kv::ReplySink& reply);

  // One bounded step of active expiry: deletes up to `max_keys` keys whose
  // expiry has passed. Returns how many it deleted.
  size_t expire_cycle(size_t max_keys);

  size_t dbsize();
  size_t expires_count();
  uint64_t expired_keys_total() const { return expired_total_.load(std::memory_order_relaxed); }

 private:
  void expire_seen_locked(int64_t now_ms);

  env::Clock& clock_;
  AdaptiveMutex mu_;
  kv::Store store_;     // guarded by mu_
  env::Random random_;  // guarded by mu_
  std::atomic<uint64_t> expired_total_{0};
};

}  // namespace shoal::server
