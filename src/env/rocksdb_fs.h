// RocksFileSystem: a rocksdb::FileSystem whose every file and directory
// operation goes through an env::Disk, so one RocksDB instance runs on the
// real disk (PosixDisk) or on a simulated one (SimDisk) unchanged.
//
// Use:
//   env::SimDisk disk(seed);                      // or env::PosixDisk::instance()
//   std::unique_ptr<rocksdb::Env> rocks_env = env::new_rocks_env(&disk);
//   rocksdb::Options options;
//   options.env = rocks_env.get();                // must outlive the DB
//   rocksdb::DB::Open(options, "/data/db", &db);
//
// What RocksDB gets: files through Disk (so a SimDisk crash, torn tail,
// failed fsync or bit flip reaches RocksDB exactly as a real one would);
// LOCK through Disk::lock; its info LOG through Disk as well. Threads, time
// and randomness still come from RocksDB's default Env: RocksDB is not
// deterministic under the simulator, only its disk is simulated.
//
// One addition to what RocksDB does on its own: when it creates a directory
// (the DB directory), the parent is fsynced at once. RocksDB never syncs the
// parent of the DB directory, and on a strict file system (and on SimDisk) a
// power loss right after the first open would otherwise lose the whole DB
// (H16).
//
// Pre-written WAL space (wal_prewrite_bytes > 0): RocksDB's WAL files (named
// *.log) are opened with AppendOptions::prewrite_bytes, so a WAL sync
// overwrites zeros already on disk instead of growing the file. RocksDB's
// WAL reader would skip zero-filled blocks, even a hole a power loss left in
// the middle of a sync: storage::RocksDb::open cuts the zeros off first
// (storage/wal_tail.h, docs/durable-shards.md "Pre-written WAL space").
//
// Not supported (RocksDB treats them as optional): RandomRWFile, memory-mapped
// reads/writes, file truncation, links, modification times (reported as 0),
// direct I/O. Paths should be absolute; GetAbsolutePath returns them as given.
//
// Thread-safety: as the Disk (thread-safe).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "env/disk.h"

namespace shoal::env {
namespace rocks_internal {
struct WalState;
}

class RocksFileSystem final : public rocksdb::FileSystem {
 public:
  // `disk` must outlive this file system and every file opened through it.
  // wal_prewrite_bytes is rounded up to whole 32 KiB blocks (RocksDB's log
  // block): the zeros then end where a record could, never 1-6 bytes into a
  // block, which RocksDB's reader would take for a truncated header.
  explicit RocksFileSystem(Disk* disk, uint64_t wal_prewrite_bytes = 0)
      : disk_(disk),
        wal_prewrite_bytes_((wal_prewrite_bytes + kLogBlock - 1) / kLogBlock * kLogBlock) {}
  static constexpr uint64_t kLogBlock = 32 << 10;

  static const char* kClassName() { return "ShoalDiskFileSystem"; }
  Disk* disk() const { return disk_; }
  const char* Name() const override { return kClassName(); }

  using IOStatus = rocksdb::IOStatus;
  using IOOptions = rocksdb::IOOptions;
  using FileOptions = rocksdb::FileOptions;
  using IODebugContext = rocksdb::IODebugContext;

  IOStatus NewSequentialFile(const std::string& fname, const FileOptions& opts,
                             std::unique_ptr<rocksdb::FSSequentialFile>* result,
                             IODebugContext* dbg) override;
  IOStatus NewRandomAccessFile(const std::string& fname, const FileOptions& opts,
                               std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                               IODebugContext* dbg) override;
  IOStatus NewWritableFile(const std::string& fname, const FileOptions& opts,
                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                           IODebugContext* dbg) override;
  IOStatus ReopenWritableFile(const std::string& fname, const FileOptions& opts,
                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                              IODebugContext* dbg) override;
  IOStatus NewDirectory(const std::string& name, const IOOptions& opts,
                        std::unique_ptr<rocksdb::FSDirectory>* result,
                        IODebugContext* dbg) override;
  IOStatus NewLogger(const std::string& fname, const IOOptions& opts,
                     std::shared_ptr<rocksdb::Logger>* result, IODebugContext* dbg) override;

  IOStatus FileExists(const std::string& fname, const IOOptions& opts,
                      IODebugContext* dbg) override;
  IOStatus GetChildren(const std::string& dir, const IOOptions& opts,
                       std::vector<std::string>* result, IODebugContext* dbg) override;
  IOStatus DeleteFile(const std::string& fname, const IOOptions& opts,
                      IODebugContext* dbg) override;
  IOStatus CreateDir(const std::string& dirname, const IOOptions& opts,
                     IODebugContext* dbg) override;
  IOStatus CreateDirIfMissing(const std::string& dirname, const IOOptions& opts,
                              IODebugContext* dbg) override;
  IOStatus DeleteDir(const std::string& dirname, const IOOptions& opts,
                     IODebugContext* dbg) override;
  IOStatus GetFileSize(const std::string& fname, const IOOptions& opts, uint64_t* size,
                       IODebugContext* dbg) override;
  IOStatus GetFileModificationTime(const std::string& fname, const IOOptions& opts, uint64_t* mtime,
                                   IODebugContext* dbg) override;
  IOStatus RenameFile(const std::string& src, const std::string& target, const IOOptions& opts,
                      IODebugContext* dbg) override;
  IOStatus IsDirectory(const std::string& path, const IOOptions& opts, bool* is_dir,
                       IODebugContext* dbg) override;
  IOStatus LockFile(const std::string& fname, const IOOptions& opts, rocksdb::FileLock** lock,
                    IODebugContext* dbg) override;
  IOStatus UnlockFile(rocksdb::FileLock* lock, const IOOptions& opts, IODebugContext* dbg) override;
  IOStatus GetTestDirectory(const IOOptions& opts, std::string* path, IODebugContext* dbg) override;
  IOStatus GetAbsolutePath(const std::string& db_path, const IOOptions& opts,
                           std::string* output_path, IODebugContext* dbg) override;

 private:
  Disk* const disk_;
  const uint64_t wal_prewrite_bytes_;
  std::mutex wal_mu_;
  // The newest WAL with pre-written space: the next one syncs it before its
  // first append (rocksdb_fs_files.h, WalState).
  std::shared_ptr<rocks_internal::WalState> last_wal_;  // guarded by wal_mu_
};

// An Env for DBOptions::env: RocksFileSystem over `disk` for files, RocksDB's
// default Env for threads and time. Keeps the file system alive.
std::unique_ptr<rocksdb::Env> new_rocks_env(Disk* disk, uint64_t wal_prewrite_bytes = 0);

// The server's Env with pre-written WAL space: RocksDB's default file system,
// except that WAL files are written through PosixDisk with
// wal_prewrite_bytes (> 0) of zeros kept ahead of their data.
std::unique_ptr<rocksdb::Env> new_default_env_with_prewritten_wal(uint64_t wal_prewrite_bytes);

// RocksDB names its WAL files NNNNNN.log (and its info log LOG): the files
// with pre-written space, and those storage/wal_tail.h walks.
inline bool is_rocksdb_wal(std::string_view name) { return name.ends_with(".log"); }

// Maps a Shoal Status to RocksDB's (NotFound stays NotFound, the rest IOError).
rocksdb::IOStatus to_io_status(const Status& s);

}  // namespace shoal::env
