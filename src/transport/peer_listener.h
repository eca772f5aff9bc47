// Internal to src/transport: the listener for peers' connections and the
// inbound side of each.
//
// An inbound connection expects a Hello first (within kHelloTimeout), then
// Batch frames, each handed to the network's handler with `from` set from the
// Hello. A bad Hello (other cluster, unknown protocol version, node id 0 or
// our own), a frame that does not parse, or a length above max_frame_bytes
// counts one bad frame and closes the connection. A second connection from
// the same node replaces the first: a peer dials one connection, so the old
// one is stale (e.g. half-open after a crash).
//
// Loop thread only. Owned by shared_ptr (see network_core.h).
#pragma once

#include <asio.hpp>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "transport/network_core.h"
#include "transport/wire_codec.h"

namespace shoal::transport::detail {

class PeerListener;

class InboundConnection : public std::enable_shared_from_this<InboundConnection> {
 public:
  InboundConnection(NetworkCore& core, PeerListener& listener, asio::ip::tcp::socket socket);
  InboundConnection(const InboundConnection&) = delete;
  InboundConnection& operator=(const InboundConnection&) = delete;

  void start();
  // Closes the socket without telling the listener (it is the caller).
  void close();
  NodeId peer() const { return from_; }

 private:
  void read_more();
  void on_read(const asio::error_code& ec, size_t n);
  // False when the connection was closed (bad frame, or by the handler).
  bool handle_frame(std::string_view body);
  bool accept_hello(const Hello& hello);
  // Closes and tells the listener; `bad` counts a bad frame.
  void shut(bool bad, const std::string& why);

  NetworkCore* core_;  // null once closed
  PeerListener* listener_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer hello_timer_;
  FrameDecoder decoder_;
  std::vector<char> read_buf_;
  NodeId from_;  // set by the hello
  bool hello_seen_ = false;
};

class PeerListener : public std::enable_shared_from_this<PeerListener> {
 public:
  // `acceptor`: bound and listening (open_peer_port, peer_network.h).
  PeerListener(NetworkCore& core, asio::ip::tcp::acceptor acceptor);
  PeerListener(const PeerListener&) = delete;
  PeerListener& operator=(const PeerListener&) = delete;

  // Starts accepting.
  void start();
  uint16_t port() const { return port_; }
  // Closes the acceptor and every inbound connection. Idempotent.
  void close();

  // From InboundConnection.
  void on_hello(InboundConnection* conn, NodeId peer);
  void on_closed(InboundConnection* conn);

 private:
  void accept_next();
  void on_accept(const asio::error_code& ec, asio::ip::tcp::socket socket);

  NetworkCore* core_;  // null once closed
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;  // after an accept error such as EMFILE
  uint16_t port_ = 0;
  std::map<InboundConnection*, std::shared_ptr<InboundConnection>> conns_;
  std::map<NodeId, InboundConnection*> by_peer_;  // connections past their hello
};

}  // namespace shoal::transport::detail
