#include "server/local_shard.h"

#include "storage/memory_engine.h"

namespace shoal::server {

LocalShard::LocalShard(env::Clock& clock)
    : clock_(clock),
      store_(std::make_unique<storage::MemoryEngine>()),
      random_(env::Random::from_os()) {}

void LocalShard::execute(const kv::CommandSpec& spec, std::span<const std::string_view> args,
                         kv::ReplySink& reply) {
  int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  store_.set_command_time(now);
  kv::CommandContext ctx{store_, args, reply, now, spec, random_.next()};
  spec.handler(ctx);
  expire_seen_locked(now);
}

// Keys that reads found expired are deleted now (lazy expiry), as explicit
// expiry operations, so the store never depends on who happened to read.
void LocalShard::expire_seen_locked(int64_t now_ms) {
  for (const auto& key : store_.take_expired_seen()) {
    if (!store_.find_for_write(key, now_ms).has_value()) {
      expired_total_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

size_t LocalShard::expire_cycle(size_t max_keys) {
  int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  auto due = store_.collect_expired(now, max_keys);
  size_t deleted = 0;
  for (const auto& [key, at] : due) {
    if (store_.expire_if_due(key, at, now)) ++deleted;
  }
  expired_total_.fetch_add(deleted, std::memory_order_relaxed);
  return deleted;
}

size_t LocalShard::dbsize() {
  std::lock_guard lock(mu_);
  return store_.size();
}

size_t LocalShard::expires_count() {
  std::lock_guard lock(mu_);
  return store_.expires_count();
}

}  // namespace shoal::server
