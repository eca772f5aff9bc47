#include "env/rocksdb_fs_files.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "env/rocksdb_fs.h"

namespace shoal::env::rocks_internal {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

IOStatus read_into(const ReadableFile& file, uint64_t offset, size_t n, Slice* result,
                   char* scratch) {
  auto got = file.read_at(offset, std::span<char>(scratch, n));
  if (!got.is_ok()) {
    *result = Slice();
    return to_io_status(got.status());
  }
  *result = Slice(scratch, got.value());
  return IOStatus::OK();
}

class SequentialFile final : public rocksdb::FSSequentialFile {
 public:
  explicit SequentialFile(std::unique_ptr<ReadableFile> file) : file_(std::move(file)) {}

  IOStatus Read(size_t n, const IOOptions&, Slice* result, char* scratch,
                IODebugContext*) override {
    IOStatus s = read_into(*file_, pos_, n, result, scratch);
    pos_ += result->size();
    return s;
  }
  IOStatus PositionedRead(uint64_t offset, size_t n, const IOOptions&, Slice* result, char* scratch,
                          IODebugContext*) override {
    return read_into(*file_, offset, n, result, scratch);
  }
  IOStatus Skip(uint64_t n) override {
    pos_ += n;
    return IOStatus::OK();
  }

 private:
  const std::unique_ptr<ReadableFile> file_;
  uint64_t pos_ = 0;
};

class RandomAccessFile final : public rocksdb::FSRandomAccessFile {
 public:
  explicit RandomAccessFile(std::unique_ptr<ReadableFile> file) : file_(std::move(file)) {}

  IOStatus Read(uint64_t offset, size_t n, const IOOptions&, Slice* result, char* scratch,
                IODebugContext*) const override {
    return read_into(*file_, offset, n, result, scratch);
  }

 private:
  const std::unique_ptr<ReadableFile> file_;
};

// Appends go straight to the Disk (RocksDB buffers above us), so Flush has
// nothing to do; Sync and Fsync are both the Disk's fdatasync, which also
// persists the size.
class WritableFile final : public rocksdb::FSWritableFile {
 public:
  WritableFile(std::unique_ptr<env::WritableFile> file, const rocksdb::FileOptions& options)
      : rocksdb::FSWritableFile(options), file_(std::move(file)) {}

  using rocksdb::FSWritableFile::Append;
  IOStatus Append(const Slice& data, const IOOptions&, IODebugContext*) override {
    return to_io_status(file_->append(std::string_view(data.data(), data.size())));
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override {
    return to_io_status(file_->close());
  }
  IOStatus Flush(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Sync(const IOOptions&, IODebugContext*) override { return to_io_status(file_->sync()); }
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return to_io_status(file_->sync()); }
  // env::WritableFile::sync may run beside append (disk.h): RocksDB's SyncWAL
  // needs this.
  bool IsSyncThreadSafe() const override { return true; }
  // Not silently OK: RocksDB treats NotSupported as "keep the bytes".
  IOStatus Truncate(uint64_t, const IOOptions&, IODebugContext*) override {
    return IOStatus::NotSupported("env::Disk files are append-only");
  }
  uint64_t GetFileSize(const IOOptions&, IODebugContext*) override { return file_->size(); }

 private:
  const std::unique_ptr<env::WritableFile> file_;
};

// A WAL with pre-written space (rocksdb_fs_files.h, WalState): its first
// append syncs its predecessor; Close syncs it (a closed WAL was synced by
// RocksDB anyway: it closes only WALs it no longer needs), so that a
// successor never has to sync a closed file.
class WalFile final : public rocksdb::FSWritableFile {
 public:
  WalFile(std::shared_ptr<WalState> self, std::shared_ptr<WalState> predecessor,
          const rocksdb::FileOptions& options)
      : rocksdb::FSWritableFile(options),
        self_(std::move(self)),
        predecessor_(std::move(predecessor)) {}

