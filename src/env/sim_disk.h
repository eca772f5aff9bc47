// SimDisk: an in-memory env::Disk that models a page cache and a power loss,
// for unit tests and the simulator. Deterministic given its seed when driven
// from one thread (with RocksDB's background threads the order of random
// draws, and so the exact faults, depends on scheduling).
//
// The model (it keeps the contract in disk.h, and breaks nothing more):
//  * Each file has durable contents and a page cache. Reads see the cache;
//    append() writes to the cache; sync() copies the dirty bytes to durable.
//  * The namespace (which name points at which file, which directories
//    exist) also has a durable copy per directory; sync_dir(D) makes D's
//    current entries durable. Renaming a directory is not supported.
//  * crash() is a power loss: the namespace reverts to its durable copy (an
//    entry whose parent directory is not durable is dropped), every file to
//    its durable contents, optionally plus a random prefix of its unsynced
//    appended tail (torn write), optionally ending in random garbage. Handles
//    and locks opened before the crash fail from then on, so a process that
//    "died" cannot write into the disk's next life.
//  * A failed sync (injected) writes back a random prefix of the dirty bytes
//    and marks all of them clean, like Linux: the cache still shows them, a
//    later successful sync does not write them, and after a crash the gap
//    reads as zeros or is gone.
//  * flip_bit_on_read corrupts the bytes RETURNED by a read, never the stored
//    ones: rereading may return the right bytes (a flaky bus or cache, which a
//    checksum must catch at every read).
//  * enospc_after_bytes(n): writes fail with IoError ("no space left on
//    device", nothing written) once they would grow files by more than n
//    bytes in all (overwrites of pre-written zeros need no space).
//  * Pre-written space (AppendOptions::prewrite_bytes) writes its zeros
//    through the same page cache: they are lost, torn or synced like data,
//    and a crash may leave a torn overwrite followed by zeros.
//
// Thread-safe: one mutex guards all state (RocksDB calls from background
// threads). Handles must not outlive the SimDisk.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "env/disk.h"
#include "env/random.h"

namespace shoal::env {

enum class CrashMode {
  kLoseUnsynced,     // every unsynced byte is lost
  kTornTail,         // a random prefix of each file's unsynced tail survives
  kTornTailGarbage,  // as kTornTail, and the last surviving bytes are random garbage
  // As kTornTail for appended bytes; bytes that overwrote durable ones (the
  // pre-written zeros of AppendOptions::prewrite_bytes) reach the disk page
  // by page in no order: each 4 KiB page of them survives or not on its own,
  // so an earlier page can read as zeros under a later one that survived.
  kUnorderedOverwrites,
};

struct SimDiskStats {
  uint64_t file_syncs = 0;  // sync() calls that succeeded
  uint64_t dir_syncs = 0;   // sync_dir() calls that succeeded
  uint64_t failed_syncs = 0;
  uint64_t bytes_written = 0;
  uint64_t bytes_read = 0;
  uint64_t bit_flips = 0;
  uint64_t crashes = 0;
};

class SimDisk final : public Disk {
 public:
  explicit SimDisk(uint64_t seed);
  ~SimDisk() override;

  // Disk.
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

  // Power loss; see the model above. Also ends halt().
  void crash(CrashMode mode = CrashMode::kTornTail);
  // The machine stops: every operation fails with IoError until crash().
  // To cut power under a running process: halt(), tear the process down
  // (its shutdown writes fail), then crash().
  void halt();

  // Faults. The next sync (file or directory) whose path starts with
  // `path_prefix` fails; one-shot, several may be pending.
  void fail_next_sync(std::string path_prefix);
  void set_sync_failure_probability(double p);
  void flip_bit_on_read(double probability);
  void enospc_after_bytes(uint64_t n);
  void clear_enospc();

  SimDiskStats stats() const;
  // The bytes of `path` that would survive a crash in kLoseUnsynced mode, if
  // its name is durable; NotFound otherwise. For tests.
  Result<std::string> durable_contents(const std::string& path) const;

 private:
  // One file's bytes. Invariant: dirty_from <= dirty_to <= data.size();
  // bytes [dirty_from, dirty_to) of `data` are dirty (written since the last
  // sync), the rest clean (on disk, or dropped by a failed sync). Dirty bytes
  // are appended, or overwrite pre-written zeros
  // (AppendOptions::prewrite_bytes): durable may extend past dirty_from, and
  // a crash lays the surviving dirty prefix over it.
  struct Inode {
    std::string data;     // the page cache: what reads see
    std::string durable;  // what survives a crash
    uint64_t dirty_from = 0;
    uint64_t dirty_to = 0;
    bool truncated = false;  // truncated since the last sync: durable is the old file
  };
  class ReadHandle;
  class WriteHandle;
  class LockHandle;
  friend class ReadHandle;
  friend class WriteHandle;
  friend class LockHandle;

  // Called by handles; each takes mu_.
  Result<size_t> read(const Inode& inode, uint64_t generation, uint64_t offset,
                      std::span<char> dst);
  Result<uint64_t> size_of(const Inode& inode, uint64_t generation) const;
  // Writes `data` at `offset` (at most the file's size: an append when
  // equal). Only bytes that grow the file count against enospc_after_bytes.
  Status write(Inode& inode, uint64_t generation, uint64_t offset, std::string_view data);
  // As write() at the end of the file.
  Status append(Inode& inode, uint64_t generation, std::string_view data);
  // Cuts the page cache's copy to `size` bytes (a close of a file with
  // pre-written space; not durable).
  void cut_to(Inode& inode, uint64_t generation, uint64_t size);
  Status sync(Inode& inode, uint64_t generation, const std::string& path);
  void unlock(const std::string& path, uint64_t token);

  // "/db//x/" -> "/db/x"; "." -> "" (the root of relative paths).
  static std::string normalize(const std::string& path);

  // Helpers; mu_ held.
  Status check_alive(uint64_t generation) const;
  Status write_locked(Inode& inode, uint64_t offset, std::string_view data);
  bool dir_exists(const std::string& dir) const;
  bool should_fail_sync(const std::string& path);
  bool chance(double p);
  void write_back(Inode& inode, uint64_t end);
  static void mark_clean(Inode& inode);
  void crash_file(Inode& inode, CrashMode mode);
  void revert_namespace();

  mutable std::mutex mu_;
  Random rng_;                                           // guarded by mu_
  uint64_t generation_ = 0;                              // guarded by mu_; bumped by crash()
  bool halted_ = false;                                  // guarded by mu_
  std::map<std::string, std::shared_ptr<Inode>> files_;  // guarded by mu_; the live namespace
  std::map<std::string, std::shared_ptr<Inode>> durable_files_;  // guarded by mu_
  std::set<std::string> dirs_;                                   // guarded by mu_
  std::set<std::string> durable_dirs_;                           // guarded by mu_
  std::map<std::string, uint64_t> locks_;           // guarded by mu_; path -> holder's token
  uint64_t next_lock_token_ = 1;                    // guarded by mu_
  std::vector<std::string> failing_sync_prefixes_;  // guarded by mu_
  double sync_failure_probability_ = 0;             // guarded by mu_
  double bit_flip_probability_ = 0;                 // guarded by mu_
  std::optional<uint64_t> space_left_;              // guarded by mu_
  SimDiskStats stats_;                              // guarded by mu_
};

}  // namespace shoal::env
