// Per-connection protocol state, independent of sockets, so that command
// handlers can be tested without a network.
#pragma once

#include <cstdint>
#include <string>

namespace shoal::kv {
struct CommandSpec;
}

namespace shoal::server {

struct Session {
  uint64_t id = 0;
  int protocol = 2;
  bool authenticated = false;
  bool close_after_reply = false;
  bool readonly = false;  // READONLY: reads may be served by follower replicas
  std::string name;
  std::string lib_name, lib_ver;
  std::string addr, laddr;  // "ip:port"
  int64_t created_ms = 0;
  // The last command name this client sent, exactly as sent, and its spec
  // (not for containers such as CLIENT, whose spec depends on the
  // subcommand): clients repeat commands, and the table lookup lowercases
  // and hashes the name (~5% of the CPU at GET -P 16).
  std::string last_name;
  const kv::CommandSpec* last_spec = nullptr;
};

}  // namespace shoal::server
