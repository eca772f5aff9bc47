// Internal to shoal_env_rocksdb: RocksDB's file, directory, lock and logger
// objects over env::Disk handles. Use rocksdb_fs.h instead.
#pragma once

#include <memory>
#include <string>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "env/disk.h"

namespace shoal::env::rocks_internal {

std::unique_ptr<rocksdb::FSSequentialFile> sequential_file(std::unique_ptr<ReadableFile> file);
std::unique_ptr<rocksdb::FSRandomAccessFile> random_access_file(std::unique_ptr<ReadableFile> file);
std::unique_ptr<rocksdb::FSWritableFile> writable_file(std::unique_ptr<WritableFile> file,
                                                       const rocksdb::FileOptions& options);
std::unique_ptr<rocksdb::FSDirectory> directory(Disk* disk, std::string path);
std::shared_ptr<rocksdb::Logger> logger(std::unique_ptr<WritableFile> file);
// The returned lock owns `lock`; RocksFileSystem::UnlockFile deletes it.
rocksdb::FileLock* file_lock(std::unique_ptr<FileLock> lock);

}  // namespace shoal::env::rocks_internal
