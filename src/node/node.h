// Node: the node core. Hosts this node's shard replicas (replica::Host) and
// executes clients' keyspace commands on them: writes become Raft proposals
// carrying (args, now_ms), reads are linearizable (ReadIndex or lease).
//
// Today a node holds one shard covering every slot, with itself as the only
// voter (RF 1): "a single node is a cluster of one" (issue 4). Routing by slot
// to many shards and peers comes with the cluster (issue 5).
//
// Per-client order: a client's commands take effect in the order it sent them
// and each read sees the client's earlier writes, as with Redis. Consecutive
// writes are pipelined into the log; a read waits until the client's earlier
// commands completed, and commands after a read wait for the read.
//
// Threading: the node is driven by ONE thread (the server's raft loop); every
// method must be called on it and every callback runs on it. It reaches time,
// disk and network only through env and the LogStore/Transport interfaces.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "env/clock.h"
#include "kv/command.h"
#include "kv/recorded_reply.h"
#include "replica/host.h"

namespace shoal::node {

struct NodeOptions {
  NodeId id = NodeId(1);
  ShardId shard = ShardId(1);
  replica::ReplicaOptions replica;
  bool sync = true;  // fsync every batch (the LogStore's policy may relax it)
};

using Reply = std::function<void(Status, kv::RecordedReply)>;

class Node {
 public:
  Node(NodeOptions options, replica::LogStore& store, replica::Transport& transport,
       env::Clock& clock);

  // Opens the node's replica (bootstrapping a new single-voter group when the
  // store is empty) and makes it leader.
  Status open();

  // Executes a keyspace command (spec.handler != nullptr) for `client`.
  void execute(uint64_t client, const kv::CommandSpec& spec, std::vector<std::string> args,
               Reply done);
  // The client disconnected: its queued commands are dropped (in-flight ones
  // still complete; their replies are discarded by the caller).
  void forget_client(uint64_t client);

  void tick();
  // One host iteration (group commit). Returns the error that stopped it.
  Status run_once();
  // Proposes deletions of expired keys (bounded). Returns how many.
  size_t expire_cycle(size_t limit);

  bool healthy() const { return !host_.failed(); }
  size_t dbsize();
  size_t expires_count();
  replica::Replica* replica() { return host_.replica(options_.shard); }

 private:
  struct Op {
    const kv::CommandSpec* spec;
    std::vector<std::string> args;
    Reply done;
  };
  struct ClientQueue {
    std::deque<Op> waiting;
    int writes_in_flight = 0;
    bool read_in_flight = false;
  };
  void pump(uint64_t client);
  void start(uint64_t client, Op op);
  void finished(uint64_t client, bool was_read);

  NodeOptions options_;
  env::Clock& clock_;
  replica::Host host_;
  std::map<uint64_t, ClientQueue> clients_;
  std::set<uint64_t> pumping_;  // clients whose pump() is on the stack
};

}  // namespace shoal::node
