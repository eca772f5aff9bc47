// One client connection: reads requests, executes every complete command in
// the buffer, writes all their replies with one write (pipelining).
//
// Lives on exactly one event loop (asio io_context); all its handlers run on
// that loop's thread, so it needs no locking of its own.
//
// Memory bounds (H24):
//   * input: the parser enforces Redis's request limits; unparsed input above
//     client-query-buffer-limit closes the connection;
//   * output: while more than client-output-pause-bytes of replies are
//     pending, the connection stops executing and reading requests until the
//     client reads (backpressure); an optional hard limit closes it.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>

#include "resp/request_parser.h"
#include "resp/writer.h"
#include "server/server_context.h"
#include "server/session.h"

namespace shoal::server {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::ip::tcp::socket socket, ServerContext& server);
  ~Connection();

  // Starts serving; `reject` answers "max clients" and closes instead.
  void start(bool reject);
  // Closes the socket (from the owning loop).
  void close();

 private:
  void read_more();
  void on_read(const asio::error_code& ec, size_t n);
  void process_input();
  void execute(const std::vector<std::string_view>& args);
  void flush();
  void on_written(const asio::error_code& ec, size_t n);
  size_t pending_output() const { return out_.size() + sending_.size(); }
  bool output_paused() const;

  asio::ip::tcp::socket socket_;
  ServerContext& server_;
  Session session_;
  std::shared_ptr<ClientInfo> info_;
  resp::RequestParser parser_;
  std::string in_;  // received bytes; in_[0..in_used_) are valid
  size_t in_used_ = 0;
  std::string out_;      // replies not yet handed to the socket
  std::string sending_;  // replies being written
  resp::Writer writer_;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;  // no more input is processed; close after flushing
  bool closed_ = false;
  bool paused_counted_ = false;
  uint64_t commands_in_batch_ = 0;
};

}  // namespace shoal::server
