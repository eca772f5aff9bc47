#include "server/connection.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "server/dispatch.h"
#include "server/resp_sink.h"

namespace shoal::server {
namespace {
constexpr size_t kReadChunk = 16 * 1024;
// Loop affinity (connection.h).
constexpr int kMoveAfter = 8;
constexpr uint64_t kPipelined = 4;

asio::io_context& context_of(const asio::any_io_executor& ex) {
  return static_cast<asio::io_context&>(asio::query(ex, asio::execution::context));
}

std::string endpoint_string(const asio::ip::tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

resp::ParserLimits limits_from(const Config& cfg) {
  resp::ParserLimits l;
  l.max_bulk_len = cfg.proto_max_bulk_len;
  return l;
}
}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, ServerContext& server)
    : socket_(std::move(socket)),
      server_(server),
      info_(std::make_shared<ClientInfo>()),
      parser_(limits_from(server.config())),
      writer_(&out_, 2) {
  session_.id = server_.next_client_id();
  session_.authenticated = !server_.auth_required();
  session_.created_ms = server_.clock().now_ms();
  asio::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) session_.addr = endpoint_string(remote);
  auto local = socket_.local_endpoint(ec);
  if (!ec) session_.laddr = endpoint_string(local);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  info_->set_session(session_);
  info_->last_interaction_ms = session_.created_ms;
  home_ = &context_of(socket_.get_executor());
  // Measured on the standalone server only (docs/benchmarks.md, "Session 5").
  affinity_ = !server_.config().cluster_enabled;
}

Connection::Connection(asio::ip::tcp::socket socket, ServerContext& server, Moved moved)
    : socket_(std::move(socket)),
      server_(server),
      session_(std::move(moved.session)),
      info_(std::move(moved.info)),
      parser_(limits_from(server.config())),
      writer_(&out_, session_.protocol),
      home_(moved.home),
      affinity_(true),
      on_raft_loop_(moved.on_raft_loop) {}

void Connection::resume() { read_more(); }

// Counts what one read carried and decides where the connection should live.
// Each rule moves one way only, so that no mix of commands makes a connection
// cycle between loops for ever: single writes lead to the raft loop, and only
// pipelining leads off it (home); single reads lead from a client loop to the
// reader loop, and nothing leads back (it is a client loop too, where a
// pipelining client may stay).
void Connection::note_read(uint64_t commands, size_t submitted) {
  if (!affinity_) return;
  if (commands >= kPipelined) {
    single_write_reads_ = 0;
    single_local_reads_ = 0;
    wanted_ = on_raft_loop_ ? home_ : nullptr;
    return;
  }
  if (commands != 1) return;
  if (submitted == 0) {  // e.g. a GET served right here
    asio::io_context* readers = server_.reader_loop();
    if (readers && !on_raft_loop_ && &context_of(socket_.get_executor()) != readers &&
        ++single_local_reads_ >= kMoveAfter) {
      wanted_ = readers;
    }
    return;
  }
  single_local_reads_ = 0;
  if (submitted != 1) return;
  if (!on_raft_loop_ && ++single_write_reads_ >= kMoveAfter) {
    wanted_ = &server_.keyspace().loop();
  }
}

void Connection::maybe_migrate() {
  if (wanted_ == nullptr || closing_ || closed_ || writing_ || !out_.empty() || !sending_.empty() ||
      !slots_.empty() || in_used_ != 0 || !to_submit_.empty()) {
    return;
  }
  // The pending read may already hold the client's next command, its handler
  // queued but not run: moving now would drop those bytes. Cancel the read and
  // decide in its handler, which sees either the bytes or the cancellation.
  if (reading_) {
    if (!cancelling_read_) {
      cancelling_read_ = true;
      asio::error_code ec;
      socket_.cancel(ec);
    }
    return;
  }
  asio::io_context& to = *wanted_;
  wanted_ = nullptr;
  single_write_reads_ = 0;
  single_local_reads_ = 0;
  migrate(to, &to == &server_.keyspace().loop());
}

// Hands the socket's descriptor to a new Connection on `to`; no read is
// pending (maybe_migrate() waited for it), so bytes the client sent meanwhile
// wait in the kernel for the new connection's first read.
void Connection::migrate(asio::io_context& to, bool to_raft_loop) {
  asio::error_code ec;
  auto protocol = socket_.local_endpoint(ec).protocol();
  if (ec) return;  // stay; the next read will see what went wrong
  moved_ = true;
  auto fd = socket_.release(ec);
  if (ec) {
    moved_ = false;
    return;
  }
  asio::ip::tcp::socket moved_socket(to);
  moved_socket.assign(protocol, fd, ec);
  if (ec) {
    spdlog::warn("client {}: could not move the connection to another loop: {}", session_.id,
                 ec.message());
    ::close(fd);
    moved_ = false;
    return close();
  }
  auto next = std::make_shared<Connection>(std::move(moved_socket), server_,
                                           Moved{session_, info_, home_, to_raft_loop});
  server_.stats().loop_moves.fetch_add(1, std::memory_order_relaxed);
  asio::post(to, [next] { next->resume(); });
}

