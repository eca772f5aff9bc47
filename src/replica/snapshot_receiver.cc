// The receiving side of snapshot transfer (snapshot_transfer.h): the
// receiver, load_snapshot and gc_snapshot_files.
//
// Invariant: <shard>-<index>.tmp holds a prefix of whole frames that verified
// in order, possibly followed (after a crash or a failed append) by a torn or
// corrupt tail that recover() cuts off before anything is appended. A .snap
// name is created only by renaming a .tmp whose every frame and trailer
// verified and whose bytes were fsynced.
#include <functional>

#include "base/coding.h"
#include "replica/snapshot_transfer.h"

namespace shoal::replica {
namespace {

constexpr size_t kFramePrefix = 8;  // len(4) crc32c(4)

struct FileScan {
  uint64_t intact_bytes = 0;  // bytes of whole, verified frames
  uint64_t file_bytes = 0;
  storage::SnapshotReader::Checkpoint checkpoint;  // after the last intact frame
  bool done = false;                               // the trailer verified
};

using FrameSink = std::function<Status(std::string_view frame)>;

// Reads `path` frame by frame, verifying each with a SnapshotReader, until the
// end, the trailer or the first frame that is incomplete or fails. Records of
// verified frames go to `visit`, the frames themselves to `sink` (either may
// be null). Errors: only I/O errors (a bad frame just ends the intact part).
// Memory: one frame, at most kMaxSnapshotFrameBytes.
Result<FileScan> scan_file(env::Disk& disk, const std::string& path,
                           const storage::SnapshotReader::RecordVisitor& visit,
                           const FrameSink& sink) {
  auto file = disk.open_read(path);
  if (!file.is_ok()) return file.status();
  auto size = file.value()->size();
  if (!size.is_ok()) return size.status();
  FileScan scan;
  scan.file_bytes = size.value();
  storage::SnapshotReader reader;
  auto ignore = [](std::string_view, std::string_view) {};
  std::string frame;
  uint64_t off = 0;
  while (!scan.done && scan.file_bytes - off >= kFramePrefix) {
    frame.resize(kFramePrefix);
    auto n = file.value()->read_at(off, std::span<char>(frame.data(), frame.size()));
    if (!n.is_ok()) return n.status();
    uint32_t len = *ByteReader(frame).fixed32();
    if (n.value() != kFramePrefix || len == 0 || len > storage::kMaxSnapshotFrameBytes ||
        len > scan.file_bytes - off - kFramePrefix) {
      break;  // a torn or corrupt length
    }
    frame.resize(kFramePrefix + len);
    n = file.value()->read_at(off, std::span<char>(frame.data(), frame.size()));
    if (!n.is_ok()) return n.status();
    if (n.value() != frame.size()) break;
    if (!reader.feed(frame, visit ? visit : ignore).is_ok()) break;
    if (sink) {
      if (Status s = sink(frame); !s.is_ok()) return s;
    }
    off += frame.size();
    scan.checkpoint = reader.checkpoint();
    scan.done = reader.done();
  }
  scan.intact_bytes = off;
  return scan;
}

bool same_snapshot(const storage::SnapshotHeader& h, ShardId shard, LogIndex index) {
  return h.shard == shard && h.index == index;
}

Status remove_if_exists(env::Disk& disk, const std::string& path) {
  Status s = disk.remove(path);
  return s.code() == StatusCode::kNotFound ? Status::ok() : s;
}

// Copies the intact prefix of `tmp` to `rewrite`, then renames it over `tmp`
// (the Disk has no truncate). A crash leaves the old file or the new one.
Result<FileScan> rewrite_prefix(env::Disk& disk, const std::string& dir, const std::string& tmp,
                                const std::string& rewrite) {
  auto out = disk.open_append(rewrite, env::AppendOptions{.create = true, .truncate = true});
  if (!out.is_ok()) return out.status();
  env::WritableFile& file = *out.value();
  // Frames are copied as they verify, so a read error during the copy (a bit
  // flip) shortens the copy instead of copying bad bytes.
  auto scan = scan_file(disk, tmp, nullptr, [&](std::string_view f) { return file.append(f); });
  if (!scan.is_ok()) return scan.status();
  Status s = file.sync();
  Status closed = file.close();
  if (s.is_ok()) s = closed;
  if (s.is_ok()) s = disk.rename(rewrite, tmp);
  if (s.is_ok()) s = disk.sync_dir(dir);
  if (!s.is_ok()) return s;
  scan.value().file_bytes = scan.value().intact_bytes;
  return scan;
}

}  // namespace

std::string snapshot_dir(const std::string& dir) { return dir + "/snap"; }

std::string snapshot_file_name(ShardId shard, LogIndex index, bool complete) {
  return std::to_string(shard.value()) + "-" + std::to_string(index.value()) +
         (complete ? ".snap" : ".tmp");
}

SnapshotReceiver::SnapshotReceiver(SnapshotBudget::Ticket ticket, env::Disk& disk,
                                   const std::string& dir, ShardId shard, LogIndex index,
                                   SnapshotReceiverOptions options)
    : ticket_(std::move(ticket)),
      disk_(disk),
      snap_dir_(snapshot_dir(dir)),
      shard_(shard),
      index_(index),
      tmp_path_(snap_dir_ + "/" + snapshot_file_name(shard, index, false)),
      snap_path_(snap_dir_ + "/" + snapshot_file_name(shard, index, true)),
      options_(options) {}

Result<std::unique_ptr<SnapshotReceiver>> SnapshotReceiver::open(SnapshotBudget::Ticket ticket,
                                                                 env::Disk& disk,
                                                                 const std::string& dir,
                                                                 ShardId shard, LogIndex index,
                                                                 SnapshotReceiverOptions options) {
  std::unique_ptr<SnapshotReceiver> r(
      new SnapshotReceiver(std::move(ticket), disk, dir, shard, index, options));
  auto exists = disk.exists(r->snap_dir_);
  if (!exists.is_ok()) return exists.status();
  if (!exists.value()) {
    // A new directory is a new name in its parent (disk.h).
    if (Status s = disk.create_dir(r->snap_dir_); !s.is_ok()) return s;
    if (Status s = disk.sync_dir(dir); !s.is_ok()) return s;
  }
  if (Status s = r->recover(); !s.is_ok()) return s;
  return r;
}

Status SnapshotReceiver::recover() {
  auto has_snap = disk_.exists(snap_path_);
  if (!has_snap.is_ok()) return has_snap.status();
  if (has_snap.value()) {
    auto scan = scan_file(disk_, snap_path_, nullptr, nullptr);
    if (!scan.is_ok()) return scan.status();
    const FileScan& f = scan.value();
    if (f.done && f.intact_bytes == f.file_bytes &&
        same_snapshot(f.checkpoint.header, shard_, index_)) {
      // Its name may not be durable yet (the directory sync failed or never
      // ran): sync again before calling it complete.
      if (Status s = disk_.sync_dir(snap_dir_); !s.is_ok()) return failed_ = s;
      checkpoint_ = f.checkpoint;
      next_ = f.checkpoint.next_frame;
      complete_ = true;
      return Status::ok();
    }
    // Only a bit flip or a bug gets here: never serve it, fetch it again.
    if (Status s = disk_.remove(snap_path_); !s.is_ok()) return s;
    if (Status s = disk_.sync_dir(snap_dir_); !s.is_ok()) return s;
  }
  auto has_tmp = disk_.exists(tmp_path_);
  if (!has_tmp.is_ok()) return has_tmp.status();
  return has_tmp.value() ? recover_partial() : start_fresh();
}

Status SnapshotReceiver::recover_partial() {
  auto scan = scan_file(disk_, tmp_path_, nullptr, nullptr);
  if (!scan.is_ok()) return scan.status();
  if (scan.value().intact_bytes < scan.value().file_bytes) {
    scan = rewrite_prefix(disk_, snap_dir_, tmp_path_, tmp_path_ + ".rewrite");
    if (!scan.is_ok()) return scan.status();
  }
  const FileScan& f = scan.value();
  if (f.checkpoint.next_frame == 0 || !same_snapshot(f.checkpoint.header, shard_, index_)) {
    return start_fresh();
  }
  auto file = disk_.open_append(tmp_path_, env::AppendOptions{.create = false});
  if (!file.is_ok()) return file.status();
  file_ = std::move(file).value();
  checkpoint_ = f.checkpoint;
  next_ = f.checkpoint.next_frame;
  // Unknown: whether the recovered bytes are durable. Sync at the next chance.
  unsynced_bytes_ = options_.sync_every_bytes;
  return f.done ? finalize() : Status::ok();
}

Status SnapshotReceiver::start_fresh() {
  auto file = disk_.open_append(tmp_path_, env::AppendOptions{.create = true, .truncate = true});
  if (!file.is_ok()) return file.status();
  file_ = std::move(file).value();
  checkpoint_ = {};
  next_ = 0;
  unsynced_bytes_ = 0;
  // Make the name durable, so that a crash keeps what gets synced into it.
  return disk_.sync_dir(snap_dir_);
}

Status SnapshotReceiver::receive(uint64_t index, std::string_view frame) {
  if (!failed_.is_ok()) return failed_;
  if (complete_) return Status::invalid_argument("snapshot already complete");
  if (index != next_) {
    return Status::invalid_argument("snapshot frame " + std::to_string(index) +
                                    " out of order: want " + std::to_string(next_));
  }
  ByteReader in(frame);
  auto len = in.fixed32();
  if (!len || frame.size() != kFramePrefix + uint64_t{*len}) {
    return Status::corruption("snapshot frame " + std::to_string(index) + ": not one whole frame");
  }
  // Verify on a copy: a bad frame (from the network) must not fail the
  // receiver, the sender may resend it.
  storage::SnapshotReader probe(checkpoint_);
  if (Status s = probe.feed(frame, [](std::string_view, std::string_view) {}); !s.is_ok()) {
    return s;
  }
  if (index == 0 && !same_snapshot(probe.header(), shard_, index_)) {
    return Status::invalid_argument("snapshot frame of another snapshot");
  }
  // A failed append leaves an unknown prefix of the frame: the next receiver
  // re-verifies the file and cuts it off.
  if (Status s = file_->append(frame); !s.is_ok()) return failed_ = s;
  checkpoint_ = probe.checkpoint();
  ++next_;
  unsynced_bytes_ += frame.size();
  if (probe.done()) return finalize();
  if (unsynced_bytes_ >= options_.sync_every_bytes) {
    if (Status s = file_->sync(); !s.is_ok()) return fail_and_discard(s);
    unsynced_bytes_ = 0;
  }
  return Status::ok();
}

Status SnapshotReceiver::finalize() {
  if (Status s = file_->sync(); !s.is_ok()) return fail_and_discard(s);
  Status closed = file_->close();
  file_.reset();
  if (!closed.is_ok()) return failed_ = closed;
  if (Status s = disk_.rename(tmp_path_, snap_path_); !s.is_ok()) return failed_ = s;
  // Until the directory is synced a crash may bring back the .tmp (which
  // recover() finalizes again): not complete yet (H16).
  if (Status s = disk_.sync_dir(snap_dir_); !s.is_ok()) return failed_ = s;
  complete_ = true;
  return Status::ok();
}

Status SnapshotReceiver::fail_and_discard(Status why) {
  file_.reset();
  // Best effort: if this fails too the disk is failing and so is the node.
  (void)remove_if_exists(disk_, tmp_path_);
  return failed_ = std::move(why);
}

Result<LoadedSnapshot> load_snapshot(env::Disk& disk, const std::string& dir, ShardId shard,
                                     LogIndex index) {
  const std::string path = snapshot_dir(dir) + "/" + snapshot_file_name(shard, index, true);
  LoadedSnapshot loaded;
  auto scan = scan_file(
      disk, path,
      [&](std::string_view k, std::string_view v) { loaded.records.emplace_back(k, v); }, nullptr);
  if (!scan.is_ok()) return scan.status();
  const FileScan& f = scan.value();
  if (!f.done || f.intact_bytes != f.file_bytes) {
    return Status::corruption(path + ": snapshot fails verification at byte " +
                              std::to_string(f.intact_bytes));
  }
  if (!same_snapshot(f.checkpoint.header, shard, index)) {
    return Status::corruption(path + ": header names another snapshot");
  }
  loaded.header = f.checkpoint.header;
  return loaded;
}

namespace {

// True for "<digits>-<digits>.tmp", ".snap" and ".tmp.rewrite".
bool is_snapshot_file_name(const std::string& name) {
  size_t dot = name.find('.');
  if (dot == std::string::npos) return false;
  std::string_view ext = std::string_view(name).substr(dot);
  if (ext != ".tmp" && ext != ".snap" && ext != ".tmp.rewrite") return false;
  std::string_view stem = std::string_view(name).substr(0, dot);
  size_t dash = stem.find('-');
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == s.npos;
  };
  return dash != stem.npos && digits(stem.substr(0, dash)) && digits(stem.substr(dash + 1));
}

}  // namespace

Result<std::vector<std::string>> gc_snapshot_files(env::Disk& disk, const std::string& dir,
                                                   const std::set<std::string>& keep) {
  const std::string snap_dir = snapshot_dir(dir);
  auto names = disk.list_dir(snap_dir);
  if (!names.is_ok()) {
    if (names.status().code() == StatusCode::kNotFound) return std::vector<std::string>();
    return names.status();
  }
  std::vector<std::string> removed;
  for (const std::string& name : names.value()) {
    if (!is_snapshot_file_name(name) || keep.contains(name)) continue;
    if (Status s = remove_if_exists(disk, snap_dir + "/" + name); !s.is_ok()) return s;
    removed.push_back(name);
  }
  if (!removed.empty()) {
    if (Status s = disk.sync_dir(snap_dir); !s.is_ok()) return s;
  }
  return removed;
}

}  // namespace shoal::replica
