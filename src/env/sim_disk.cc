#include "env/sim_disk.h"

#include <algorithm>
#include <cstring>

#include "env/prewrite_space.h"

namespace shoal::env {

namespace {

bool is_root(const std::string& dir) { return dir.empty() || dir == "/"; }

}  // namespace

// Collapses repeated slashes and drops a trailing one, so "/db//x/" and
// "/db/x" name the same file.
std::string SimDisk::normalize(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out == ".") out.clear();
  if (out.starts_with("./")) out.erase(0, 2);
  return out;
}

class SimDisk::ReadHandle final : public ReadableFile {
 public:
  ReadHandle(SimDisk* disk, std::shared_ptr<Inode> inode, uint64_t generation)
      : disk_(disk), inode_(std::move(inode)), generation_(generation) {}
  Result<size_t> read_at(uint64_t offset, std::span<char> dst) const override {
    return disk_->read(*inode_, generation_, offset, dst);
  }
  Result<uint64_t> size() const override { return disk_->size_of(*inode_, generation_); }

 private:
  SimDisk* const disk_;
  const std::shared_ptr<Inode> inode_;
  const uint64_t generation_;
};

class SimDisk::WriteHandle final : public WritableFile {
 public:
  WriteHandle(SimDisk* disk, std::shared_ptr<Inode> inode, uint64_t generation, std::string path,
              uint64_t size, uint64_t prewrite_bytes)
      : disk_(disk),
        inode_(std::move(inode)),
        generation_(generation),
        path_(std::move(path)),
        space_(size, prewrite_bytes) {}
  Status append(std::string_view data) override {
    if (closed_) return Status::io_error("append " + path_ + ": file is closed");
    if (!space_.enabled()) {
      Status s = disk_->append(*inode_, generation_, data);
      if (s.is_ok()) space_.wrote_data(data.size());
      return s;
    }
    // The policy of prewrite_space.h; a SimDisk write is all or nothing.
    Status s = disk_->write(*inode_, generation_, space_.data_size(), data);
    if (!s.is_ok()) return s;
    space_.wrote_data(data.size());
    if (const uint64_t due = space_.zeros_due(); due > 0) {
      if (disk_->write(*inode_, generation_, space_.on_disk(), std::string(due, '\0')).is_ok()) {
        space_.wrote_zeros(due);
      } else {
        space_.zeros_failed();
      }
    }
    return Status::ok();
  }
  Status sync() override {
    if (closed_) return Status::io_error("sync " + path_ + ": file is closed");
    return disk_->sync(*inode_, generation_, path_);
  }
  Status close() override {
    if (closed_) return Status::io_error("close " + path_ + ": file is closed");
    closed_ = true;
    if (space_.has_zeros_after_data()) disk_->cut_to(*inode_, generation_, space_.data_size());
    return Status::ok();
  }
  uint64_t size() const override { return space_.data_size(); }

 private:
  SimDisk* const disk_;
  const std::shared_ptr<Inode> inode_;
  const uint64_t generation_;
  const std::string path_;
  PrewriteSpace space_;  // the data's size, and the zeros after it (if any)
  bool closed_ = false;
};

SimDisk::SimDisk(uint64_t seed) : rng_(seed) {}
SimDisk::~SimDisk() = default;

Status SimDisk::check_alive(uint64_t generation) const {
  if (halted_) return Status::io_error("sim disk halted (power cut)");
  if (generation != generation_) return Status::io_error("sim disk: handle from before a crash");
  return Status::ok();
}

bool SimDisk::dir_exists(const std::string& dir) const {
  return is_root(dir) || dirs_.contains(dir);
}

bool SimDisk::chance(double p) {
  constexpr uint64_t kScale = 1'000'000;
  return p > 0 && rng_.uniform(kScale) < static_cast<uint64_t>(p * kScale);
}

Result<std::unique_ptr<ReadableFile>> SimDisk::open_read(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (dir_exists(path)) return Status::io_error("open " + path + ": is a directory");
    return Status::not_found("open " + path + ": no such file");
  }
  return std::unique_ptr<ReadableFile>(new ReadHandle(this, it->second, generation_));
}

Result<std::unique_ptr<WritableFile>> SimDisk::open_append(const std::string& raw,
                                                           AppendOptions options) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (dir_exists(path)) return Status::io_error("open " + path + ": is a directory");
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (!options.create) return Status::not_found("open " + path + ": no such file");
    if (!dir_exists(parent_dir(path))) return Status::not_found("open " + path + ": no parent");
    it = files_.emplace(path, std::make_shared<Inode>()).first;
  }
  if (options.prewrite_bytes > 0 && !options.truncate) {
    return Status::invalid_argument("open " + path + ": prewrite_bytes requires truncate");
  }
  Inode& inode = *it->second;
  if (options.truncate && !inode.data.empty()) {
    inode.data.clear();
    inode.dirty_from = inode.dirty_to = 0;
    inode.truncated = !inode.durable.empty();
  }
  return std::unique_ptr<WritableFile>(new WriteHandle(this, it->second, generation_, path,
                                                       inode.data.size(), options.prewrite_bytes));
}

Result<size_t> SimDisk::read(const Inode& inode, uint64_t generation, uint64_t offset,
                             std::span<char> dst) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation); !s.is_ok()) return s;
  if (offset >= inode.data.size()) return size_t{0};
  size_t n = std::min<uint64_t>(dst.size(), inode.data.size() - offset);
  std::memcpy(dst.data(), inode.data.data() + offset, n);
  stats_.bytes_read += n;
  if (n > 0 && chance(bit_flip_probability_)) {
    uint64_t bit = rng_.uniform(n * 8);
    dst[bit / 8] = static_cast<char>(dst[bit / 8] ^ (1 << (bit % 8)));
    stats_.bit_flips++;
  }
  return n;
}

