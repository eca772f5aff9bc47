// Internal to shoal_env_rocksdb: RocksDB's file, directory, lock and logger
// objects over env::Disk handles. Use rocksdb_fs.h instead.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "env/disk.h"

namespace shoal::env::rocks_internal {

std::unique_ptr<rocksdb::FSSequentialFile> sequential_file(std::unique_ptr<ReadableFile> file);
std::unique_ptr<rocksdb::FSRandomAccessFile> random_access_file(std::unique_ptr<ReadableFile> file);
std::unique_ptr<rocksdb::FSWritableFile> writable_file(std::unique_ptr<WritableFile> file,
                                                       const rocksdb::FileOptions& options);
// A WAL file with pre-written space, and what its successor needs of it.
// Overwrites of pre-written zeros reach the disk in no order, also across
// files: so before the first byte is written to a new WAL, the WAL before it
// is synced (RocksDB writes only to its newest WAL). At any time at most one
// WAL then holds bytes not yet synced, and a prefix of each file is a prefix
// of them all (storage/wal_tail.h cuts each file).
struct WalState {
  std::mutex mu;
  std::unique_ptr<WritableFile> file;  // guarded by mu
  bool closed = false;                 // guarded by mu
};
std::unique_ptr<rocksdb::FSWritableFile> wal_file(std::shared_ptr<WalState> self,
                                                  std::shared_ptr<WalState> predecessor,
                                                  const rocksdb::FileOptions& options);
std::unique_ptr<rocksdb::FSDirectory> directory(Disk* disk, std::string path);
std::shared_ptr<rocksdb::Logger> logger(std::unique_ptr<WritableFile> file);
// The returned lock owns `lock`; RocksFileSystem::UnlockFile deletes it.
rocksdb::FileLock* file_lock(std::unique_ptr<FileLock> lock);

}  // namespace shoal::env::rocks_internal
