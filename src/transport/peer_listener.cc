#include "transport/peer_listener.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <variant>

#include "transport/peer_network.h"

namespace shoal::transport::detail {

// ---- InboundConnection

InboundConnection::InboundConnection(NetworkCore& core, PeerListener& listener,
                                     asio::ip::tcp::socket socket)
    : core_(&core),
      listener_(&listener),
      socket_(std::move(socket)),
      hello_timer_(core.loop),
      decoder_(core.options.max_frame_bytes),
      read_buf_(kReadChunkBytes) {}

void InboundConnection::start() {
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  hello_timer_.expires_after(kHelloTimeout);
  hello_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->core_ == nullptr || self->hello_seen_) return;
    self->shut(false, "no hello in time");
  });
  read_more();
}

void InboundConnection::close() {
  core_ = nullptr;
  listener_ = nullptr;
  asio::error_code ignored;
  socket_.close(ignored);
  hello_timer_.cancel();
}

void InboundConnection::read_more() {
  socket_.async_read_some(
      asio::buffer(read_buf_),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void InboundConnection::on_read(const asio::error_code& ec, size_t n) {
  if (core_ == nullptr) return;
  if (ec) return shut(false, ec.message());
  core_->stats.bytes_received += n;
  decoder_.append(std::string_view(read_buf_.data(), n));
  for (;;) {
    Result<std::optional<std::string_view>> next = decoder_.next();
    if (!next.is_ok()) return shut(true, next.status().message());
    if (!next.value()) break;
    if (!handle_frame(*next.value())) return;
  }
  read_more();
}

bool InboundConnection::handle_frame(std::string_view body) {
  Result<Frame> frame = decode_frame_body(body);
  if (!frame.is_ok()) {
    shut(true, frame.status().message());
    return false;
  }
  if (!hello_seen_) {
    const Hello* hello = std::get_if<Hello>(&frame.value());
    if (hello == nullptr) {
      shut(true, "first frame is not a hello");
      return false;
    }
    return accept_hello(*hello);
  }
  PeerBatch* batch = std::get_if<PeerBatch>(&frame.value());
  if (batch == nullptr) {
    shut(true, "second hello");
    return false;
  }
  ++core_->stats.frames_received;
  batch->from = from_;
  core_->handler(std::move(*batch));
  return core_ != nullptr;  // the handler may have closed the network
}

bool InboundConnection::accept_hello(const Hello& hello) {
  if (hello.cluster_id != core_->options.cluster_id) {
    shut(true, "hello from cluster " + std::to_string(hello.cluster_id) + ", we are cluster " +
                   std::to_string(core_->options.cluster_id));
    return false;
  }
  if (hello.protocol_version == 0 || hello.protocol_version > kProtocolVersion) {
    shut(true, "unsupported protocol version " + std::to_string(hello.protocol_version));
    return false;
  }
  if (hello.node == NodeId() || hello.node == core_->options.self) {
    shut(true, "hello with node id " + std::to_string(hello.node.value()));
    return false;
  }
  hello_seen_ = true;
  from_ = hello.node;
  hello_timer_.cancel();
  listener_->on_hello(this, from_);
  return true;
}

void InboundConnection::shut(bool bad, const std::string& why) {
  if (core_ == nullptr) return;
  if (bad) {
    ++core_->stats.bad_frames;
    spdlog::warn("peer connection from node {}: {}; closing", from_.value(), why);
  } else {
    spdlog::debug("peer connection from node {} closed: {}", from_.value(), why);
  }
  PeerListener* listener = listener_;
  auto self = shared_from_this();  // on_closed drops the listener's reference
  close();
  listener->on_closed(this);
}

// ---- PeerListener

PeerListener::PeerListener(NetworkCore& core, asio::ip::tcp::acceptor acceptor)
    : core_(&core), acceptor_(std::move(acceptor)), retry_timer_(core.loop) {
  asio::error_code ignored;
  port_ = acceptor_.local_endpoint(ignored).port();
}

void PeerListener::start() { accept_next(); }

void PeerListener::close() {
  if (core_ == nullptr) return;
  core_ = nullptr;
  asio::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  for (auto& [ptr, conn] : conns_) conn->close();
  conns_.clear();
  by_peer_.clear();
}

void PeerListener::accept_next() {
  acceptor_.async_accept(
      [self = shared_from_this()](const asio::error_code& ec, asio::ip::tcp::socket socket) {
        self->on_accept(ec, std::move(socket));
      });
}

void PeerListener::on_accept(const asio::error_code& ec, asio::ip::tcp::socket socket) {
  if (core_ == nullptr) return;
  if (ec) {
    // E.g. out of file descriptors: retry later rather than spin.
    spdlog::warn("peer listener: accept failed: {}", ec.message());
    retry_timer_.expires_after(core_->options.backoff_min);
    retry_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec && self->core_ != nullptr) self->accept_next();
    });
    return;
  }
  if (conns_.size() >= kMaxInboundConnections) {
    spdlog::warn("peer listener: {} connections open; refusing another", conns_.size());
    asio::error_code ignored;
    socket.close(ignored);
  } else {
    auto conn = std::make_shared<InboundConnection>(*core_, *this, std::move(socket));
    conns_.emplace(conn.get(), conn);
    conn->start();
  }
  accept_next();
}

void PeerListener::on_hello(InboundConnection* conn, NodeId peer) {
  auto [it, inserted] = by_peer_.try_emplace(peer, conn);
  if (!inserted && it->second != conn) {
    spdlog::debug("peer {} reconnected; closing its previous connection", peer.value());
    InboundConnection* old = it->second;
    old->close();  // its pending handlers keep it alive until they run
    conns_.erase(old);
    it->second = conn;
  }
}

void PeerListener::on_closed(InboundConnection* conn) {
  auto it = by_peer_.find(conn->peer());
  if (it != by_peer_.end() && it->second == conn) by_peer_.erase(it);
  conns_.erase(conn);
}

}  // namespace shoal::transport::detail

namespace shoal::transport {

Result<asio::ip::tcp::acceptor> open_peer_port(asio::io_context& loop, const std::string& host,
                                               uint16_t port) {
  asio::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) return Status::invalid_argument("peer bind address: " + host);
  asio::ip::tcp::endpoint endpoint(ip, port);
  asio::ip::tcp::acceptor acceptor(loop);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::io_error("peer listener on " + host + ":" + std::to_string(port) + ": " +
                            ec.message());
  }
  return acceptor;
}

}  // namespace shoal::transport
