#include "env/rocksdb_fs.h"

#include "env/posix_disk.h"
#include "env/rocksdb_fs_files.h"

namespace shoal::env {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

rocksdb::IOStatus to_io_status(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return IOStatus::OK();
    case StatusCode::kNotFound:
      return IOStatus::PathNotFound(s.message());
    case StatusCode::kInvalidArgument:
      return IOStatus::InvalidArgument(s.message());
    default:
      return IOStatus::IOError(s.message());
  }
}

namespace {

// RocksDB's default file system, with WAL files written by RocksFileSystem
// over PosixDisk. Everything else (SST files, MANIFEST, reads of any file)
// stays RocksDB's own.
class PrewrittenWalFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit PrewrittenWalFileSystem(uint64_t wal_prewrite_bytes)
      : FileSystemWrapper(rocksdb::FileSystem::Default()),
        wal_fs_(&PosixDisk::instance(), wal_prewrite_bytes) {}

  static const char* kClassName() { return "ShoalPrewrittenWalFileSystem"; }
  const char* Name() const override { return kClassName(); }

  IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                           IODebugContext* dbg) override {
    if (is_rocksdb_wal(fname)) return wal_fs_.NewWritableFile(fname, opts, result, dbg);
    return target()->NewWritableFile(fname, opts, result, dbg);
  }

 private:
  RocksFileSystem wal_fs_;
};

}  // namespace

std::unique_ptr<rocksdb::Env> new_rocks_env(Disk* disk, uint64_t wal_prewrite_bytes) {
  return rocksdb::NewCompositeEnv(std::make_shared<RocksFileSystem>(disk, wal_prewrite_bytes));
}

std::unique_ptr<rocksdb::Env> new_default_env_with_prewritten_wal(uint64_t wal_prewrite_bytes) {
  return rocksdb::NewCompositeEnv(std::make_shared<PrewrittenWalFileSystem>(wal_prewrite_bytes));
}

IOStatus RocksFileSystem::NewSequentialFile(const std::string& fname, const FileOptions&,
                                            std::unique_ptr<rocksdb::FSSequentialFile>* result,
                                            IODebugContext*) {
  auto file = disk_->open_read(fname);
  if (!file.is_ok()) return to_io_status(file.status());
  *result = rocks_internal::sequential_file(std::move(file).value());
  return IOStatus::OK();
}

IOStatus RocksFileSystem::NewRandomAccessFile(const std::string& fname, const FileOptions&,
                                              std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                              IODebugContext*) {
  auto file = disk_->open_read(fname);
  if (!file.is_ok()) return to_io_status(file.status());
  *result = rocks_internal::random_access_file(std::move(file).value());
  return IOStatus::OK();
}

IOStatus RocksFileSystem::NewWritableFile(const std::string& fname, const FileOptions& opts,
                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                          IODebugContext*) {
  const bool prewritten_wal = is_rocksdb_wal(fname) && wal_prewrite_bytes_ > 0;
  auto file = disk_->open_append(
      fname, AppendOptions{.create = true,
                           .truncate = true,
                           .prewrite_bytes = prewritten_wal ? wal_prewrite_bytes_ : 0});
  if (!file.is_ok()) return to_io_status(file.status());
  if (!prewritten_wal) {
    *result = rocks_internal::writable_file(std::move(file).value(), opts);
    return IOStatus::OK();
  }
  auto wal = std::make_shared<rocks_internal::WalState>();
  wal->file = std::move(file).value();
  std::lock_guard lock(wal_mu_);
  *result = rocks_internal::wal_file(wal, std::move(last_wal_), opts);
  last_wal_ = wal;
  return IOStatus::OK();
}

IOStatus RocksFileSystem::ReopenWritableFile(const std::string& fname, const FileOptions& opts,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             IODebugContext*) {
  auto file = disk_->open_append(fname, AppendOptions{.create = true, .truncate = false});
  if (!file.is_ok()) return to_io_status(file.status());
  *result = rocks_internal::writable_file(std::move(file).value(), opts);
  return IOStatus::OK();
}

IOStatus RocksFileSystem::NewDirectory(const std::string& name, const IOOptions&,
                                       std::unique_ptr<rocksdb::FSDirectory>* result,
                                       IODebugContext*) {
  auto dir = disk_->is_dir(name);
  if (!dir.is_ok()) return to_io_status(dir.status());
  if (!dir.value()) return IOStatus::IOError("not a directory: " + name);
  *result = rocks_internal::directory(disk_, name);
  return IOStatus::OK();
}

