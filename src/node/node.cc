#include "node/node.h"

#include "storage/memory_engine.h"

namespace shoal::node {

Node::Node(NodeOptions options, replica::LogStore& store, replica::Transport& transport,
           env::Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      host_(options_.id, store, transport, clock, replica::HostOptions{options_.sync}) {}

Status Node::open() {
  Status s = host_.add_replica(options_.shard, options_.replica, std::vector<NodeId>{options_.id},
                               std::make_unique<storage::MemoryEngine>());
  if (!s.is_ok()) return s;
  // A single voter need not wait for an election timeout.
  replica()->raft().campaign();
  return run_once();
}

void Node::execute(uint64_t client, const kv::CommandSpec& spec, std::vector<std::string> args,
                   Reply done) {
  clients_[client].waiting.push_back(Op{&spec, std::move(args), std::move(done)});
  pump(client);
}

void Node::forget_client(uint64_t client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  it->second.waiting.clear();
  if (it->second.writes_in_flight == 0 && !it->second.read_in_flight && !pumping_.count(client)) {
    clients_.erase(it);
  }
}

// Starts as many of the client's queued commands as its order allows. A
// command may complete synchronously (e.g. refused) and re-enter pump() via
// finished(); the re-entrant call returns at once and this loop continues.
void Node::pump(uint64_t client) {
  if (!pumping_.insert(client).second) return;
  while (true) {
    auto it = clients_.find(client);
    if (it == clients_.end()) break;
    ClientQueue& q = it->second;
    if (q.waiting.empty() || q.read_in_flight) break;
    bool is_write = q.waiting.front().spec->is_write();
    if (!is_write && q.writes_in_flight > 0) break;  // read after write: wait
    Op op = std::move(q.waiting.front());
    q.waiting.pop_front();
    if (is_write)
      ++q.writes_in_flight;
    else
      q.read_in_flight = true;
    start(client, std::move(op));
  }
  pumping_.erase(client);
  auto it = clients_.find(client);
  if (it != clients_.end() && it->second.waiting.empty() && it->second.writes_in_flight == 0 &&
      !it->second.read_in_flight) {
    clients_.erase(it);
  }
}

void Node::start(uint64_t client, Op op) {
  replica::Replica* r = replica();
  bool is_write = op.spec->is_write();
  auto finish = [this, client, is_write, done = std::move(op.done)](Status s,
                                                                    kv::RecordedReply reply) {
    done(std::move(s), std::move(reply));
    finished(client, !is_write);
  };
  if (!r || host_.failed()) return finish(Status::unavailable("node cannot write its log"), {});
  if (is_write) {
    r->propose(kv::WriteCommand{0, 0, clock_.now_ms(), std::move(op.args)}, std::move(finish));
  } else {
    r->read(*op.spec, std::move(op.args), std::move(finish));
  }
}

void Node::finished(uint64_t client, bool was_read) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  if (was_read)
    it->second.read_in_flight = false;
  else
    --it->second.writes_in_flight;
  pump(client);
}

void Node::tick() { host_.tick(); }

Status Node::run_once() { return host_.run_once(); }

size_t Node::expire_cycle(size_t limit) {
  replica::Replica* r = replica();
  return r ? r->propose_expirations(limit) : 0;
}

size_t Node::dbsize() {
  replica::Replica* r = replica();
  return r ? r->state_machine().store().size() : 0;
}

size_t Node::expires_count() {
  replica::Replica* r = replica();
  return r ? r->state_machine().store().expires_count() : 0;
}

}  // namespace shoal::node
