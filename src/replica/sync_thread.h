// SyncThread: the fsync thread of the host's pipelined sync (host.h,
// HostOptions::defer_sync). The host's loop writes batches without syncing,
// takes a ticket covering them (Host::take_sync_request) and hands it here;
// this thread runs LogStore::sync() and reports the ticket it covered.
//
// Requests coalesce: one sync answers every ticket asked for before it began
// (a ticket is always taken after its batches were written, so a sync that
// begins later covers them). `done(ticket, status)` runs on this thread after
// each sync; it must hand the result to the host's thread (Host::on_synced is
// not thread-safe), e.g. by posting to its loop.
//
// Thread-safety: request() and stats() from any thread. The destructor finishes the sync
// in progress and any already asked for, then joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "base/status.h"
#include "replica/log_store.h"

namespace shoal::replica {

class SyncThread {
 public:
  using Done = std::function<void(uint64_t ticket, Status status)>;
  SyncThread(LogStore& store, Done done);
  ~SyncThread();
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  void request(uint64_t ticket);

  // What the thread did (INFO stats): syncs, time in LogStore::sync(), and
  // time spent waiting for a request. Any thread.
  struct Stats {
    uint64_t syncs = 0, sync_us = 0, wait_us = 0;
  };
  Stats stats() const;

 private:
  void run();

  LogStore& store_;
  Done done_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wanted_ = 0, synced_ = 0;  // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::atomic<uint64_t> syncs_{0}, sync_ns_{0}, wait_ns_{0};
  std::thread thread_;  // last: starts after the fields it reads
};

}  // namespace shoal::replica