IOStatus RocksFileSystem::NewLogger(const std::string& fname, const IOOptions&,
                                    std::shared_ptr<rocksdb::Logger>* result, IODebugContext*) {
  auto file = disk_->open_append(fname, AppendOptions{.create = true, .truncate = true});
  if (!file.is_ok()) return to_io_status(file.status());
  *result = rocks_internal::logger(std::move(file).value());
  return IOStatus::OK();
}

IOStatus RocksFileSystem::FileExists(const std::string& fname, const IOOptions&, IODebugContext*) {
  auto exists = disk_->exists(fname);
  if (!exists.is_ok()) return to_io_status(exists.status());
  return exists.value() ? IOStatus::OK() : IOStatus::NotFound(fname);
}

IOStatus RocksFileSystem::GetChildren(const std::string& dir, const IOOptions&,
                                      std::vector<std::string>* result, IODebugContext*) {
  auto names = disk_->list_dir(dir);
  if (!names.is_ok()) return to_io_status(names.status());
  *result = std::move(names).value();
  return IOStatus::OK();
}

IOStatus RocksFileSystem::DeleteFile(const std::string& fname, const IOOptions&, IODebugContext*) {
  return to_io_status(disk_->remove(fname));
}

IOStatus RocksFileSystem::CreateDir(const std::string& dirname, const IOOptions& opts,
                                    IODebugContext* dbg) {
  auto exists = disk_->exists(dirname);
  if (!exists.is_ok()) return to_io_status(exists.status());
  if (exists.value()) return IOStatus::IOError("already exists: " + dirname);
  return CreateDirIfMissing(dirname, opts, dbg);
}

// A new directory is a new name in its parent: sync the parent right away
// (see the header: RocksDB never does).
IOStatus RocksFileSystem::CreateDirIfMissing(const std::string& dirname, const IOOptions&,
                                             IODebugContext*) {
  auto dir = disk_->is_dir(dirname);
  if (dir.is_ok()) {
    return dir.value() ? IOStatus::OK() : IOStatus::IOError("not a directory: " + dirname);
  }
  if (Status s = disk_->create_dir(dirname); !s.is_ok()) return to_io_status(s);
  std::string parent = parent_dir(dirname);
  return to_io_status(disk_->sync_dir(parent.empty() ? "." : parent));
}

IOStatus RocksFileSystem::DeleteDir(const std::string& dirname, const IOOptions&, IODebugContext*) {
  return to_io_status(disk_->remove_dir(dirname));
}

IOStatus RocksFileSystem::GetFileSize(const std::string& fname, const IOOptions&, uint64_t* size,
                                      IODebugContext*) {
  auto got = disk_->file_size(fname);
  if (!got.is_ok()) return to_io_status(got.status());
  *size = got.value();
  return IOStatus::OK();
}

IOStatus RocksFileSystem::GetFileModificationTime(const std::string& fname, const IOOptions&,
                                                  uint64_t* mtime, IODebugContext*) {
  auto exists = disk_->exists(fname);
  if (!exists.is_ok()) return to_io_status(exists.status());
  if (!exists.value()) return IOStatus::PathNotFound(fname);
  *mtime = 0;  // Disk keeps no times; RocksDB uses this only for reporting
  return IOStatus::OK();
}

IOStatus RocksFileSystem::RenameFile(const std::string& src, const std::string& target,
                                     const IOOptions&, IODebugContext*) {
  return to_io_status(disk_->rename(src, target));
}

IOStatus RocksFileSystem::IsDirectory(const std::string& path, const IOOptions&, bool* is_dir,
                                      IODebugContext*) {
  auto dir = disk_->is_dir(path);
  if (!dir.is_ok()) return to_io_status(dir.status());
  *is_dir = dir.value();
  return IOStatus::OK();
}

IOStatus RocksFileSystem::LockFile(const std::string& fname, const IOOptions&,
                                   rocksdb::FileLock** lock, IODebugContext*) {
  *lock = nullptr;
  auto held = disk_->lock(fname);
  // RocksDB reports a lock conflict as an IOError; keep Disk's message.
  if (!held.is_ok()) return IOStatus::IOError("lock " + fname, held.status().message());
  *lock = rocks_internal::file_lock(std::move(held).value());
  return IOStatus::OK();
}

IOStatus RocksFileSystem::UnlockFile(rocksdb::FileLock* lock, const IOOptions&, IODebugContext*) {
  delete lock;
  return IOStatus::OK();
}

IOStatus RocksFileSystem::GetTestDirectory(const IOOptions&, std::string* path, IODebugContext*) {
  *path = "/tmp/shoal-rocksdb-test";
  return IOStatus::OK();
}

IOStatus RocksFileSystem::GetAbsolutePath(const std::string& db_path, const IOOptions&,
                                          std::string* output_path, IODebugContext*) {
  *output_path = db_path;
  return IOStatus::OK();
}

}  // namespace shoal::env
