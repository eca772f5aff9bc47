// Command dispatch: name lookup, arity and authentication checks with Redis's
// error texts, then either the keyspace (LocalShard) or a server-level
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

// Executes one command and appends its reply. Never throws.
void dispatch(ServerContext& server, Session& session, ClientInfo& info,
              std::span<const std::string_view> args, RespSink& reply);

// Handlers of the server-level commands (connection_commands.cc,
// server_commands.cc, command_command.cc).
ServerHandler find_server_handler(std::string_view name);

// "ERR wrong number of arguments for '<name>' command"
std::string arity_error(std::string_view name);

}  // namespace shoal::server
