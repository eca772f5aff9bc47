// shoal-cli: Shoal's administration tool.
//
//   shoal-cli cluster create [--shards N] [--replicas R] host:port host:port ...
//       Makes fresh `shoal-server --cluster-enabled yes` nodes one cluster:
//       asks each node its id, plans the shards and their replicas
//       (cluster::plan_cluster), sends every node the map, and waits until
//       every shard has elected a leader.
//   shoal-cli cluster info host:port
//       Prints CLUSTER INFO and the shard leaders as that node sees them.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "cluster/cluster_map.h"
#include "resp_client.h"

namespace shoal::tools {
namespace {

using namespace std::chrono_literals;

struct Address {
  std::string host;
  uint16_t port = 0;
};

Result<Address> parse_address(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return Status::invalid_argument("expected host:port, got " + s);
  int port = 0;
  try {
    port = std::stoi(s.substr(colon + 1));
  } catch (...) {
    port = 0;
  }
  if (port < 1 || port > 65535) return Status::invalid_argument("bad port in " + s);
  return Address{s.substr(0, colon), static_cast<uint16_t>(port)};
}

Result<RespValue> call(const Address& a, const std::vector<std::string>& args) {
  auto c = RespClient::connect(a.host, a.port, 5000ms);
  if (!c.is_ok()) return c.status();
  auto v = c.value()->call(args);
  if (!v.is_ok()) return v.status();
  if (v.value().type == RespValue::Type::kError) {
    return Status::invalid_argument(a.host + ":" + std::to_string(a.port) +
                                    " answered: " + v.value().text);
  }
  return v;
}

Result<cluster::NodeInfo> identify(const Address& a) {
  auto v = call(a, {"CLUSTER", "SHOAL-IDENTITY"});
  if (!v.is_ok()) return v.status();
  const auto& e = v.value().elements;
  if (e.size() != 3) return Status::corruption("unexpected CLUSTER SHOAL-IDENTITY reply");
  if (e[2].text == "yes") {
    return Status::invalid_argument(a.host + ":" + std::to_string(a.port) +
                                    " is already a member of a cluster");
  }
  cluster::NodeInfo n;
  n.id = NodeId(std::stoull(e[0].text));
  n.host = a.host;
  n.client_port = a.port;
  n.peer_port = static_cast<uint16_t>(e[1].integer);
  return n;
}

bool cluster_ok(const Address& a) {
  auto v = call(a, {"CLUSTER", "INFO"});
  return v.is_ok() && v.value().text.find("cluster_state:ok") != std::string::npos;
}

int create(const std::vector<std::string>& addrs, int shards, int replicas, int wait_s) {
  std::vector<Address> addresses;
  std::vector<cluster::NodeInfo> nodes;
  for (const auto& s : addrs) {
    auto a = parse_address(s);
    if (!a.is_ok()) return std::cerr << a.status().message() << "\n", 2;
    auto n = identify(a.value());
    if (!n.is_ok()) return std::cerr << n.status().message() << "\n", 1;
    addresses.push_back(a.value());
    nodes.push_back(n.value());
  }
  std::random_device rd;
  uint64_t cluster_id = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ 1;
  auto map = cluster::plan_cluster(nodes, shards, replicas, cluster_id);
  if (!map.is_ok()) return std::cerr << map.status().message() << "\n", 2;
  std::string bytes = cluster::encode_cluster_map(map.value());
  // Always the same order, whatever order the nodes were named in (H20): two
  // creates racing over the same nodes meet at the first node, which accepts
  // one map and refuses the other, and the refused one stops before it
  // reaches any other node. So one cluster forms, never two halves.
  std::vector<Address> order = addresses;
  std::sort(order.begin(), order.end(), [](const Address& a, const Address& b) {
    return std::tie(a.host, a.port) < std::tie(b.host, b.port);
  });
  for (const auto& a : order) {
    auto v = call(a, {"CLUSTER", "SHOAL-BOOTSTRAP", bytes});
    if (!v.is_ok()) return std::cerr << v.status().message() << "\n", 1;
  }
  std::cout << "Created a cluster of " << nodes.size() << " nodes, " << shards
            << " shards, replication factor " << replicas << ":\n";
  for (const auto& n : map.value().nodes) {
    size_t count = map.value().shards_on(n.id).size();
    std::cout << "  " << cluster::node_name(n.id) << "  " << n.host << ":" << n.client_port
              << "  replicas of " << count << " shards\n";
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cluster_ok(addresses[0])) {
      std::cout << "Every shard has a leader: cluster_state:ok\n";
      return 0;
    }
    std::this_thread::sleep_for(100ms);
  }
  std::cerr << "The cluster did not reach cluster_state:ok within " << wait_s << " s\n";
  return 1;
}

int info(const std::string& addr) {
  auto a = parse_address(addr);
  if (!a.is_ok()) return std::cerr << a.status().message() << "\n", 2;
  auto v = call(a.value(), {"CLUSTER", "INFO"});
  if (!v.is_ok()) return std::cerr << v.status().message() << "\n", 1;
  std::cout << v.value().text;
  auto slots = call(a.value(), {"CLUSTER", "SLOTS"});
  if (!slots.is_ok()) return std::cerr << slots.status().message() << "\n", 1;
  std::cout << "shards (slots: leader):\n";
  for (const auto& r : slots.value().elements) {
    if (r.elements.size() < 3 || r.elements[2].elements.size() < 2) continue;
    std::cout << "  " << r.elements[0].integer << "-" << r.elements[1].integer << ": "
              << r.elements[2].elements[0].text << ":" << r.elements[2].elements[1].integer << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace shoal::tools

int main(int argc, char** argv) {
  CLI::App app{"shoal-cli: Shoal's administration tool"};
  app.require_subcommand(1);
  auto* cluster = app.add_subcommand("cluster", "Cluster membership")->require_subcommand(1);
  std::vector<std::string> addrs;
  int shards = 64, replicas = 3, wait_s = 30;
  auto* create = cluster->add_subcommand("create", "Make fresh nodes one cluster");
  create->add_option("nodes", addrs, "host:port of every node (client port)")->required();
  create->add_option("--shards", shards, "Number of shards")
      ->check(CLI::Range(1, 16384))
      ->capture_default_str();
  create->add_option("--replicas", replicas, "Replication factor")
      ->check(CLI::Range(1, 7))
      ->capture_default_str();
  create->add_option("--wait", wait_s, "Seconds to wait for every shard to elect a leader")
      ->capture_default_str();
  std::string addr;
  auto* info = cluster->add_subcommand("info", "Show a node's view of the cluster");
  info->add_option("node", addr, "host:port")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (create->parsed()) return shoal::tools::create(addrs, shards, replicas, wait_s);
    if (info->parsed()) return shoal::tools::info(addr);
  } catch (const std::exception& e) {
    std::cerr << "shoal-cli: unexpected reply: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
