#include "env/posix_disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "env/prewrite_space.h"

namespace shoal::env {
namespace {

Status errno_status(const char* op, const std::string& path, int err) {
  std::string msg = std::string(op) + " " + path + ": " + std::strerror(err);
  if (err == ENOENT) return Status::not_found(std::move(msg));
  return Status::io_error(std::move(msg));
}

// Retries a system call interrupted by a signal.
template <typename F>
auto retry_eintr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

// Closes a descriptor once. close() is never retried on EINTR: Linux has
// already released the descriptor, and a retry could close someone else's.
Status close_fd(int fd, const std::string& path) {
  if (::close(fd) != 0 && errno != EINTR) return errno_status("close", path, errno);
  return Status::ok();
}

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixReadableFile() override { (void)close_fd(fd_, path_); }

  Result<size_t> read_at(uint64_t offset, std::span<char> dst) const override {
    size_t done = 0;
    while (done < dst.size()) {
      ssize_t n = retry_eintr(
          [&] { return ::pread(fd_, dst.data() + done, dst.size() - done, offset + done); });
      if (n < 0) return errno_status("pread", path_, errno);
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Result<uint64_t> size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return errno_status("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  const int fd_;
  const std::string path_;
};

// Writes all of `data` at `offset` (pwrite), or fails; `written` counts the
// bytes that made it, also on failure.
Status pwrite_all(int fd, const std::string& path, std::string_view data, uint64_t offset,
                  uint64_t& written) {
  written = 0;
  while (written < data.size()) {
    ssize_t n = retry_eintr([&] {
      return ::pwrite(fd, data.data() + written, data.size() - written,
                      static_cast<off_t>(offset + written));
    });
    if (n < 0) return errno_status("pwrite", path, errno);
    written += static_cast<uint64_t>(n);
  }
  return Status::ok();
}

class PosixWritableFile final : public WritableFile {
 public:
  // prewrite_bytes > 0: the file was opened truncated and without O_APPEND.
  PosixWritableFile(int fd, std::string path, uint64_t size, uint64_t prewrite_bytes)
      : fd_(fd), path_(std::move(path)), space_(size, prewrite_bytes) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) (void)close_fd(fd_, path_);
  }

  Status append(std::string_view data) override {
    if (fd_ < 0) return Status::io_error("append " + path_ + ": file is closed");
    if (space_.enabled()) return append_in_place(data);
    while (!data.empty()) {
      ssize_t n = retry_eintr([&] { return ::write(fd_, data.data(), data.size()); });
      if (n < 0) return errno_status("write", path_, errno);
      data.remove_prefix(static_cast<size_t>(n));
      space_.wrote_data(static_cast<uint64_t>(n));
    }
    return Status::ok();
  }

  Status sync() override {
    if (fd_ < 0) return Status::io_error("sync " + path_ + ": file is closed");
    if (retry_eintr([&] { return ::fdatasync(fd_); }) != 0) {
      return errno_status("fdatasync", path_, errno);
    }
    return Status::ok();
  }

  Status close() override {
    if (fd_ < 0) return Status::io_error("close " + path_ + ": file is closed");
    // Cut the pre-written zeros off. Cosmetic (readers take them as the
    // end), so a failure is not reported.
    if (space_.has_zeros_after_data()) {
      (void)::ftruncate(fd_, static_cast<off_t>(space_.data_size()));
    }
    int fd = fd_;
    fd_ = -1;
    return close_fd(fd, path_);
  }

  uint64_t size() const override { return space_.data_size(); }

 private:
  // Pre-written space (prewrite_space.h): the data over the zeros, then the
  // zeros due, 64 KiB per pwrite.
  Status append_in_place(std::string_view data) {
    uint64_t written = 0;
    Status s = pwrite_all(fd_, path_, data, space_.data_size(), written);
    space_.wrote_data(written);
    if (!s.is_ok()) return s;
    static const std::string kZeros(64 << 10, '\0');
    for (uint64_t due = space_.zeros_due(); due > 0;) {
      std::string_view chunk(kZeros.data(), std::min<uint64_t>(kZeros.size(), due));
      Status z = pwrite_all(fd_, path_, chunk, space_.on_disk(), written);
      space_.wrote_zeros(written);
      due -= written;
      if (!z.is_ok()) {
        // No space (or an I/O error) for zeros: leave what is left to data.
        space_.zeros_failed();
        break;
      }
    }
    return Status::ok();
  }

  int fd_;
  const std::string path_;
  PrewriteSpace space_;  // the data's size, and the zeros after it (if any)
};

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  // Closing the descriptor releases the flock.
  ~PosixFileLock() override { (void)close_fd(fd_, path_); }

