#include "replica/sync_thread.h"

#include <algorithm>

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

void SyncThread::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || wanted_ > synced_; });
    if (wanted_ <= synced_) return;  // stopping, nothing left to sync
    uint64_t ticket = wanted_;
    lock.unlock();
    Status s = store_.sync();
    done_(ticket, std::move(s));
    lock.lock();
    synced_ = ticket;
  }
}

}  // namespace shoal::replica
