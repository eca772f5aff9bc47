// CLUSTER ..., READONLY, READWRITE, ASKING and WAIT (docs/cluster.md). The
// topology comes from the snapshot the raft loop publishes (Topology), so
// these never wait for the loop.
#include <algorithm>

#include "base/coding.h"
#include "base/crc16.h"
#include "server/connection_commands.h"

namespace shoal::server {
namespace {

constexpr std::string_view kDisabled = "ERR This instance has cluster support disabled";

// The topology of a cluster node, or nullptr after answering the error a
// standalone server gives.
std::shared_ptr<const Topology> cluster_topology(ServerCommandContext& c) {
  auto topo = c.server.keyspace().topology();
  if (!topo || !topo->clustered) {
    c.reply.error(kDisabled);
    return nullptr;
  }
  return topo;
}

// A node not bootstrapped yet knows only itself.
cluster::ClusterMap visible_map(const Topology& t) {
  if (t.configured) return t.map;
  cluster::ClusterMap alone;
  alone.nodes.push_back(cluster::NodeInfo{t.myself, "127.0.0.1", 0, t.peer_port});
  return alone;
}

}  // namespace

void cmd_cluster_slots(ServerCommandContext& c) {
  auto t = cluster_topology(c);
  if (!t) return;
  cluster::reply_cluster_slots(t->map, t->leader_view(), c.reply);
}

void cmd_cluster_shards(ServerCommandContext& c) {
  auto t = cluster_topology(c);
  if (!t) return;
  cluster::reply_cluster_shards(t->map, t->leader_view(), c.reply);
}

void cmd_cluster_nodes(ServerCommandContext& c) {
  auto t = cluster_topology(c);
  if (!t) return;
  c.reply.writer().verbatim(
      cluster::cluster_nodes_text(visible_map(*t), t->leader_view(), t->myself));
}

void cmd_cluster_info(ServerCommandContext& c) {
  auto t = cluster_topology(c);
  if (!t) return;
  std::string text = cluster::cluster_info_text(visible_map(*t), t->leader_view(), t->myself,
                                                t->messages_sent, t->messages_received);
  if (!t->configured) {
    auto at = text.find("cluster_state:ok");
    if (at != std::string::npos) text.replace(at, 16, "cluster_state:fail");
  }
  c.reply.writer().verbatim(text);
}

void cmd_cluster_myid(ServerCommandContext& c) {
  auto t = cluster_topology(c);
  if (!t) return;
  c.reply.bulk(cluster::node_name(t->myself));
}

void cmd_cluster_keyslot(ServerCommandContext& c) { c.reply.integer(key_slot(c.args[2]).value()); }

void cmd_cluster_help(ServerCommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "COUNTKEYSINSLOT <slot>",
      "    Return the number of keys in <slot>.",
      "GETKEYSINSLOT <slot> <count>",
      "    Return key names stored by the current node in a slot.",
      "INFO",
      "    Return information about the cluster.",
      "KEYSLOT <key>",
      "    Return the hash slot for <key>.",
      "MYID",
      "    Return the node id.",
      "NODES",
      "    Return cluster configuration seen by node. Output format:",
      "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
      "SHARDS",
      "    Return information about slot range mappings and the nodes associated with them.",
      "SLOTS",
      "    Return information about slots range mappings. Each range is made of:",
      "    start, end, master and replicas IP addresses, ports and ids",
      "HELP",
      "    Print this help.",
  };
  c.reply.simple_lines(kLines);
}

void cmd_cluster_shoal_identity(ServerCommandContext& c) {
  auto t = cluster_topology(c);
  if (!t) return;
  c.reply.array(3);
  c.reply.bulk(std::to_string(t->myself.value()));
  c.reply.integer(t->peer_port);
  c.reply.bulk(t->configured ? "yes" : "no");
}

void cmd_cluster_shoal_bootstrap(ServerCommandContext& c) {
  Status s = c.server.keyspace().bootstrap(std::string(c.args[2]));
  if (!s.is_ok()) return c.reply.error("ERR " + s.message());
  c.reply.ok();
}

void cmd_readonly(ServerCommandContext& c) {
  if (!cluster_topology(c)) return;
  c.session.readonly = true;
  c.reply.ok();
}

void cmd_readwrite(ServerCommandContext& c) {
  if (!cluster_topology(c)) return;
  c.session.readonly = false;
  c.reply.ok();
}

// No slot is ever migrating with ASK yet (moves keep the leader answering),
// so ASKING only has to be accepted.
void cmd_asking(ServerCommandContext& c) {
  if (!cluster_topology(c)) return;
  c.reply.ok();
}

}  // namespace shoal::server
