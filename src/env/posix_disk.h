// PosixDisk: env::Disk on the operating system's file system (open, pread,
// write, fdatasync, rename, fsync of a directory fd). Keeps the contract in
// disk.h as far as the kernel and file system do.
//
// Thread-safe and stateless: one instance can serve the whole process.
// EINTR is retried everywhere it can occur; short reads and writes are
// completed. Locks use flock(2), so two opens of the same lock file conflict
// even inside one process.
#pragma once

#include "env/disk.h"

namespace shoal::env {

class PosixDisk final : public Disk {
 public:
  static PosixDisk& instance();

  Result<std::unique_ptr<ReadableFile>> open_read(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> open_append(const std::string& path,
                                                    AppendOptions options) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status truncate(const std::string& path, uint64_t size) override;
  Status create_dir(const std::string& path) override;
  Status remove_dir(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Result<uint64_t> file_size(const std::string& path) override;
  Result<bool> exists(const std::string& path) override;
  Result<bool> is_dir(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override;
};

}  // namespace shoal::env
