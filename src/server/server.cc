#include "server/server.h"

#include <spdlog/spdlog.h>

#include <sched.h>

#include <string>

#include "base/thread_name.h"
#include "server/connection.h"
#include "server/loop_runner.h"

namespace shoal::server {
namespace {
// The CPUs this process may run on (taskset, cpusets), 0 if unknown.
size_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  return static_cast<size_t>(CPU_COUNT(&set));
}
}  // namespace

Server::Server(Config config, env::Clock& clock)
    : ctx_(config, clock), threads_(config.threads), acceptor_([&]() -> asio::io_context& {
        loops_.push_back(std::make_unique<asio::io_context>(1));
        return *loops_.back();
      }()) {
  for (int i = 1; i < threads_; ++i) loops_.push_back(std::make_unique<asio::io_context>(1));
  // Measured with 3 loops on 2 cores only (docs/benchmarks.md, "Session 10"):
  // with a core per loop, each loop wakes on a core of its own, and gathering
  // would cap single-command readers at one core.
  const std::string& gather = config.gather_readers;
  size_t cores = usable_cores();
  bool oversubscribed = cores != 0 && cores < loops_.size() + 1;  // + the raft loop
  if (loops_.size() > 1 && (gather == "yes" || (gather == "auto" && oversubscribed))) {
    ctx_.set_reader_loop(loops_[0].get());
  }
}

Server::~Server() { stop(); }

Status Server::start() {
  Config cfg = ctx_.config();
  asio::error_code ec;
  auto address = asio::ip::make_address(cfg.bind, ec);
  if (ec) return Status::invalid_argument("invalid --bind address '" + cfg.bind + "'");
  asio::ip::tcp::endpoint ep(address, static_cast<uint16_t>(cfg.port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::io_error("can't listen on " + cfg.bind + ":" + std::to_string(cfg.port) + ": " +
                            ec.message());
  }
  bound_port_ = acceptor_.local_endpoint().port();
  // Replay the durable log before accepting clients.
  if (Status s = ctx_.keyspace().start(); !s.is_ok()) return s;
  for (auto& loop : loops_) guards_.push_back(asio::make_work_guard(*loop));
  accept_next();
  for (size_t i = 0; i < loops_.size(); ++i) {
    BusyPollOptions busy_poll{std::chrono::microseconds(cfg.busy_poll_us)};
    threads_running_.emplace_back([l = loops_[i].get(), i, busy_poll] {
      set_thread_name("shoal-io-" + std::to_string(i));
      run_loop(*l, busy_poll);
    });
  }
  return Status::ok();
}

void Server::accept_next() {
  asio::io_context& target = *loops_[next_loop_++ % loops_.size()];
  acceptor_.async_accept(target, [this](const asio::error_code& ec, asio::ip::tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped_) return;
      spdlog::warn("accept failed: {}", ec.message());
      // Out of file descriptors and similar: back off briefly, keep serving.
      auto timer = std::make_shared<asio::steady_timer>(*loops_[0], std::chrono::milliseconds(10));
      timer->async_wait([this, timer](const asio::error_code&) { accept_next(); });
      return;
    }
    ctx_.stats().connections_received.fetch_add(1, std::memory_order_relaxed);
    // Admission is decided here, on the accepting thread, so a burst of
    // connects can't overshoot maxclients before their loops start them.
    bool reject = ctx_.stats().connected_clients.load() >= ctx_.config().maxclients;
    if (reject)
      ctx_.stats().rejected_connections.fetch_add(1, std::memory_order_relaxed);
    else
      ctx_.stats().connected_clients.fetch_add(1);
    auto executor = s.get_executor();
    auto conn = std::make_shared<Connection>(std::move(s), ctx_);
    // Start on the connection's own loop.
    asio::post(executor, [conn, reject] { conn->start(reject); });
    accept_next();
  });
}

void Server::stop() {
  if (stopped_.exchange(true)) return;
  asio::post(*loops_[0], [this] {
    asio::error_code ec;
    acceptor_.close(ec);
  });
  // Leadership first, while connected clients are still answered: their
  // in-flight commands complete and later ones are redirected (MOVED or
  // forwarded) instead of being cut off with no reply.
  ctx_.keyspace().hand_over_leadership();
  guards_.clear();
  // Stopping the loops drops pending handlers, which releases (and closes)
  // every connection.
  for (auto& loop : loops_) loop->stop();
  for (auto& t : threads_running_) t.join();
  threads_running_.clear();
  // After the client loops: whatever they submitted is made durable, then the
  // raft loop ends.
  ctx_.keyspace().stop();
}

}  // namespace shoal::server
