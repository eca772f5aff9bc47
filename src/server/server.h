// The server process core: N client event loops (one thread each), a listener
// that spreads accepted connections over them round-robin, and the keyspace
// service with its own raft loop (keyspace_service.h).
//
// Threading: start() and stop() are called from the main thread; everything
// else runs on the loops.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/server_context.h"

namespace shoal::server {

class Server {
 public:
  Server(Config config, env::Clock& clock);
  ~Server();

  // Binds the listener and starts the loops. Returns an error if the address
  // can't be bound.
  Status start();
  // The port actually bound (useful with --port 0 in tests).
  int port() const { return bound_port_; }
  // Stops accepting, closes connections, joins the loops. Idempotent.
  void stop();
  ServerContext& context() { return ctx_; }

 private:
  void accept_next();

  ServerContext ctx_;
  int threads_;
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_running_;
  asio::ip::tcp::acceptor acceptor_;
  size_t next_loop_ = 0;
  int bound_port_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace shoal::server