Result<uint64_t> SimDisk::size_of(const Inode& inode, uint64_t generation) const {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation); !s.is_ok()) return s;
  return static_cast<uint64_t>(inode.data.size());
}

Status SimDisk::write(Inode& inode, uint64_t generation, uint64_t offset, std::string_view data) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation); !s.is_ok()) return s;
  return write_locked(inode, offset, data);
}

Status SimDisk::append(Inode& inode, uint64_t generation, std::string_view data) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation); !s.is_ok()) return s;
  return write_locked(inode, inode.data.size(), data);
}

Status SimDisk::write_locked(Inode& inode, uint64_t offset, std::string_view data) {
  SHOAL_ASSERT(offset <= inode.data.size());
  const uint64_t end = offset + data.size();
  const uint64_t growth = end > inode.data.size() ? end - inode.data.size() : 0;
  if (space_left_) {
    if (growth > *space_left_) return Status::io_error("write: no space left on device");
    *space_left_ -= growth;
  }
  if (growth > 0) inode.data.resize(end);
  inode.data.replace(offset, data.size(), data);
  if (inode.dirty_from == inode.dirty_to) {
    inode.dirty_from = offset;
    inode.dirty_to = end;
  } else {
    inode.dirty_from = std::min(inode.dirty_from, offset);
    inode.dirty_to = std::max(inode.dirty_to, end);
  }
  stats_.bytes_written += data.size();
  return Status::ok();
}

Status SimDisk::truncate(const std::string& raw, uint64_t size) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  auto it = files_.find(path);
  if (it == files_.end()) return Status::not_found("truncate " + path + ": no such file");
  Inode& inode = *it->second;
  if (inode.data.size() < size) {
    return Status::invalid_argument("truncate " + path + ": the file is shorter");
  }
  if (should_fail_sync(path)) {
    // As an ftruncate that fails with EIO: the file stays as it was.
    stats_.failed_syncs++;
    return Status::io_error("truncate " + path + ": injected I/O error");
  }
  // A sync of the cut file: its dirty bytes below the cut, and its size.
  inode.data.resize(size);
  inode.dirty_to = std::min(inode.dirty_to, size);
  inode.dirty_from = std::min(inode.dirty_from, inode.dirty_to);
  if (inode.truncated) inode.durable.clear();
  if (inode.durable.size() < size) inode.durable.resize(size, '\0');
  write_back(inode, inode.dirty_to);
  inode.durable.resize(size);
  mark_clean(inode);
  inode.truncated = false;
  stats_.file_syncs++;
  return Status::ok();
}

// Close of a file with pre-written space: its zeros are cut off, in the page
// cache only (as an ftruncate not followed by a sync).
void SimDisk::cut_to(Inode& inode, uint64_t generation, uint64_t size) {
  std::lock_guard lock(mu_);
  if (!check_alive(generation).is_ok() || size >= inode.data.size()) return;
  inode.data.resize(size);
  inode.dirty_to = std::min(inode.dirty_to, size);
  inode.dirty_from = std::min(inode.dirty_from, inode.dirty_to);
}

// Copies the dirty bytes [dirty_from, end) to durable storage. A gap between
// the durable end and dirty_from (bytes dropped by a failed sync) reads as
// zeros, as a hole in a real file would.
void SimDisk::write_back(Inode& inode, uint64_t end) {
  SHOAL_ASSERT(end >= inode.dirty_from && end <= inode.dirty_to);
  if (inode.durable.size() < end) inode.durable.resize(end, '\0');
  inode.durable.replace(inode.dirty_from, end - inode.dirty_from,
                        inode.data.substr(inode.dirty_from, end - inode.dirty_from));
}

// After a sync or a crash: nothing is dirty.
void SimDisk::mark_clean(Inode& inode) { inode.dirty_from = inode.dirty_to = inode.data.size(); }

bool SimDisk::should_fail_sync(const std::string& path) {
  for (auto it = failing_sync_prefixes_.begin(); it != failing_sync_prefixes_.end(); ++it) {
    if (path.starts_with(*it)) {
      failing_sync_prefixes_.erase(it);
      return true;
    }
  }
  return chance(sync_failure_probability_);
}

Status SimDisk::sync(Inode& inode, uint64_t generation, const std::string& path) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation); !s.is_ok()) return s;
  if (should_fail_sync(path)) {
    // Part of the dirty bytes reached the disk; all are now marked clean.
    if (!inode.truncated) {
      write_back(inode, inode.dirty_from + rng_.uniform(inode.dirty_to - inode.dirty_from + 1));
    }
    mark_clean(inode);
    stats_.failed_syncs++;
    return Status::io_error("fdatasync " + path + ": injected I/O error");
  }
  if (inode.truncated) inode.durable.resize(inode.data.size());
  // fdatasync persists the size too: bytes a failed sync dropped read as zeros.
  if (inode.durable.size() < inode.data.size()) inode.durable.resize(inode.data.size(), '\0');
  write_back(inode, inode.dirty_to);
  mark_clean(inode);
  inode.truncated = false;
  stats_.file_syncs++;
  return Status::ok();
}

}  // namespace shoal::env