  using rocksdb::FSWritableFile::Append;
  IOStatus Append(const Slice& data, const IOOptions&, IODebugContext*) override {
    if (predecessor_) {
      std::lock_guard lock(predecessor_->mu);
      if (!predecessor_->closed) {
        if (Status s = predecessor_->file->sync(); !s.is_ok()) return to_io_status(s);
      }
    }
    predecessor_.reset();
    std::lock_guard lock(self_->mu);
    return to_io_status(self_->file->append(std::string_view(data.data(), data.size())));
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override {
    std::lock_guard lock(self_->mu);
    if (self_->closed) return IOStatus::OK();
    Status synced = self_->file->sync();
    self_->closed = true;
    Status closed = self_->file->close();
    return to_io_status(synced.is_ok() ? closed : synced);
  }
  IOStatus Flush(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  // Not under mu: a sync may run beside an append (env::WritableFile allows
  // it, and RocksDB's SyncWAL relies on it).
  IOStatus Sync(const IOOptions&, IODebugContext*) override { return sync(); }
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return sync(); }
  bool IsSyncThreadSafe() const override { return true; }
  IOStatus Truncate(uint64_t, const IOOptions&, IODebugContext*) override {
    return IOStatus::NotSupported("env::Disk files are append-only");
  }
  uint64_t GetFileSize(const IOOptions&, IODebugContext*) override { return self_->file->size(); }

 private:
  IOStatus sync() { return to_io_status(self_->file->sync()); }

  const std::shared_ptr<WalState> self_;
  std::shared_ptr<WalState> predecessor_;  // until the first append
};

class Directory final : public rocksdb::FSDirectory {
 public:
  Directory(Disk* disk, std::string path) : disk_(disk), path_(std::move(path)) {}

  IOStatus Fsync(const IOOptions&, IODebugContext*) override {
    return to_io_status(disk_->sync_dir(path_));
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }

 private:
  Disk* const disk_;
  const std::string path_;
};

// RocksDB's info LOG. Lines are appended unsynced; losing the end of the LOG
// in a crash is harmless.
class Logger final : public rocksdb::Logger {
 public:
  explicit Logger(std::unique_ptr<env::WritableFile> file) : file_(std::move(file)) {}
  ~Logger() override { (void)CloseImpl(); }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char buf[1024];
    int n = std::vsnprintf(buf, sizeof(buf) - 1, format, ap);
    if (n < 0) return;
    size_t len = std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 2);
    if (len == 0 || buf[len - 1] != '\n') buf[len++] = '\n';
    std::lock_guard lock(mu_);
    if (file_) (void)file_->append(std::string_view(buf, len));
  }

 protected:
  rocksdb::Status CloseImpl() override {
    std::lock_guard lock(mu_);
    if (!file_) return rocksdb::Status::OK();
    Status s = file_->close();
    file_.reset();
    return s.is_ok() ? rocksdb::Status::OK() : rocksdb::Status::IOError(s.message());
  }

 private:
  std::mutex mu_;
  std::unique_ptr<env::WritableFile> file_;  // guarded by mu_
};

class Lock final : public rocksdb::FileLock {
 public:
  explicit Lock(std::unique_ptr<env::FileLock> lock) : lock_(std::move(lock)) {}

 private:
  const std::unique_ptr<env::FileLock> lock_;
};

}  // namespace

std::unique_ptr<rocksdb::FSSequentialFile> sequential_file(std::unique_ptr<ReadableFile> file) {
  return std::make_unique<SequentialFile>(std::move(file));
}

std::unique_ptr<rocksdb::FSRandomAccessFile> random_access_file(
    std::unique_ptr<ReadableFile> file) {
  return std::make_unique<RandomAccessFile>(std::move(file));
}

std::unique_ptr<rocksdb::FSWritableFile> writable_file(std::unique_ptr<env::WritableFile> file,
                                                       const rocksdb::FileOptions& options) {
  return std::make_unique<WritableFile>(std::move(file), options);
}

std::unique_ptr<rocksdb::FSWritableFile> wal_file(std::shared_ptr<WalState> self,
                                                  std::shared_ptr<WalState> predecessor,
                                                  const rocksdb::FileOptions& options) {
  return std::make_unique<WalFile>(std::move(self), std::move(predecessor), options);
}

std::unique_ptr<rocksdb::FSDirectory> directory(Disk* disk, std::string path) {
  return std::make_unique<Directory>(disk, std::move(path));
}

std::shared_ptr<rocksdb::Logger> logger(std::unique_ptr<env::WritableFile> file) {
  return std::make_shared<Logger>(std::move(file));
}

rocksdb::FileLock* file_lock(std::unique_ptr<env::FileLock> lock) {
  return new Lock(std::move(lock));
}

}  // namespace shoal::env::rocks_internal