Connection::~Connection() {
  if (paused_counted_) server_.stats().paused_clients.fetch_sub(1);
}

void Connection::start(bool reject) {
  if (reject) {
    server_.unregister_client(session_.id);
    info_.reset();  // never counted as connected
    out_ = "-ERR max number of clients reached\r\n";
    closing_ = true;
    flush();
    return;
  }
  server_.register_client(session_.id, info_);
  read_more();
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  server_.keyspace().cancel(session_.id);
  if (info_) {
    server_.unregister_client(session_.id);
    server_.stats().connected_clients.fetch_sub(1);
    info_.reset();
  }
}

// Commands in flight on the raft loop and replies waiting behind them count
// against the same bound as unread replies: a client can't queue unbounded
// work or memory. 128 in flight is far above what pipelining needs to keep
// the log busy (replies return in batches).
constexpr size_t kMaxSlots = 128;

bool Connection::output_paused() const {
  return static_cast<int64_t>(pending_output() + slot_bytes_) >= server_.output_pause_bytes() ||
         slots_.size() >= kMaxSlots;
}

void Connection::read_more() {
  if (reading_ || closing_ || closed_) return;
  // Grow toward a big announced bulk by doubling, never by its announced size:
  // "$536870912" alone must not make us allocate 512 MiB (H24).
  size_t want = std::max(kReadChunk, std::min(parser_.bytes_wanted(), in_used_));
  if (in_.size() < in_used_ + want) in_.resize(in_used_ + want);
  reading_ = true;
  socket_.async_read_some(
      asio::buffer(in_.data() + in_used_, in_.size() - in_used_),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const asio::error_code& ec, size_t n) {
  reading_ = false;
  if (moved_) return;      // the connection lives on elsewhere
  if (cancelling_read_) {  // maybe_migrate() cancelled this read
    cancelling_read_ = false;
    if (ec == asio::error::operation_aborted) {
      maybe_migrate();
      if (!moved_) read_more();
      return;
    }
    // Bytes (or an error) arrived first: handle them; the move waits for the
    // next quiet point.
  }
  if (ec) {
    if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
      spdlog::debug("client {} read error: {}", session_.id, ec.message());
    }
    return close();
  }
  in_used_ += n;
  server_.stats().net_input_bytes.fetch_add(n, std::memory_order_relaxed);
  info_->last_interaction_ms.store(server_.clock().now_ms(), std::memory_order_relaxed);
  process_input();
}

// Executes every complete command in the buffer, stopping early when the
// output is over the pause threshold (the rest waits for the client to read).
void Connection::process_input() {
  read_time_ = {};  // the commands parsed below share one reading of the clock
  size_t start = 0;
  while (!closing_ && start < in_used_ && !output_paused()) {
    std::string_view pending(in_.data() + start, in_used_ - start);
    auto r = parser_.parse(pending, session_.authenticated || !server_.auth_required());
    if (r == resp::RequestParser::Result::kNeedMore) break;
    if (r == resp::RequestParser::Result::kError) {
      if (slots_.empty()) {
        writer_.error(parser_.error());
      } else {
        slots_.push_back(Slot{true, session_.protocol, {}});
        resp::Writer(&slots_.back().bytes, session_.protocol).error(parser_.error());
        slot_bytes_ += slots_.back().bytes.size();
      }
      server_.stats().error_replies.fetch_add(1, std::memory_order_relaxed);
      closing_ = true;  // Redis closes the connection after a protocol error
      break;
    }
    if (!parser_.args().empty()) execute(parser_.args());
    start += parser_.consumed();
  }
  note_read(commands_in_batch_, to_submit_.size());
  submit_pending();
  // Shared counters are updated once per batch, not per command: a relaxed
  // atomic add on a cache line shared by all loops is not free.
  if (commands_in_batch_) {
    server_.stats().commands_processed.fetch_add(commands_in_batch_, std::memory_order_relaxed);
    commands_in_batch_ = 0;
  }
  if (start > 0) {
    std::memmove(in_.data(), in_.data() + start, in_used_ - start);
    in_used_ -= start;
  }
  // Keep idle connections small: release a big buffer once it is drained.
  if (in_used_ == 0 && in_.size() > 4 * kReadChunk) std::string().swap(in_);
  if (info_) info_->query_buffer.store(in_used_, std::memory_order_relaxed);
  if (static_cast<int64_t>(in_used_) > server_.query_buffer_limit()) {
    spdlog::warn("closing client {} ({}) that reached max query buffer length", session_.id,
                 session_.addr);
    return close();
  }
  bool paused = output_paused();
  if (paused != paused_counted_) {
    server_.stats().paused_clients.fetch_add(paused ? 1 : -1);
    paused_counted_ = paused;
  }
  flush();
  if (!paused) read_more();
}

