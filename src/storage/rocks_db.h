// RocksDb: the node's one RocksDB instance and its three column families
// (docs/durable-shards.md, "Storage layout"):
//   data        shard | tenant | slot+hash | key  -> kv record   (RocksEngine)
//   raft_log    shard | index                     -> log record  (RaftStorage)
//   raft_state  shard | tag                       -> small state (RaftStorage)
//
// Ownership: RocksDb owns the rocksdb::DB and its column family handles; the
// engines and RaftStorage instances borrow them and must be destroyed first.
// Thread-safety: the handles are safe to use from several threads (RocksDB's
// own guarantee), but Shoal drives one node's storage from one thread.
// Durability: nothing is written here except when opening (creating missing
// column families); see group_commit.h for when writes become durable.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/status.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/wal_tail.h"

namespace shoal::storage {

struct RocksDbOptions {
  std::string path;  // directory of the instance; created if missing
  // All file access goes through this Env (nullptr = rocksdb::Env::Default()).
  // The fault-injection FileSystem adapter is plugged in here. Not owned; must
  // outlive the RocksDb.
  rocksdb::Env* env = nullptr;
  size_t write_buffer_bytes = 64 << 20;  // per column family memtable
  size_t block_cache_bytes = 128 << 20;  // shared by data and raft_log
  int background_jobs = 2;
  // RocksDB's manual_wal_flush: a write appends its WAL record to RocksDB's
  // buffer instead of writing it to the file, and sync_wal() writes the
  // buffer and syncs it. For the pipelined sync (fsync always): the raft loop
  // makes no write syscall per batch, the sync thread one per sync. Only
  // where every acknowledged write waits for sync_wal(): a process crash
  // loses what is still in the buffer (never acknowledged), where without it
  // the page cache would have kept it.
  bool manual_wal_flush = false;
  // Pre-written WAL space (env::AppendOptions::prewrite_bytes; 0 = off): a
  // WAL sync overwrites zeros already on disk instead of growing the file,
  // so the file system need not journal a new size per sync. For fsync
  // always, where every write waits for a sync. With env == nullptr, open()
  // builds its own Env (RocksDB's default, the WAL through env::PosixDisk);
  // a caller's env must have been built with the same setting
  // (env::new_rocks_env(disk, wal_prewrite_bytes)).
  uint64_t wal_prewrite_bytes = 0;
};

class RocksDb {
 public:
  // Opens (creating if missing) the instance with its three column families.
  static Result<std::unique_ptr<RocksDb>> open(const RocksDbOptions& options);
  ~RocksDb();
  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* data() const { return data_; }
  rocksdb::ColumnFamilyHandle* raft_log() const { return raft_log_; }
  rocksdb::ColumnFamilyHandle* raft_state() const { return raft_state_; }

  // Makes every write so far durable: SyncWAL, after writing the WAL buffer
  // with manual_wal_flush. Safe while another thread writes.
  Status sync_wal();

  // What open() cut off the WALs' ends before RocksDB replayed them
  // (pre-written zeros, wal_tail.h).
  WalTailCuts wal_tail_cuts() const { return wal_tail_cuts_; }

 private:
  RocksDb() = default;
  std::unique_ptr<rocksdb::Env> owned_env_;  // before db_: outlives it
  std::unique_ptr<env::FileLock> cut_lock_;  // SHOAL_LOCK: held from before the WAL cut
  std::unique_ptr<rocksdb::DB> db_;
  bool manual_wal_flush_ = false;
  WalTailCuts wal_tail_cuts_;
  rocksdb::ColumnFamilyHandle* data_ = nullptr;
  rocksdb::ColumnFamilyHandle* raft_log_ = nullptr;
  rocksdb::ColumnFamilyHandle* raft_state_ = nullptr;
};

// Maps a RocksDB status to Shoal's codes; `what` names the operation.
Status from_rocks(const rocksdb::Status& s, std::string_view what);

// Big-endian fixed-width integers: they sort like the numbers they encode,
// which is what makes a shard (and a log) a contiguous, ordered key range.
void put_big_endian64(std::string& out, uint64_t v);
void put_big_endian16(std::string& out, uint16_t v);
uint64_t get_big_endian64(std::string_view in);  // requires in.size() >= 8

}  // namespace shoal::storage
