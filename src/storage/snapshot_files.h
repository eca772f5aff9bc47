// SnapshotFiles: serialized state-machine snapshots as files beside the
// node's RocksDB, and SnapshotFileWriter, which writes them off the host's
// thread (docs/durable-shards.md, "Snapshot files").
//
// Why files: a snapshot of the in-memory engine is the whole state (~100 bytes
// per key). Stored as one RocksDB value it went through the WAL (with the
// Debian library's software CRC), the memtable and a flush: ~10% of the server's CPU at
// 100k keys, a 10 MB fsync stall in the group commit, and a hard limit of
// 4 GiB per value. A file is written once, checksummed once, synced once.
//
// Layout: <dir>/s<shard>-i<index>-n<sequence>.snap (the sequence continues
// after the highest on disk, so a name is never reused while its file
// exists), written as a ".tmp" file,
// synced, renamed, and the directory synced; only then may a reference to it
// (SnapshotFileRef, stored in RocksDB in the same batch as the log compaction
// it allows) become durable. A file no durable reference names is garbage:
// remove_unreferenced() deletes them.
//
// All file access goes through the rocksdb::Env given at open, so the
// fault-injection file system (env/rocksdb_fs.h) covers snapshot files too.
// Thread-safety: SnapshotFiles' methods may run on different threads for
// different files; SnapshotFileWriter is used from one thread (the host's).
#pragma once

#include <rocksdb/env.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "storage/raft_records.h"

namespace shoal::storage {

class SnapshotFiles {
 public:
  // Creates `dir` if missing. `env` is not owned (nullptr: Env::Default()).
  static Result<std::unique_ptr<SnapshotFiles>> open(rocksdb::Env* env, std::string dir);

  // Writes `data` durably (synced, renamed into place, directory synced).
  Result<SnapshotFileRef> write(ShardId shard, LogIndex index, std::string_view data);
  // The file's bytes; Status::corruption if its size or checksum differ
  // from the reference, Status::not_found if it is missing.
  Result<std::string> read(const SnapshotFileRef& ref) const;
  // Deletes `shard`'s files (and leftover .tmp files) whose names are not
  // in `keep`. Only for files no durable reference can name any more.
  void remove_unreferenced(ShardId shard, const std::set<std::string>& keep);
  // Deletes one file (missing is fine).
  void remove(const std::string& name);
  const std::string& dir() const { return dir_; }

 private:
  SnapshotFiles(rocksdb::Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  rocksdb::Env* env_;
  std::string dir_;
  std::mutex mu_;          // guards sequence_
  uint64_t sequence_ = 0;  // the last number used
};

// One background thread that writes snapshot files, so that the host's loop
// never waits for a snapshot's write and fsync.
class SnapshotFileWriter {
 public:
  struct Job {
    ShardId shard;
    SnapshotRecord meta;
    std::string data;
  };
  struct Done {
    ShardId shard;
    SnapshotRecord meta;
    Result<SnapshotFileRef> ref;
  };

  explicit SnapshotFileWriter(SnapshotFiles& files);
  ~SnapshotFileWriter();  // finishes the job in progress, drops queued ones
  SnapshotFileWriter(const SnapshotFileWriter&) = delete;
  SnapshotFileWriter& operator=(const SnapshotFileWriter&) = delete;

  // Queues a job; a queued (not yet started) job of the same shard is
  // replaced: only the newest snapshot is worth writing.
  void submit(Job job);
  // Finished jobs, oldest first.
  std::vector<Done> take_done();
  // Waits until every submitted job is done (tests and shutdown).
  void drain();

 private:
  void run();

  SnapshotFiles& files_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<Done> done_;
  size_t busy_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace shoal::storage
