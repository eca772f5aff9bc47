#include "replica/child_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "base/coding.h"
#include "base/crc32c.h"

namespace shoal::replica {
namespace {
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The child's whole life: no locks, no logging, no exit handlers.
[[noreturn]] void run_child(pid_t parent, int fd, const std::function<std::string()>& produce) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(2);  // the parent died before prctl
  // Forked from the raft loop's thread, the child would carry its name
  // (shoal-raft) in ps and top.
  ::prctl(PR_SET_NAME, "shoal-snapshot");
  // Nothing of the server's but the pipe: a listening socket or a client's
  // connection held here would outlive a restart of the parent (EADDRINUSE,
  // no FIN to a client the parent closed) until this child exits.
  if (fd > 3) ::close_range(3, static_cast<unsigned>(fd) - 1, 0);
  ::close_range(static_cast<unsigned>(fd) + 1, ~0U, 0);
  // The parent's handlers (a graceful shutdown on SIGTERM) are not ours, and
  // the server blocks SIGTERM and SIGINT in all its threads (main.cc), a mask
  // fork() keeps: undo both, so that these signals end the child.
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGPIPE, SIG_IGN);  // a parent that stopped reading: write fails, exit
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGTERM);
  sigaddset(&unblock, SIGINT);
  ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  try {
    std::string data = produce();
    std::string footer;
    put_fixed64(footer, data.size());
    put_fixed32(footer, crc32c(data));
    ::_exit(write_all(fd, data) && write_all(fd, footer) ? 0 : 3);
  } catch (...) {
    ::_exit(4);  // e.g. bad_alloc: never unwind into the server's code
  }
}
}  // namespace

std::unique_ptr<ChildSnapshot> ChildSnapshot::start(const std::function<std::string()>& produce,
                                                    size_t expected_bytes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return nullptr;
  // A bigger pipe lets the child run further ahead between two polls (the
  // kernel caps it at /proc/sys/fs/pipe-max-size; failing is harmless).
  ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return nullptr;
  }
  if (pid == 0) {
    ::close(fds[0]);
    run_child(parent, fds[1], produce);
  }
  ::close(fds[1]);
  if (::fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
    auto failed = std::unique_ptr<ChildSnapshot>(new ChildSnapshot(pid, fds[0]));
    failed->fail("can't make the snapshot pipe non-blocking");
    return failed;
  }
  auto c = std::unique_ptr<ChildSnapshot>(new ChildSnapshot(pid, fds[0]));
  c->bytes_.reserve(expected_bytes + expected_bytes / 8 + kFooterBytes);
  return c;
}

ChildSnapshot::~ChildSnapshot() { stop(); }

void ChildSnapshot::stop() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
}

ChildSnapshot::State ChildSnapshot::poll(size_t max_bytes) {
  if (state_ != State::kRunning) return state_;
  // Read into a scratch buffer, not into bytes_ grown in advance: a poll
  // that finds nothing must cost a syscall, not a memset.
  if (scratch_.empty()) scratch_.resize(kReadBytes);
  size_t read_now = 0;
  while (read_now < max_bytes) {
    size_t want = std::min(scratch_.size(), max_bytes - read_now);
    ssize_t n = ::read(fd_, scratch_.data(), want);
    if (n > 0) {
      bytes_.append(scratch_.data(), static_cast<size_t>(n));
      read_now += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return finish();  // end of stream: the child closed it
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return fail(std::string("reading the snapshot pipe: ") + std::strerror(errno));
  }
  extend_crc(bytes_.size() > kFooterBytes ? bytes_.size() - kFooterBytes : 0);
  return state_;
}

void ChildSnapshot::extend_crc(size_t upto) {
  if (upto <= crc_bytes_) return;
  crc_ = crc32c_extend(crc_, std::string_view(bytes_).substr(crc_bytes_, upto - crc_bytes_));
  crc_bytes_ = upto;
}

ChildSnapshot::State ChildSnapshot::finish() {
  ::close(fd_);
  fd_ = -1;
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (r < 0) return fail(std::string("waiting for the snapshot child: ") + std::strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(WIFSIGNALED(status)
                    ? "the snapshot child was killed by signal " + std::to_string(WTERMSIG(status))
                    : "the snapshot child exited with status " +
                          std::to_string(WEXITSTATUS(status)));
  }
  if (bytes_.size() < kFooterBytes) return fail("the snapshot stream has no footer");
  size_t data_size = bytes_.size() - kFooterBytes;
  ByteReader footer(std::string_view(bytes_).substr(data_size));
  uint64_t size = *footer.fixed64();
  uint32_t crc = *footer.fixed32();
  extend_crc(data_size);
  bytes_.resize(data_size);
  if (size != data_size || crc != crc_) {
    return fail("the snapshot stream's size or checksum does not match its footer");
  }
  state_ = State::kDone;
  return state_;
}

ChildSnapshot::State ChildSnapshot::fail(std::string why) {
  stop();
  std::string().swap(bytes_);
  error_ = std::move(why);
  state_ = State::kFailed;
  return state_;
}

}  // namespace shoal::replica
