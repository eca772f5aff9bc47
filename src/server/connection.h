// One client connection: reads requests, executes every complete command in
// the buffer, writes all their replies with one write (pipelining).
//
// Keyspace commands run on the raft loop (KeyspaceService) and complete
// later; connection and server commands complete at once. Replies are kept
// in order with a queue of slots: each command takes the next slot, and the
// done prefix of the queue moves to the output buffer.
//
// Lives on exactly one event loop (asio io_context) at a time; all its
// handlers run on that loop's thread, so it needs no locking of its own.
//
// Loop affinity (standalone server): a client that sends one write at a time
// (no pipelining) pays two thread hand-offs per command, to the raft loop and
// back, which cost it more than the command itself. After kMoveAfter such
// reads in a row the connection moves to the raft loop (KeyspaceService's
// own), where submitting and completing are calls on the same thread, as in
// Redis; when it pipelines again (a read of kPipelined commands or more) it
// moves back to the client loop it was accepted on, so that pipelined
// clients keep parsing and replying on other cores. Likewise a client on a
// client loop that sends one read at a time (kMoveAfter reads in a row, each
// one command served on its loop) moves to the server's reader loop, the
// first client loop, when the server has one (--gather-readers): on a
// machine whose cores the loops outnumber, one loop serving them all wakes
// less often than two serving half each. Nothing moves it back from there,
// and single reads do not move a connection off the raft loop, so no mix of
// commands makes it cycle (note_read). A move happens only at
// a quiet point - nothing in flight, nothing buffered either way - by
// handing the socket's descriptor to a new Connection on the other loop.
//
// Memory bounds (H24):
//   * input: the parser enforces Redis's request limits; unparsed input above
//     client-query-buffer-limit closes the connection;
//   * output: while more than client-output-pause-bytes of replies are
//     pending, the connection stops executing and reading requests until the
//     client reads (backpressure); an optional hard limit closes it.
#pragma once

#include <asio.hpp>
#include <deque>
#include <memory>
#include <span>
#include <string>

#include "resp/request_parser.h"
#include "resp/writer.h"
#include "server/keyspace_service.h"
#include "server/server_context.h"
#include "server/session.h"

namespace shoal::server {

class Connection : public std::enable_shared_from_this<Connection>, public CompletionSink {
 public:
  Connection(asio::ip::tcp::socket socket, ServerContext& server);
  // What a connection carries from one loop to another (see migrate()).
  struct Moved {
    Session session;
    std::shared_ptr<ClientInfo> info;
    asio::io_context* home;
    bool on_raft_loop;
  };
  Connection(asio::ip::tcp::socket socket, ServerContext& server, Moved moved);
  ~Connection();

  // Starts serving; `reject` answers "max clients" and closes instead.
  void start(bool reject);
  // Starts serving a connection moved here from another loop.
  void resume();
  // Closes the socket (from the owning loop).
  void close();
  // Called on the raft loop; hops to this connection's loop.
  void deliver(std::vector<KeyspaceCompletion>& done) override;

 private:
  void read_more();
  void on_read(const asio::error_code& ec, size_t n);
  void process_input();
  void execute(const std::vector<std::string_view>& args);
  void on_completions(std::span<KeyspaceCompletion> done);
  void drain_slots();
  void submit_pending();
  bool busy() const;
  void flush();
  void on_written(const asio::error_code& ec, size_t n);
  size_t pending_output() const { return out_.size() + sending_.size(); }
  // Loop affinity (see above).
  void note_read(uint64_t commands, size_t submitted);
  void maybe_migrate();
  void migrate(asio::io_context& to, bool to_raft_loop);
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
  // Reply slots in command order; `first_tag_` is the tag of slots_.front().
  struct Slot {
    bool done = false;
    int protocol = 2;
    std::string bytes;
  };
  std::deque<Slot> slots_;
  uint64_t first_tag_ = 0;
  size_t slot_bytes_ = 0;  // reply bytes held in slots_
  std::vector<KeyspaceRequest> to_submit_;
  KeyspaceService::ReadTime read_time_;  // for local reads, per process_input()
  uint64_t commands_in_batch_ = 0;
  // Loop affinity.
  asio::io_context* home_;              // the client loop it was accepted on
  bool affinity_ = false;               // moves between loops (standalone server)
  bool on_raft_loop_ = false;           // lives on the keyspace's raft loop now
  asio::io_context* wanted_ = nullptr;  // move there at the next quiet point
  int single_write_reads_ = 0;          // reads in a row that carried one write
  int single_local_reads_ = 0;          // ... one command served on this loop
  bool moved_ = false;                  // the socket went to a new Connection
  bool cancelling_read_ = false;        // maybe_migrate() cancelled the pending read
};

}  // namespace shoal::server
