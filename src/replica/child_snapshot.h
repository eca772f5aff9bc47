// ChildSnapshot: serializes an in-memory state in a forked child process, as
// Redis's BGSAVE does, so that the host's loop does not stop for it
// (docs/durable-shards.md, "Compaction snapshots in a child process").
//
// fork() gives the child a copy-on-write image of the parent at one instant:
// the state at the applied index the replica recorded just before. The child
// runs `produce`, streams the bytes back through a pipe with a footer (their
// size and CRC32C) and exits; the parent reads them a bounded amount at a
// time from its loop (poll), so a truncated or corrupted stream, or a child
// that died, is detected and never taken for a snapshot.
//
// The child must not take a lock another thread may hold at the fork: it only
// reads memory, allocates (jemalloc and glibc make malloc safe after fork),
// writes to its pipe and _exit()s. It dies with its parent (PR_SET_PDEATHSIG).
//
// Thread-safety: one thread (the host's) uses an instance.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

namespace shoal::replica {

class ChildSnapshot {
 public:
  // Forks a child that returns produce()'s bytes, about `expected_bytes` of
  // them (reserved up front: growing a state-sized buffer by doubling would
  // copy it whole within one poll). Returns nullptr if the pipe or the fork
  // failed (the caller serializes in-process instead).
  static std::unique_ptr<ChildSnapshot> start(const std::function<std::string()>& produce,
                                              size_t expected_bytes = 0);
  // Kills and reaps a child still running.
  ~ChildSnapshot();
  ChildSnapshot(const ChildSnapshot&) = delete;
  ChildSnapshot& operator=(const ChildSnapshot&) = delete;

  enum class State { kRunning, kDone, kFailed };
  // Reads what the child has written, at most `max_bytes` per call, without
  // blocking; at the end of the stream checks the footer and reaps the child.
  State poll(size_t max_bytes = kPollBytes);
  State state() const { return state_; }
  // kDone: the bytes produce() returned.
  std::string take_bytes() { return std::move(bytes_); }
  // kFailed: why.
  const std::string& error() const { return error_; }
  // The child's pid while it runs (tests); -1 once reaped.
  pid_t pid() const { return pid_; }

  // Per poll: enough to drain a child within a few loop iterations, little
  // enough that one iteration never copies more than a few milliseconds' worth.
  static constexpr size_t kPollBytes = 4 << 20;

 private:
  ChildSnapshot(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  // Closes the pipe; kills and reaps the child if it is still there.
  void stop();
  State fail(std::string why);
  State finish();
  void extend_crc(size_t upto);

  pid_t pid_;
  int fd_;  // the pipe's read end; -1 once closed
  State state_ = State::kRunning;
  static constexpr size_t kReadBytes = 256 << 10;
  static constexpr size_t kFooterBytes = 8 + 4;  // fixed64 size, fixed32 crc32c
  std::string bytes_;                            // the stream so far: data, then the footer
  std::string scratch_;                          // kReadBytes, allocated at the first poll
  // CRC32C of bytes_[0, crc_bytes_): extended as bytes arrive, so that the
  // end of the stream does not checksum a whole state at once. Never covers
  // the last kFooterBytes received (they may be the footer).
  uint32_t crc_ = 0;
  size_t crc_bytes_ = 0;
  std::string error_;
};

}  // namespace shoal::replica
