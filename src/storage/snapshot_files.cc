#include "storage/snapshot_files.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/crc32c.h"
#include "base/thread_name.h"
#include "storage/rocks_db.h"

namespace shoal::storage {
namespace {

constexpr std::string_view kSuffix = ".snap";
constexpr std::string_view kTmpSuffix = ".tmp";
// Written in pieces so that the fault-injection file system sees a file
// built by several appends, as a real one is.
constexpr size_t kAppendBytes = 1 << 20;

std::string prefix_of(ShardId shard) { return fmt::format("s{}-", shard.value()); }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Status sync_dir(rocksdb::Env* env, const std::string& dir) {
  std::unique_ptr<rocksdb::Directory> d;
  if (auto s = env->NewDirectory(dir, &d); !s.ok()) return from_rocks(s, "open snapshot dir");
  return from_rocks(d->Fsync(), "sync snapshot dir");
}

}  // namespace

Result<std::unique_ptr<SnapshotFiles>> SnapshotFiles::open(rocksdb::Env* env, std::string dir) {
  if (env == nullptr) env = rocksdb::Env::Default();
  if (env->FileExists(dir).IsNotFound()) {
    if (auto s = env->CreateDirIfMissing(dir); !s.ok()) {
      return from_rocks(s, "create snapshot dir " + dir);
    }
    // The new directory's entry must be durable before any file in it is
    // named by a durable reference.
    auto slash = dir.find_last_of('/');
    std::string parent = slash == std::string::npos ? "." : dir.substr(0, slash);
    if (Status s = sync_dir(env, parent.empty() ? "/" : parent); !s.is_ok()) return s;
  }
  std::unique_ptr<SnapshotFiles> files(new SnapshotFiles(env, std::move(dir)));
  // Names stay unique across restarts: numbering continues after the
  // highest one on disk (a repeated name would let the collection of a
  // superseded file delete the one that replaced it).
  std::vector<std::string> children;
  if (auto s = env->GetChildren(files->dir_, &children); !s.ok()) {
    return from_rocks(s, "list snapshot dir " + files->dir_);
  }
  for (const auto& name : children) {
    auto at = name.find("-n");
    if (at == std::string::npos) continue;
    uint64_t seq = 0;
    for (size_t i = at + 2; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) {
      seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
    }
    files->sequence_ = std::max(files->sequence_, seq);
  }
  return files;
}

Result<SnapshotFileRef> SnapshotFiles::write(ShardId shard, LogIndex index, std::string_view data) {
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = ++sequence_;
  }
  // The sequence number keeps two snapshots at one index (a retried write,
  // or one from before a restart) from sharing a name.
  std::string name = fmt::format("{}i{}-n{}{}", prefix_of(shard), index.value(), seq, kSuffix);
  std::string tmp = path(name) + std::string(kTmpSuffix);
  std::unique_ptr<rocksdb::WritableFile> f;
  rocksdb::EnvOptions eo;
  if (auto s = env_->NewWritableFile(tmp, &f, eo); !s.ok()) {
    return from_rocks(s, "create snapshot file");
  }
  Status st;
  for (size_t at = 0; at < data.size() && st.is_ok(); at += kAppendBytes) {
    auto piece = data.substr(at, kAppendBytes);
    st = from_rocks(f->Append(rocksdb::Slice(piece.data(), piece.size())), "write snapshot file");
  }
  if (st.is_ok()) st = from_rocks(f->Sync(), "sync snapshot file");
  if (st.is_ok()) st = from_rocks(f->Close(), "close snapshot file");
  if (st.is_ok()) st = from_rocks(env_->RenameFile(tmp, path(name)), "rename snapshot file");
  if (st.is_ok()) st = sync_dir(env_, dir_);
  if (!st.is_ok()) {
    env_->DeleteFile(tmp).PermitUncheckedError();
    env_->DeleteFile(path(name)).PermitUncheckedError();
    return st;
  }
  return SnapshotFileRef{std::move(name), data.size(), crc32c(data)};
}

Result<std::string> SnapshotFiles::read(const SnapshotFileRef& ref) const {
  std::string data;
  rocksdb::Status s = rocksdb::ReadFileToString(env_, path(ref.name), &data);
  if (s.IsNotFound() || (s.IsIOError() && env_->FileExists(path(ref.name)).IsNotFound())) {
    return Status::not_found("snapshot file " + ref.name + " is missing");
  }
  if (!s.ok()) return from_rocks(s, "read snapshot file " + ref.name);
  if (data.size() != ref.size || crc32c(data) != ref.crc) {
    return Status::corruption("snapshot file " + ref.name + ": size or checksum mismatch");
  }
  return data;
}

void SnapshotFiles::remove_unreferenced(ShardId shard, const std::set<std::string>& keep) {
  std::vector<std::string> children;
  if (!env_->GetChildren(dir_, &children).ok()) return;
  std::string prefix = prefix_of(shard);
  for (const auto& name : children) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!ends_with(name, kSuffix) && !ends_with(name, kTmpSuffix)) continue;
    if (keep.count(name)) continue;
    remove(name);
  }
}

void SnapshotFiles::remove(const std::string& name) {
  env_->DeleteFile(path(name)).PermitUncheckedError();
}

SnapshotFileWriter::SnapshotFileWriter(SnapshotFiles& files)
    : files_(files), thread_([this] { run(); }) {}

SnapshotFileWriter::~SnapshotFileWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

void SnapshotFileWriter::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& queued : queue_) {
      if (queued.shard == job.shard) {
        queued = std::move(job);
        return;
      }
    }
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
}

std::vector<SnapshotFileWriter::Done> SnapshotFileWriter::take_done() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(done_, {});
}

void SnapshotFileWriter::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
}

void SnapshotFileWriter::run() {
  set_thread_name("shoal-snapfile");
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    auto ref = files_.write(job.shard, job.meta.index, job.data);
    lock.lock();
    --busy_;
    done_.push_back(Done{job.shard, std::move(job.meta), std::move(ref)});
    cv_.notify_all();
  }
}

}  // namespace shoal::storage