 private:
  const int fd_;
  const std::string path_;
};

}  // namespace

PosixDisk& PosixDisk::instance() {
  static PosixDisk disk;
  return disk;
}

Result<std::unique_ptr<ReadableFile>> PosixDisk::open_read(const std::string& path) {
  int fd = retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
  if (fd < 0) return errno_status("open", path, errno);
  return std::unique_ptr<ReadableFile>(new PosixReadableFile(fd, path));
}

Result<std::unique_ptr<WritableFile>> PosixDisk::open_append(const std::string& path,
                                                             AppendOptions options) {
  if (options.prewrite_bytes > 0 && !options.truncate) {
    return Status::invalid_argument("open " + path + ": prewrite_bytes requires truncate");
  }
  // Pre-written space overwrites zeros at an offset: pwrite, no O_APPEND
  // (with which Linux's pwrite appends anyway).
  int flags = O_WRONLY | O_CLOEXEC | (options.prewrite_bytes > 0 ? 0 : O_APPEND);
  if (options.create) flags |= O_CREAT;
  if (options.truncate) flags |= O_TRUNC;
  int fd = retry_eintr([&] { return ::open(path.c_str(), flags, 0644); });
  if (fd < 0) return errno_status("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = errno_status("fstat", path, errno);
    (void)close_fd(fd, path);
    return s;
  }
  return std::unique_ptr<WritableFile>(
      new PosixWritableFile(fd, path, static_cast<uint64_t>(st.st_size), options.prewrite_bytes));
}

Status PosixDisk::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename", from, errno);
  return Status::ok();
}

Status PosixDisk::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return errno_status("unlink", path, errno);
  return Status::ok();
}

Status PosixDisk::truncate(const std::string& path, uint64_t size) {
  int fd = retry_eintr([&] { return ::open(path.c_str(), O_WRONLY | O_CLOEXEC); });
  if (fd < 0) return errno_status("open", path, errno);
  struct stat st;
  Status s;
  if (::fstat(fd, &st) != 0) {
    s = errno_status("fstat", path, errno);
  } else if (static_cast<uint64_t>(st.st_size) < size) {
    s = Status::invalid_argument("truncate " + path + ": the file is shorter");
  } else if (retry_eintr([&] { return ::ftruncate(fd, static_cast<off_t>(size)); }) != 0) {
    s = errno_status("ftruncate", path, errno);
  } else if (retry_eintr([&] { return ::fdatasync(fd); }) != 0) {
    s = errno_status("fdatasync", path, errno);
  }
  Status closed = close_fd(fd, path);
  return s.is_ok() ? closed : s;
}

Status PosixDisk::create_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return Status::ok();
  int err = errno;
  if (err == EEXIST) {
    auto dir = is_dir(path);
    if (dir.is_ok() && dir.value()) return Status::ok();
  }
  return errno_status("mkdir", path, err);
}

Status PosixDisk::remove_dir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) return errno_status("rmdir", path, errno);
  return Status::ok();
}

Status PosixDisk::sync_dir(const std::string& path) {
  int fd = retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) return errno_status("open dir", path, errno);
  Status s;
  if (retry_eintr([&] { return ::fsync(fd); }) != 0) s = errno_status("fsync dir", path, errno);
  Status closed = close_fd(fd, path);
  return s.is_ok() ? closed : s;
}

Result<std::vector<std::string>> PosixDisk::list_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return errno_status("opendir", path, errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return errno_status("readdir", path, err);
  return names;
}

Result<uint64_t> PosixDisk::file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno_status("stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Result<bool> PosixDisk::exists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return errno_status("stat", path, errno);
}

Result<bool> PosixDisk::is_dir(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno_status("stat", path, errno);
  return S_ISDIR(st.st_mode);
}

Result<std::unique_ptr<FileLock>> PosixDisk::lock(const std::string& path) {
  int fd = retry_eintr([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644); });
  if (fd < 0) return errno_status("open", path, errno);
  if (retry_eintr([&] { return ::flock(fd, LOCK_EX | LOCK_NB); }) != 0) {
    int err = errno;
    (void)close_fd(fd, path);
    if (err == EWOULDBLOCK) return Status::busy("lock " + path + ": held by another owner");
    return errno_status("flock", path, err);
  }
  return std::unique_ptr<FileLock>(new PosixFileLock(fd, path));
}

}  // namespace shoal::env
