// Disk: every file operation the storage layer performs, behind one interface
// (DESIGN.md section 3, docs/durable-shards.md "The env seam"), so that the
// same storage code runs on the real disk (PosixDisk) or on a simulated one
// that loses, tears and corrupts data (SimDisk).
//
// The durability contract. Every implementation keeps it, and callers may
// rely on nothing more (H16: acknowledged before durable):
//  * append() puts bytes in the page cache. They are visible to reads at once
//    and survive a process crash, but NOT a power loss or kernel crash.
//  * WritableFile::sync() (fdatasync) makes every byte appended to that file
//    before the call durable, together with the file's size. It does not make
//    the file's *name* durable.
//  * A name created, renamed or removed in directory D becomes durable only
//    when sync_dir(D) returns OK. A rename across directories needs both.
//    Until then a crash may undo it: a new file vanishes, a renamed file is
//    found under its old name, a removed file comes back. A new directory is
//    a new name in its parent: sync the parent.
//  * open_append() with truncate: the truncation is durable only after the
//    file's sync(); a crash before that brings the old contents back.
//  * After a crash, the unsynced tail of a file may survive in part (a torn
//    write), possibly ending in garbage. Anything that matters must be
//    checksummed by the caller.
//  * A failed sync() leaves the file in an unknown state: any byte appended
//    since the last successful sync may be lost, EVEN IF a later sync()
//    succeeds (Linux marks the pages clean after a writeback error). The only
//    safe reaction is to stop acknowledging writes that depend on the file and
//    recover from what is durable.
//  * rename() atomically replaces the target: a reader sees the old file or
//    the new one, never neither (and, after sync_dir, so does a crash).
//
// Errors are values: NotFound when a path does not exist, IoError for any
// other failure the OS (or the simulation) reports, including ENOSPC.
//
// Thread-safety: a Disk is thread-safe. A ReadableFile may be read from many
// threads at once. A WritableFile is used by one thread at a time. File
// handles and locks must not outlive the Disk that opened them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shoal::env {

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to dst.size() bytes starting at `offset` into dst and returns how
  // many were read: fewer than dst.size() only at end of file. Thread-safe.
  virtual Result<size_t> read_at(uint64_t offset, std::span<char> dst) const = 0;
  // The file's current size, including bytes not yet synced.
  virtual Result<uint64_t> size() const = 0;
};

class WritableFile {
 public:
  // Closes the file if close() was not called; an error there is lost, so
  // callers that care call close() themselves.
  virtual ~WritableFile() = default;
  // Appends all of `data` at the end of the file, or fails. On failure an
  // unknown prefix of `data` may have been written.
  virtual Status append(std::string_view data) = 0;
  // fdatasync: see the contract above. May run on another thread while
  // append() runs (RocksDB's SyncWAL: the host's pipelined sync).
  virtual Status sync() = 0;
  // Releases the handle. Does not sync. Further calls fail.
  virtual Status close() = 0;
  // Bytes in the file, including those appended through this handle and not
  // yet synced.
  virtual uint64_t size() const = 0;
};

// An exclusive advisory lock on a path (RocksDB's LOCK file). Released when
// destroyed, or when the process dies.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct AppendOptions {
  bool create = true;     // create the file if missing (else NotFound)
  bool truncate = false;  // discard existing contents (durable after sync())
  // Pre-written space (0 = off; requires truncate): the file keeps between
  // half of this and this many zero bytes written past its data, extended
  // by append() as the data grows, so that appends overwrite blocks already
  // written instead of growing the file. A sync() after such appends need
  // not commit a new file size or newly allocated blocks to the file
  // system's journal (figures: docs/durable-shards.md "Pre-written WAL
  // space"). What changes for the caller:
  //  * WritableFile::size() counts the data only; the file's size on disk
  //    (ReadableFile::size(), Disk::file_size()) includes the zeros.
  //  * close() cuts the zeros off (not durably). A crash keeps them: after
  //    one, the file may end in zeros, and its torn tail may be followed by
  //    zeros. Only for files whose readers take a zero tail as the end
  //    (RocksDB's WAL reader skips zero-filled blocks).
  //  * The zeros are an optimization: if writing them fails (no space),
  //    append() still appends, and writes no more zeros to that file; only
  //    its own bytes can fail it.
  uint64_t prewrite_bytes = 0;
};

class Disk {
 public:
  virtual ~Disk() = default;

  virtual Result<std::unique_ptr<ReadableFile>> open_read(const std::string& path) = 0;
  virtual Result<std::unique_ptr<WritableFile>> open_append(const std::string& path,
                                                            AppendOptions options) = 0;

  // Atomically renames a file, replacing `to` if it exists.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Removes a file (not a directory).
  virtual Status remove(const std::string& path) = 0;
  // Cuts a file to its first `size` bytes (no more than it has) and syncs it:
  // durable on return. Not for a file open for writing.
  virtual Status truncate(const std::string& path, uint64_t size) = 0;
  // Creates a directory; OK if it already exists as a directory. The parent
  // must exist. Durable once the parent is synced.
  virtual Status create_dir(const std::string& path) = 0;
  // Removes an empty directory.
  virtual Status remove_dir(const std::string& path) = 0;
  // fsync of the directory: makes its entries' creations, renames and
  // removals durable.
  virtual Status sync_dir(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, files and directories,
  // in no particular order, without "." and "..".
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;

  virtual Result<uint64_t> file_size(const std::string& path) = 0;
  // True if a file or directory exists at `path`.
  virtual Result<bool> exists(const std::string& path) = 0;
  virtual Result<bool> is_dir(const std::string& path) = 0;

  // Takes an exclusive lock on `path` (created if missing). Busy if anyone,
  // in this process or another, holds it.
  virtual Result<std::unique_ptr<FileLock>> lock(const std::string& path) = 0;
};

// Reads a whole file (small files: manifests, hard state, snapshot headers).
Result<std::string> read_file(Disk& disk, const std::string& path);

// Writes `data` to `path` durably: to `path`.tmp, sync, rename over `path`,
// sync the parent directory. A crash leaves the old file or the new one.
Status write_file_atomically(Disk& disk, const std::string& path, std::string_view data);

// "a/b/c" -> "a/b"; "/c" -> "/"; "c" -> "". Paths have no trailing slash.
std::string parent_dir(const std::string& path);

}  // namespace shoal::env
