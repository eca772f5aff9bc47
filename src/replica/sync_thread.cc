#include "replica/sync_thread.h"

#include <algorithm>
#include <chrono>

#include "base/thread_name.h"

namespace shoal::replica {

SyncThread::SyncThread(LogStore& store, Done done)
    : store_(store), done_(std::move(done)), thread_([this] { run(); }) {}

SyncThread::~SyncThread() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void SyncThread::request(uint64_t ticket) {
  {
    std::lock_guard lock(mu_);
    wanted_ = std::max(wanted_, ticket);
  }
  cv_.notify_one();
}

SyncThread::Stats SyncThread::stats() const {
  return Stats{.syncs = syncs_.load(std::memory_order_relaxed),
               .sync_us = sync_ns_.load(std::memory_order_relaxed) / 1000,
               .wait_us = wait_ns_.load(std::memory_order_relaxed) / 1000};
}

void SyncThread::run() {
  set_thread_name("shoal-sync");
  // Timing for stats() only: it decides nothing, so it reads the OS clock
  // rather than the env's.
  using Clock = std::chrono::steady_clock;
  auto ns_since = [](Clock::time_point t) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
  };
  std::unique_lock lock(mu_);
  while (true) {
    const auto waiting = Clock::now();
    cv_.wait(lock, [this] { return stopping_ || wanted_ > synced_; });
    if (wanted_ <= synced_) return;  // stopping, nothing left to sync
    wait_ns_.fetch_add(ns_since(waiting), std::memory_order_relaxed);
    uint64_t ticket = wanted_;
    lock.unlock();
    const auto syncing = Clock::now();
    Status s = store_.sync();
    sync_ns_.fetch_add(ns_since(syncing), std::memory_order_relaxed);
    syncs_.fetch_add(1, std::memory_order_relaxed);
    done_(ticket, std::move(s));
    lock.lock();
    synced_ = ticket;
  }
}

}  // namespace shoal::replica
