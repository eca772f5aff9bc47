// SimDisk: the namespace (names, directories, locks), crash and fault knobs.
// File contents live in sim_disk.cc.
#include <algorithm>
#include <unordered_set>

#include "env/sim_disk.h"

namespace shoal::env {
namespace {

bool is_root(const std::string& dir) { return dir.empty() || dir == "/"; }

// Makes `durable`'s entries directly under `dir` equal to `live`'s.
template <typename Container>
void copy_entries(const std::string& dir, const Container& live, Container& durable) {
  std::erase_if(durable, [&](const auto& entry) {
    if constexpr (requires { entry.first; }) {
      return parent_dir(entry.first) == dir;
    } else {
      return parent_dir(entry) == dir;
    }
  });
  for (const auto& entry : live) {
    if constexpr (requires { entry.first; }) {
      if (parent_dir(entry.first) == dir) durable.insert(entry);
    } else {
      if (parent_dir(entry) == dir) durable.insert(entry);
    }
  }
}

}  // namespace

class SimDisk::LockHandle final : public FileLock {
 public:
  LockHandle(SimDisk* disk, std::string path, uint64_t token)
      : disk_(disk), path_(std::move(path)), token_(token) {}
  ~LockHandle() override { disk_->unlock(path_, token_); }

 private:
  SimDisk* const disk_;
  const std::string path_;
  const uint64_t token_;
};

Status SimDisk::rename(const std::string& raw_from, const std::string& raw_to) {
  const std::string from = normalize(raw_from), to = normalize(raw_to);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  auto it = files_.find(from);
  if (it == files_.end()) {
    if (dirs_.contains(from)) return Status::invalid_argument("sim disk: cannot rename a dir");
    return Status::not_found("rename " + from + ": no such file");
  }
  if (dir_exists(to)) return Status::io_error("rename to " + to + ": is a directory");
  if (!dir_exists(parent_dir(to))) return Status::not_found("rename to " + to + ": no parent");
  auto inode = it->second;
  files_.erase(it);
  files_[to] = std::move(inode);
  return Status::ok();
}

Status SimDisk::remove(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (files_.erase(path) == 0) {
    if (dir_exists(path)) return Status::io_error("remove " + path + ": is a directory");
    return Status::not_found("remove " + path + ": no such file");
  }
  return Status::ok();
}

Status SimDisk::create_dir(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (dir_exists(path)) return Status::ok();
  if (files_.contains(path)) return Status::io_error("mkdir " + path + ": file exists");
  if (!dir_exists(parent_dir(path))) return Status::not_found("mkdir " + path + ": no parent");
  dirs_.insert(path);
  return Status::ok();
}

Status SimDisk::remove_dir(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (is_root(path) || !dirs_.contains(path)) {
    return Status::not_found("rmdir " + path + ": no such directory");
  }
  auto child = [&](const std::string& p) { return parent_dir(p) == path; };
  bool empty =
      std::none_of(files_.begin(), files_.end(), [&](auto& e) { return child(e.first); }) &&
      std::none_of(dirs_.begin(), dirs_.end(), child);
  if (!empty) return Status::io_error("rmdir " + path + ": directory not empty");
  dirs_.erase(path);
  return Status::ok();
}

Status SimDisk::sync_dir(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (!dir_exists(path)) return Status::not_found("sync dir " + path + ": no such directory");
  if (should_fail_sync(path)) {
    // Directory updates are journaled: a failed sync persists none of them
    // now, and a later successful one still can.
    stats_.failed_syncs++;
    return Status::io_error("fsync dir " + path + ": injected I/O error");
  }
  copy_entries(path, files_, durable_files_);
  copy_entries(path, dirs_, durable_dirs_);
  stats_.dir_syncs++;
  return Status::ok();
}

Result<std::vector<std::string>> SimDisk::list_dir(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (!dir_exists(path)) return Status::not_found("list " + path + ": no such directory");
  std::vector<std::string> names;
  auto base_name = [](const std::string& p) { return p.substr(p.rfind('/') + 1); };
  for (const auto& [name, inode] : files_) {
    if (parent_dir(name) == path) names.push_back(base_name(name));
  }
  for (const auto& dir : dirs_) {
    if (parent_dir(dir) == path) names.push_back(base_name(dir));
  }
  return names;
}

Result<uint64_t> SimDisk::file_size(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  auto it = files_.find(path);
  if (it != files_.end()) return static_cast<uint64_t>(it->second->data.size());
  if (dir_exists(path)) return Status::io_error("size of " + path + ": is a directory");
  return Status::not_found("size of " + path + ": no such file");
}

Result<bool> SimDisk::exists(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  return files_.contains(path) || dir_exists(path);
}

Result<bool> SimDisk::is_dir(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (dir_exists(path)) return true;
  if (files_.contains(path)) return false;
  return Status::not_found("stat " + path + ": no such file or directory");
}

Result<std::unique_ptr<FileLock>> SimDisk::lock(const std::string& raw) {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  if (Status s = check_alive(generation_); !s.is_ok()) return s;
  if (locks_.contains(path)) return Status::busy("lock " + path + ": held by another owner");
  if (!files_.contains(path)) {
    if (dir_exists(path)) return Status::io_error("lock " + path + ": is a directory");
    if (!dir_exists(parent_dir(path))) return Status::not_found("lock " + path + ": no parent");
    files_.emplace(path, std::make_shared<Inode>());
  }
  uint64_t token = next_lock_token_++;
  locks_[path] = token;
  return std::unique_ptr<FileLock>(new LockHandle(this, path, token));
}

void SimDisk::unlock(const std::string& path, uint64_t token) {
  std::lock_guard lock(mu_);
  // A lock from before a crash died with its process; don't free a new holder's.
  auto it = locks_.find(path);
  if (it != locks_.end() && it->second == token) locks_.erase(it);
}

// The namespace reverts to its durable copy. An entry whose parent directory
// is not durable is lost (fsck would put it in lost+found). std::set orders a
// parent before its children, so one pass suffices.
void SimDisk::revert_namespace() {
  dirs_.clear();
  for (const auto& dir : durable_dirs_) {
    if (dir_exists(parent_dir(dir))) dirs_.insert(dir);
  }
  files_.clear();
  for (const auto& [name, inode] : durable_files_) {
    if (dir_exists(parent_dir(name))) files_.emplace(name, inode);
  }
  durable_dirs_ = dirs_;
  durable_files_ = files_;
}

void SimDisk::crash_file(Inode& inode, CrashMode mode) {
  if (mode == CrashMode::kUnorderedOverwrites && !inode.truncated) {
    // Pages of the overwritten part, each on its own; then the appended part
    // as kTornTail.
    constexpr uint64_t kPage = 4096;
    const uint64_t overwritten_to = std::min<uint64_t>(inode.dirty_to, inode.durable.size());
    for (uint64_t page = inode.dirty_from / kPage * kPage; page < overwritten_to; page += kPage) {
      const uint64_t from = std::max(page, inode.dirty_from);
      const uint64_t to = std::min(page + kPage, overwritten_to);
      if (rng_.uniform(2) == 0) {
        inode.durable.replace(from, to - from, inode.data.substr(from, to - from));
      }
    }
    inode.dirty_from = std::max(inode.dirty_from, overwritten_to);
    mode = CrashMode::kTornTail;
  }
  const uint64_t dirty = inode.dirty_to - inode.dirty_from;
  if (mode != CrashMode::kLoseUnsynced && !inode.truncated && dirty > 0) {
    uint64_t keep = rng_.uniform(dirty + 1);
    write_back(inode, inode.dirty_from + keep);
    if (mode == CrashMode::kTornTailGarbage && keep > 0) {
      uint64_t garbage = 1 + rng_.uniform(std::min<uint64_t>(keep, 16));
      for (uint64_t i = inode.dirty_from + keep - garbage; i < inode.dirty_from + keep; ++i) {
        inode.durable[i] = static_cast<char>(rng_.next());
      }
    }
  }
  inode.data = inode.durable;
  mark_clean(inode);
  inode.truncated = false;
}

void SimDisk::crash(CrashMode mode) {
  std::lock_guard lock(mu_);
  stats_.crashes++;
  generation_++;
  halted_ = false;
  locks_.clear();
  revert_namespace();
  std::unordered_set<Inode*> seen;
  for (auto& [name, inode] : files_) {
    if (seen.insert(inode.get()).second) crash_file(*inode, mode);
  }
}

void SimDisk::halt() {
  std::lock_guard lock(mu_);
  halted_ = true;
}

void SimDisk::fail_next_sync(std::string path_prefix) {
  std::lock_guard lock(mu_);
  failing_sync_prefixes_.push_back(std::move(path_prefix));
}

void SimDisk::set_sync_failure_probability(double p) {
  std::lock_guard lock(mu_);
  sync_failure_probability_ = p;
}

void SimDisk::flip_bit_on_read(double probability) {
  std::lock_guard lock(mu_);
  bit_flip_probability_ = probability;
}

void SimDisk::enospc_after_bytes(uint64_t n) {
  std::lock_guard lock(mu_);
  space_left_ = n;
}

void SimDisk::clear_enospc() {
  std::lock_guard lock(mu_);
  space_left_.reset();
}

SimDiskStats SimDisk::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Result<std::string> SimDisk::durable_contents(const std::string& raw) const {
  const std::string path = normalize(raw);
  std::lock_guard lock(mu_);
  auto it = durable_files_.find(path);
  if (it == durable_files_.end()) return Status::not_found("not durable: " + path);
  return it->second->durable;
}

}  // namespace shoal::env
