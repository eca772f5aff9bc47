// KeyspaceService: runs the node core (node::Node: the replica host and its
// Raft group) on a dedicated event loop - the "raft loop" - and lets client
// connections on other loops use it.
//
// Connections submit a batch of keyspace commands with one post; the raft
// loop executes them, runs one host iteration (one log write and one fsync for
// everything that arrived meanwhile: group commit), and hands each
// connection its completions with one post back. Replies stay in the
// protocol-neutral kv::RecordedReply form until the connection encodes them.
//
// Thread-safety: submit(), cancel() and the counters are safe from any thread;
// everything else runs on the raft loop.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <thread>
#include <vector>

#include "base/status.h"
#include "kv/command.h"
#include "kv/recorded_reply.h"
#include "node/node.h"
#include "replica/rocks_log_store.h"
#include "server/config.h"

namespace shoal::server {

struct KeyspaceRequest {
  const kv::CommandSpec* spec;
  std::vector<std::string> args;
  uint64_t tag;  // the submitter's own id for the reply slot
};

struct KeyspaceCompletion {
  uint64_t tag;
  Status status;
  kv::RecordedReply reply;
};

// Implemented by a client connection; called on the raft loop with a batch of
// completions, in the order the commands completed.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void deliver(std::vector<KeyspaceCompletion> done) = 0;
};

class KeyspaceService {
 public:
  KeyspaceService(const Config& config, env::Clock& clock);
  ~KeyspaceService();

  // Opens the log store in <data-dir>/raft, replays it, starts the loop.
  Status start();
  void stop();

  void submit(uint64_t client, std::shared_ptr<CompletionSink> sink,
              std::vector<KeyspaceRequest> requests);

  // Serves a read on the caller's thread when that is linearizable: this node
  // is the only voter and leads, so every acknowledged write is already
  // applied (a write is acknowledged after it is applied). The caller must
  // have no earlier command of the same client still in flight (per-client
  // order). Returns false - writing nothing - when the read must take the
  // normal path: not a single-voter leader, or the read met an expired key
  // (whose delete the leader must propose first, as Redis deletes on access).
  bool try_read_local(const kv::CommandSpec& spec, std::span<const std::string_view> args,
                      kv::ReplySink& out);
  // The client went away: drop its queued commands.
  void cancel(uint64_t client);

  uint64_t dbsize() const { return dbsize_.load(std::memory_order_relaxed); }
  uint64_t expires() const { return expires_.load(std::memory_order_relaxed); }
  uint64_t expired_total() const { return expired_total_.load(std::memory_order_relaxed); }
  uint64_t log_batches() const { return batches_.load(std::memory_order_relaxed); }
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

 private:
  class NoPeers;
  void schedule_iteration();
  void iterate();
  void schedule_tick();
  void schedule_expiry();
  void publish_counters();

  Config config_;
  env::Clock& clock_;
  asio::io_context loop_{1};
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::unique_ptr<replica::RocksLogStore> store_;
  std::unique_ptr<replica::Transport> transport_;
  std::unique_ptr<node::Node> node_;
  asio::steady_timer tick_timer_{loop_};
  asio::steady_timer expiry_timer_{loop_};
  bool iteration_scheduled_ = false;
  // Completions gathered during one iteration, per connection.
  std::map<CompletionSink*,
           std::pair<std::shared_ptr<CompletionSink>, std::vector<KeyspaceCompletion>>>
      outbox_;
  std::atomic<uint64_t> dbsize_{0}, expires_{0}, expired_total_{0}, batches_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<bool> local_reads_{false};
  // Shared by local readers, exclusive while the raft loop applies entries.
  std::shared_mutex state_mu_;
};

}  // namespace shoal::server
