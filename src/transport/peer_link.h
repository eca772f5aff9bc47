// Internal to src/transport: the outgoing connection to one peer.
//
// States:  idle --send--> connecting --ok--> connected
//            ^                |  fail           | fail (error, EOF, timeout)
//            |                v                 v
//            +--(nothing queued)-- backoff <----+
//                                   |
//                                   +--(frames queued)--> connecting
//
// A failure drops every queued and in-flight frame (stale by the time a new
// connection exists); frames sent during backoff or connecting wait, within
// max_queue_bytes. The peer never sends on this connection: a read is kept
// pending only to notice when the peer closes it.
//
// Loop thread only. Owned by shared_ptr (see network_core.h).
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "transport/network_core.h"
#include "transport/peer_network.h"

namespace shoal::transport::detail {

class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  PeerLink(NetworkCore& core, PeerAddress address);
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  const PeerAddress& address() const { return address_; }
  bool connected() const { return state_ == State::kConnected; }

  // Queues one encoded batch frame and dials if idle; a frame that does not
  // fit in max_queue_bytes is dropped and counted.
  void send(std::string frame);
  // Closes the socket, cancels timers and drops queued frames. Idempotent; no
  // handler touches the core afterwards.
  void close();

 private:
  enum class State { kIdle, kConnecting, kConnected, kBackoff, kClosed };

  void dial();
  void connect_resolved(const asio::ip::tcp::resolver::results_type& endpoints);
  void on_connected(const asio::error_code& ec, uint64_t gen);
  void watch_for_close();
  void write_queued();
  void on_written(const asio::error_code& ec, size_t n, size_t frames, size_t frame_bytes,
                  uint64_t gen);
  void fail(const char* what, const asio::error_code& ec);
  void on_backoff_done(uint64_t gen);
  void drop_queue();

  NetworkCore* core_;  // null once closed
  const PeerAddress address_;
  asio::ip::tcp::socket socket_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer timer_;  // connect timeout, then backoff
  State state_ = State::kIdle;
  // Bumped by every dial and failure: handlers of older attempts see a
  // different generation and do nothing.
  uint64_t gen_ = 0;
  std::deque<std::string> queue_;  // encoded batch frames not yet written
  size_t queued_bytes_ = 0;        // queue_ plus the write in flight
  bool writing_ = false;
  size_t in_flight_frames_ = 0;  // batch frames in the write in flight
  bool hello_sent_ = false;
  uint32_t failures_ = 0;  // consecutive failed connections: sets the backoff
  std::chrono::steady_clock::time_point connected_at_;
  char watch_buf_[64];
};

}  // namespace shoal::transport::detail
