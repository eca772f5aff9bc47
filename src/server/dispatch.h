// Command dispatch: name lookup, arity and authentication checks with Redis's
// error texts, then either the keyspace (KeyspaceService) or a server-level
// handler (connection, introspection and administration commands).
#pragma once

#include <span>
#include <string_view>

#include "kv/command.h"
#include "server/resp_sink.h"
#include "server/server_context.h"
#include "server/session.h"

namespace shoal::server {

struct ServerCommandContext {
  ServerContext& server;
  Session& session;
  ClientInfo& info;
  std::span<const std::string_view> args;
  RespSink& reply;
  const kv::CommandSpec& spec;
};

using ServerHandler = void (*)(ServerCommandContext& c);

// Checks and executes one command. Connection and server commands run here
// and write their reply; for a keyspace command (once name, arity and
// authentication checks passed) nothing is written and its spec is returned:
// the caller runs it on the keyspace (KeyspaceService). Never throws.
const kv::CommandSpec* dispatch(ServerContext& server, Session& session, ClientInfo& info,
                                std::span<const std::string_view> args, RespSink& reply);

// Handlers of the server-level commands (connection_commands.cc,
// server_commands.cc, command_command.cc).
ServerHandler find_server_handler(std::string_view name);

// "ERR wrong number of arguments for '<name>' command"
std::string arity_error(std::string_view name);

}  // namespace shoal::server
