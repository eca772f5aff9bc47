#include "transport/peer_link.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

namespace shoal::transport::detail {

PeerLink::PeerLink(NetworkCore& core, PeerAddress address)
    : core_(&core),
      address_(std::move(address)),
      socket_(core.loop),
      resolver_(core.loop),
      timer_(core.loop) {}

void PeerLink::send(std::string frame) {
  if (core_ == nullptr) return;
  if (queued_bytes_ + frame.size() > core_->options.max_queue_bytes) {
    ++core_->stats.batches_dropped;
    return;
  }
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  switch (state_) {
    case State::kIdle:
      dial();
      break;
    case State::kConnected:
      write_queued();
      break;
    case State::kConnecting:
    case State::kBackoff:
    case State::kClosed:
      break;  // sent once connected / dropped by close
  }
}

void PeerLink::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  core_ = nullptr;
  ++gen_;
  asio::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  timer_.cancel();
  queue_.clear();
  queued_bytes_ = 0;
}

void PeerLink::dial() {
  state_ = State::kConnecting;
  hello_sent_ = false;
  const uint64_t gen = ++gen_;
  auto self = shared_from_this();
  timer_.expires_after(core_->options.connect_timeout);
  timer_.async_wait([self, gen](const asio::error_code& ec) {
    if (ec || self->gen_ != gen || self->state_ != State::kConnecting) return;
    self->fail("connect timeout", asio::error::timed_out);
  });
  asio::error_code ec;
  asio::ip::address ip = asio::ip::make_address(address_.host, ec);
  if (!ec) {
    socket_.async_connect(asio::ip::tcp::endpoint(ip, address_.port),
                          [self, gen](const asio::error_code& ec) { self->on_connected(ec, gen); });
    return;
  }
  // A host name: asio resolves on its own thread, so the loop never blocks.
  resolver_.async_resolve(
      address_.host, std::to_string(address_.port),
      [self, gen](const asio::error_code& ec, asio::ip::tcp::resolver::results_type results) {
        if (self->gen_ != gen || self->state_ != State::kConnecting) return;
        if (ec) return self->fail("resolve", ec);
        self->connect_resolved(results);
      });
}

void PeerLink::connect_resolved(const asio::ip::tcp::resolver::results_type& endpoints) {
  const uint64_t gen = gen_;
  asio::async_connect(
      socket_, endpoints,
      [self = shared_from_this(), gen](const asio::error_code& ec, const asio::ip::tcp::endpoint&) {
        self->on_connected(ec, gen);
      });
}

void PeerLink::on_connected(const asio::error_code& ec, uint64_t gen) {
  if (gen_ != gen || state_ != State::kConnecting) return;
  if (ec) return fail("connect", ec);
  timer_.cancel();
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  state_ = State::kConnected;
  connected_at_ = std::chrono::steady_clock::now();
  ++core_->stats.connects;
  spdlog::debug("peer {}: connected to {}:{}", address_.id.value(), address_.host, address_.port);
  watch_for_close();
  write_queued();
}

void PeerLink::watch_for_close() {
  socket_.async_read_some(asio::buffer(watch_buf_), [self = shared_from_this(), gen = gen_](
                                                        const asio::error_code& ec, size_t) {
    if (self->gen_ != gen || self->state_ != State::kConnected) return;
    // The peer never writes on a connection we dialled: data is a protocol
    // error, EOF means it closed (e.g. it rejected our hello).
    self->fail(ec ? "read" : "unexpected data", ec ? ec : asio::error::connection_reset);
  });
}

// Gathers the hello (first write of a connection) and every queued frame
// into one write.
void PeerLink::write_queued() {
  if (writing_ || state_ != State::kConnected || (queue_.empty() && hello_sent_)) return;
  auto frames = std::make_shared<std::vector<std::string>>();
  frames->reserve(queue_.size() + 1);
  if (!hello_sent_) {
    frames->push_back(core_->hello_frame);
    hello_sent_ = true;
  }
  const size_t batch_frames = queue_.size();
  size_t frame_bytes = 0;
  for (std::string& f : queue_) {
    frame_bytes += f.size();
    frames->push_back(std::move(f));
  }
  queue_.clear();
  in_flight_frames_ = batch_frames;
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(frames->size());
  for (const std::string& f : *frames) buffers.push_back(asio::buffer(f));
  writing_ = true;
  // `frames` rides along with the handler: the bytes outlive the write even
  // if this link fails or closes meanwhile.
  asio::async_write(socket_, buffers,
                    [self = shared_from_this(), frames, batch_frames, frame_bytes, gen = gen_](
                        const asio::error_code& ec, size_t n) {
                      self->on_written(ec, n, batch_frames, frame_bytes, gen);
                    });
}

void PeerLink::on_written(const asio::error_code& ec, size_t n, size_t frames, size_t frame_bytes,
                          uint64_t gen) {
  if (gen_ != gen || state_ != State::kConnected) return;
  core_->stats.bytes_sent += n;
  if (ec) return fail("write", ec);  // drops the frames in flight too
  writing_ = false;
  in_flight_frames_ = 0;
  queued_bytes_ -= frame_bytes;
  core_->stats.frames_sent += frames;
  write_queued();
}

void PeerLink::fail(const char* what, const asio::error_code& ec) {
  SHOAL_ASSERT(core_ != nullptr && state_ != State::kClosed);
  const auto now = std::chrono::steady_clock::now();
  // A connection that stayed up a while ends the failure streak; one that
  // dies at once (say, the peer rejects our hello) keeps backing off.
  if (state_ == State::kConnected && now - connected_at_ >= core_->options.backoff_max) {
    failures_ = 0;
  }
  if (failures_ < 64) ++failures_;
  spdlog::debug("peer {} ({}:{}): {} failed: {}", address_.id.value(), address_.host, address_.port,
                what, ec.message());
  asio::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  drop_queue();
  state_ = State::kBackoff;
  const uint64_t gen = ++gen_;
  timer_.expires_after(core_->backoff(failures_));
  timer_.async_wait([self = shared_from_this(), gen](const asio::error_code& ec) {
    if (!ec) self->on_backoff_done(gen);
  });
}

void PeerLink::on_backoff_done(uint64_t gen) {
  if (gen_ != gen || state_ != State::kBackoff) return;
  if (queue_.empty()) {
    state_ = State::kIdle;  // the next send dials
  } else {
    dial();
  }
}

// The frames in flight may or may not have arrived; they count as dropped.
void PeerLink::drop_queue() {
  core_->stats.batches_dropped += queue_.size() + in_flight_frames_;
  queue_.clear();
  queued_bytes_ = 0;
  in_flight_frames_ = 0;
  writing_ = false;  // a write in flight belongs to the old generation
}

}  // namespace shoal::transport::detail
