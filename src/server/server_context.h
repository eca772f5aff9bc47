// State shared by every connection of one server process: configuration that
// can change at run time, the keyspace, connected clients and counters.
//
// Thread-safety: every member is safe to use from any event loop.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "env/clock.h"
#include "server/config.h"
#include "server/keyspace_service.h"
#include "server/session.h"

namespace shoal::server {

struct Stats {
  std::atomic<uint64_t> commands_processed{0};
  std::atomic<uint64_t> connections_received{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> error_replies{0};
  std::atomic<uint64_t> net_input_bytes{0};
  std::atomic<uint64_t> net_output_bytes{0};
  std::atomic<int64_t> connected_clients{0};
  std::atomic<int64_t> paused_clients{0};  // stopped reading: replies not read
  std::atomic<uint64_t> loop_moves{0};     // connections moved between loops
};

// What CLIENT LIST shows about one connection. The connection owns it and
// refreshes it: the session copy under `mu` when it changes (rare), the
// counters with relaxed atomics on every command (cheap).
struct ClientInfo {
  mutable std::mutex mu;
  Session session;  // guarded by mu
  std::atomic<int64_t> last_interaction_ms{0};
  std::atomic<const kv::CommandSpec*> last_command{nullptr};
  std::atomic<size_t> query_buffer{0};
  std::atomic<size_t> output_buffer{0};

  void set_session(const Session& s) {
    std::lock_guard lock(mu);
    session = s;
  }
  Session get_session() const {
    std::lock_guard lock(mu);
    return session;
  }
};

class ServerContext {
 public:
  ServerContext(Config config, env::Clock& clock);

  env::Clock& clock() { return clock_; }
  KeyspaceService& keyspace() { return keyspace_; }
  Stats& stats() { return stats_; }
  int64_t start_ms() const { return start_ms_; }
  uint64_t next_client_id() { return next_client_id_.fetch_add(1); }
  // Where unpipelined readers gather (connection.h); null: they stay home.
  // Set once by Server before any loop runs, read-only afterwards.
  asio::io_context* reader_loop() const { return reader_loop_; }
  void set_reader_loop(asio::io_context* loop) { reader_loop_ = loop; }

  // Runtime-settable configuration.
  Config config() const;
  std::string requirepass() const;
  // Hot-path settings, read on every command without taking the lock.
  bool auth_required() const { return auth_required_.load(std::memory_order_relaxed); }
  int64_t output_pause_bytes() const { return pause_bytes_.load(std::memory_order_relaxed); }
  int64_t output_hard_limit() const { return hard_limit_.load(std::memory_order_relaxed); }
  int64_t query_buffer_limit() const { return query_limit_.load(std::memory_order_relaxed); }
  // CONFIG SET: returns "" on success, else the Redis error text.
  std::string set_config(const std::string& name, const std::string& value);
  // CONFIG GET pairs (name, value) in a stable order.
  std::vector<std::pair<std::string, std::string>> config_pairs() const;

  // Client registry for CLIENT LIST / INFO clients.
  void register_client(uint64_t id, std::shared_ptr<const ClientInfo> info);
  void unregister_client(uint64_t id);
  std::vector<std::shared_ptr<const ClientInfo>> clients() const;

 private:
  asio::io_context* reader_loop_ = nullptr;  // set before any connection exists
  env::Clock& clock_;
  Stats stats_;
  int64_t start_ms_;
  std::atomic<uint64_t> next_client_id_{1};
  std::atomic<bool> auth_required_;
  std::atomic<int64_t> pause_bytes_, hard_limit_, query_limit_;
  mutable std::mutex mu_;
  Config config_;                                                  // guarded by mu_
  std::map<uint64_t, std::shared_ptr<const ClientInfo>> clients_;  // guarded by mu_
  // Last: destroyed first, with the client connections its loop still holds
  // (connection.h, "Loop affinity"), while everything they use is alive.
  KeyspaceService keyspace_;
};

}  // namespace shoal::server