void Connection::execute(const std::vector<std::string_view>& args) {
  // While earlier replies are pending, this one goes to its own slot.
  std::string* target = &out_;
  if (!slots_.empty()) {
    slots_.push_back(Slot{true, session_.protocol, {}});
    target = &slots_.back().bytes;
  }
  resp::Writer writer(target, session_.protocol);
  RespSink sink(writer);
  const kv::CommandSpec* keyspace = dispatch(server_, session_, *info_, args, sink);
  writer_.set_protocol(session_.protocol);
  if (target != &out_ && !keyspace) slot_bytes_ += target->size();
  // A read with nothing of this client in flight may be served right here.
  if (keyspace && !keyspace->is_write() && target == &out_ &&
      server_.keyspace().try_read_local(*keyspace, args, sink, read_time_)) {
    keyspace = nullptr;
  }
  if (keyspace) {
    if (target != &out_)
      slots_.back().done = false;
    else
      slots_.push_back(Slot{false, session_.protocol, {}});
    uint64_t tag = first_tag_ + slots_.size() - 1;
    to_submit_.push_back(KeyspaceRequest{
        keyspace, std::vector<std::string>(args.begin(), args.end()), tag, session_.readonly});
  }
  ++commands_in_batch_;
  if (sink.errors())
    server_.stats().error_replies.fetch_add(sink.errors(), std::memory_order_relaxed);
  if (session_.close_after_reply) closing_ = true;
}

void Connection::flush() {
  if (writing_ || closed_) return;
  if (out_.empty()) {
    if (closing_ && slots_.empty()) close();
    return;
  }
  int64_t hard = server_.output_hard_limit();
  if (hard > 0 && static_cast<int64_t>(pending_output()) > hard) {
    spdlog::warn("closing client {} ({}) over the output buffer hard limit", session_.id,
                 session_.addr);
    return close();
  }
  sending_.swap(out_);
  out_.clear();
  writing_ = true;
  if (info_) info_->output_buffer.store(sending_.size(), std::memory_order_relaxed);
  asio::async_write(socket_, asio::buffer(sending_),
                    [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                      self->on_written(ec, n);
                    });
}

void Connection::on_written(const asio::error_code& ec, size_t n) {
  writing_ = false;
  if (ec) return close();
  server_.stats().net_output_bytes.fetch_add(n, std::memory_order_relaxed);
  // Keep the capacity of small buffers for reuse; free big ones.
  if (sending_.capacity() > 1024 * 1024)
    std::string().swap(sending_);
  else
    sending_.clear();
  if (info_) info_->output_buffer.store(out_.size(), std::memory_order_relaxed);
  if (closing_ && out_.empty() && slots_.empty()) return close();
  // Output drained below the threshold: resume commands left in the buffer.
  if (!closing_ && in_used_ > 0 && !output_paused()) return process_input();
  flush();
  if (!output_paused()) read_more();
  maybe_migrate();
}

}  // namespace shoal::server

namespace shoal::server {

void Connection::submit_pending() {
  if (to_submit_.empty()) return;
  server_.keyspace().submit(session_.id, shared_from_this(), to_submit_);
}

void Connection::deliver(std::vector<KeyspaceCompletion>& done) {
  // deliver() runs on the raft loop: a connection living there (loop
  // affinity) answers at once instead of after the loop's next turn.
  if (on_raft_loop_) return on_completions(done);
  asio::post(socket_.get_executor(), [self = shared_from_this(), d = std::move(done)]() mutable {
    self->on_completions(d);
  });
}

std::string keyspace_error(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnknownOutcome:
      return "UNKNOWNOUTCOME the write may or may not have been applied: " + s.message();
    case StatusCode::kBusy:
      return "BUSY " + s.message();
    default:
      return "ERR " + s.message();
  }
}

void Connection::on_completions(std::span<KeyspaceCompletion> done) {
  if (closed_) return;
  for (auto& c : done) {
    if (c.tag < first_tag_ || c.tag - first_tag_ >= slots_.size()) continue;
    Slot& slot = slots_[c.tag - first_tag_];
    resp::Writer writer(&slot.bytes, slot.protocol);
    RespSink sink(writer);
    if (c.status.is_ok())
      c.reply.replay(sink);
    else
      sink.error(keyspace_error(c.status));
    if (c.reply.is_error() || !c.status.is_ok()) {
      server_.stats().error_replies.fetch_add(1, std::memory_order_relaxed);
    }
    slot.done = true;
    slot_bytes_ += slot.bytes.size();
  }
  drain_slots();
  flush();
  // Slots freed up: commands left in the input buffer may run now.
  if (!closing_ && in_used_ > 0 && !output_paused())
    process_input();
  else if (!output_paused())
    read_more();
}

void Connection::drain_slots() {
  while (!slots_.empty() && slots_.front().done) {
    out_.append(slots_.front().bytes);
    slot_bytes_ -= slots_.front().bytes.size();
    slots_.pop_front();
    ++first_tag_;
  }
}

}  // namespace shoal::server
