#include "server/dispatch.h"

#include <algorithm>
#include <cctype>

namespace shoal::server {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// Redis: "unknown command '<cmd>', with args beginning with: '<a1>' '<a2>' "
// (arguments quoted until 128 characters are used).
// Redis formats these with printf's "%.*s", which also stops at a NUL byte.
std::string c_string(std::string_view s, size_t max) {
  s = s.substr(0, std::min(max, s.find('\0')));
  return std::string(s);
}

std::string unknown_command_error(std::span<const std::string_view> args) {
  std::string list;
  for (size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    list += "'" + c_string(args[i], 128 - list.size()) + "' ";
  }
  return "ERR unknown command '" + c_string(args[0], 128) + "', with args beginning with: " + list;
}

bool arity_ok(const kv::CommandSpec& spec, size_t argc) {
  int n = static_cast<int>(std::min<size_t>(argc, 1 << 30));
  return spec.arity > 0 ? n == spec.arity : n >= -spec.arity;
}

}  // namespace

std::string arity_error(std::string_view name) {
  return "ERR wrong number of arguments for '" + std::string(name) + "' command";
}

const kv::CommandSpec* dispatch(ServerContext& server, Session& session, ClientInfo& info,
                                std::span<const std::string_view> args, RespSink& reply) {
  const auto& table = kv::CommandTable::instance();
  const kv::CommandSpec* spec = nullptr;
  bool container = false;  // never remembered
  if (session.last_spec && args[0] == session.last_name) {
    spec = session.last_spec;
  } else {
    spec = table.find(args[0]);
    // Internal operations (expiry deletes) are not callable by clients.
    if (!spec || (spec->flags & kv::kInternal)) {
      reply.error(unknown_command_error(args));
      return nullptr;
    }
    container = table.is_container(*spec);
    if (!container) {
      session.last_name.assign(args[0]);
      session.last_spec = spec;
    }
  }
  if (container && args.size() >= 2) {
    const kv::CommandSpec* sub = table.find_sub(*spec, args[1]);
    if (!sub) {
      {
        reply.error("ERR unknown subcommand '" + c_string(args[1], 128) + "'. Try " +
                    upper(args[0]) + " HELP.");
        return nullptr;
      }
    }
    spec = sub;
  }
  if (!arity_ok(*spec, args.size())) {
    reply.error(arity_error(spec->name));
    return nullptr;
  }
  if (!session.authenticated && !(spec->flags & kv::kNoAuth) && server.auth_required()) {
    {
      reply.error("NOAUTH Authentication required.");
      return nullptr;
    }
  }
  info.last_command.store(spec, std::memory_order_relaxed);
  if (spec->handler) return spec;
  ServerHandler handler = find_server_handler(spec->name);
  if (!handler) {
    reply.error(unknown_command_error(args));
    return nullptr;
  }
  ServerCommandContext ctx{server, session, info, args, reply, *spec};
  handler(ctx);
  return nullptr;
}

}  // namespace shoal::server
