// Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT.
// Replies and error texts follow Redis 7.
#include <cctype>

#include "kv/numbers.h"
#include "server/connection_commands.h"
#include "server/dispatch.h"

namespace shoal::server {
namespace {

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

// Shoal has no ACL users yet: the only user is "default", whose password is
// --requirepass (or none).
bool check_credentials(ServerContext& s, std::string_view user, std::string_view pass) {
  if (user != "default") return false;
  std::string required = s.requirepass();
  return required.empty() || pass == required;
}

// Redis clientSetNameOrReply: printable, no spaces.
bool valid_client_name(std::string_view name) {
  for (unsigned char ch : name) {
    if (ch < '!' || ch > '~') return false;
  }
  return true;
}

void publish(ServerCommandContext& c) { c.info.set_session(c.session); }

}  // namespace

void cmd_ping(ServerCommandContext& c) {
  if (c.args.size() > 2) return c.reply.error(arity_error("ping"));
  if (c.args.size() == 2) return c.reply.bulk(c.args[1]);
  c.reply.simple("PONG");
}

void cmd_echo(ServerCommandContext& c) { c.reply.bulk(c.args[1]); }

void cmd_hello(ServerCommandContext& c) {
  int64_t ver = 0;
  size_t next = 1;
  if (c.args.size() >= 2) {
    if (!kv::parse_int64(c.args[next++], &ver)) {
      return c.reply.error("ERR Protocol version is not an integer or out of range");
    }
    if (ver < 2 || ver > 3) return c.reply.error("NOPROTO unsupported protocol version");
  }
  for (size_t j = next; j < c.args.size(); ++j) {
    size_t more = c.args.size() - 1 - j;
    if (kv::iequals(c.args[j], "auth") && more >= 2) {
      if (!check_credentials(c.server, c.args[j + 1], c.args[j + 2])) {
        return c.reply.error(kWrongPass);
      }
      c.session.authenticated = true;
      j += 2;
    } else if (kv::iequals(c.args[j], "setname") && more) {
      if (!valid_client_name(c.args[j + 1])) {
        return c.reply.error(
            "ERR Client names cannot contain spaces, newlines or special characters.");
      }
      c.session.name = std::string(c.args[j + 1]);
      ++j;
    } else {
      return c.reply.error("ERR Syntax error in HELLO option '" + std::string(c.args[j]) + "'");
    }
  }
  if (!c.session.authenticated && c.server.auth_required()) {
    return c.reply.error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  }
  if (ver) {
    c.session.protocol = static_cast<int>(ver);
    c.reply.writer().set_protocol(c.session.protocol);
  }
  publish(c);
  c.reply.map(7);
  c.reply.bulk("server");
  c.reply.bulk("shoal");
  c.reply.bulk("version");
  c.reply.bulk(kRedisCompatVersion);
  c.reply.bulk("proto");
  c.reply.integer(c.session.protocol);
  c.reply.bulk("id");
  c.reply.integer(static_cast<int64_t>(c.session.id));
  c.reply.bulk("mode");
  c.reply.bulk("standalone");
  c.reply.bulk("role");
  c.reply.bulk("master");
  c.reply.bulk("modules");
  c.reply.array(0);
}

void cmd_auth(ServerCommandContext& c) {
  if (c.args.size() > 3) return c.reply.error(kv::kErrSyntax);
  std::string_view user = c.args.size() == 3 ? c.args[1] : "default";
  std::string_view pass = c.args.back();
  if (c.args.size() == 2 && !c.server.auth_required()) {
    return c.reply.error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  }
  if (!check_credentials(c.server, user, pass)) return c.reply.error(kWrongPass);
  c.session.authenticated = true;
  publish(c);
  c.reply.ok();
}

void cmd_select(ServerCommandContext& c) {
  int64_t db;
  if (!kv::parse_int32_or_reply(c.reply, c.args[1], &db)) return;
  // Like a Redis Cluster node, Shoal has database 0 only (tenants replace
  // numbered databases).
  if (db != 0) return c.reply.error("ERR SELECT is not allowed in cluster mode");
  c.reply.ok();
}

void cmd_quit(ServerCommandContext& c) {
  c.session.close_after_reply = true;
  c.reply.ok();
}

void cmd_reset(ServerCommandContext& c) {
  c.session.protocol = 2;
  c.reply.writer().set_protocol(2);
  c.session.name.clear();
  c.session.readonly = false;
  c.session.authenticated = !c.server.auth_required();
  publish(c);
  c.reply.simple("RESET");
}

void cmd_client_id(ServerCommandContext& c) { c.reply.integer(static_cast<int64_t>(c.session.id)); }

void cmd_client_setname(ServerCommandContext& c) {
  if (!valid_client_name(c.args[2])) {
    return c.reply.error("ERR Client names cannot contain spaces, newlines or special characters.");
  }
  c.session.name = std::string(c.args[2]);
  publish(c);
  c.reply.ok();
}

void cmd_client_getname(ServerCommandContext& c) {
  if (c.session.name.empty()) return c.reply.null();
  c.reply.bulk(c.session.name);
}

void cmd_client_setinfo(ServerCommandContext& c) {
  std::string_view attr = c.args[2], value = c.args[3];
  bool is_name = kv::iequals(attr, "lib-name"), is_ver = kv::iequals(attr, "lib-ver");
  if (!is_name && !is_ver) {
    return c.reply.error("ERR Unrecognized option '" + std::string(attr) + "'");
  }
  for (unsigned char ch : value) {
    if (ch < '!' || ch > '~') {
      return c.reply.error("ERR " + std::string(is_name ? "lib-name" : "lib-ver") +
                           " cannot contain spaces, newlines or special characters.");
    }
  }
  (is_name ? c.session.lib_name : c.session.lib_ver) = std::string(value);
  publish(c);
  c.reply.ok();
}

std::string client_line(const ClientInfo& info, int64_t now_ms) {
  Session s = info.get_session();
  const kv::CommandSpec* last = info.last_command.load(std::memory_order_relaxed);
  int64_t idle = (now_ms - info.last_interaction_ms.load(std::memory_order_relaxed)) / 1000;
  std::string line = "id=" + std::to_string(s.id) + " addr=" + s.addr + " laddr=" + s.laddr +
                     " fd=-1 name=" + s.name +
                     " age=" + std::to_string((now_ms - s.created_ms) / 1000) +
                     " idle=" + std::to_string(idle < 0 ? 0 : idle) +
                     " flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=" +
                     std::to_string(info.query_buffer.load(std::memory_order_relaxed)) +
                     " omem=" + std::to_string(info.output_buffer.load(std::memory_order_relaxed)) +
                     " events=r cmd=" + std::string(last ? last->name : "NULL") +
                     " user=default redir=-1 resp=" + std::to_string(s.protocol) +
                     " lib-name=" + s.lib_name + " lib-ver=" + s.lib_ver;
  return line;
}

void cmd_client_list(ServerCommandContext& c) {
  // CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]
  std::vector<uint64_t> ids;
  bool only_none = false;
  for (size_t j = 2; j < c.args.size(); ++j) {
    if (kv::iequals(c.args[j], "type") && j + 1 < c.args.size()) {
      std::string_view t = c.args[++j];
      if (kv::iequals(t, "normal")) continue;
      if (kv::iequals(t, "master") || kv::iequals(t, "replica") || kv::iequals(t, "pubsub") ||
          kv::iequals(t, "slave")) {
        only_none = true;
        continue;
      }
      return c.reply.error("ERR Unknown client type '" + std::string(t) + "'");
    } else if (kv::iequals(c.args[j], "id") && j + 1 < c.args.size()) {
      for (++j; j < c.args.size(); ++j) {
        int64_t id;
        if (!kv::parse_int64(c.args[j], &id) || id <= 0) {
          return c.reply.error("ERR Invalid client ID");
        }
        ids.push_back(static_cast<uint64_t>(id));
      }
    } else {
      return c.reply.error(kv::kErrSyntax);
    }
  }
  std::string text;
  int64_t now = c.server.clock().now_ms();
  if (!only_none) {
    for (const auto& info : c.server.clients()) {
      uint64_t id = info->get_session().id;
      if (!ids.empty() && std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
      text += client_line(*info, now) + "\n";
    }
  }
  c.reply.writer().verbatim(text);
}

void cmd_client_info(ServerCommandContext& c) {
  c.reply.writer().verbatim(client_line(c.info, c.server.clock().now_ms()) + "\n");
}

void cmd_client_help(ServerCommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GETNAME",
      "    Return the name of the current connection.",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "LIST [options ...]",
      "    Return information about client connections. Options:",
      "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
      "      Return clients of specified type.",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "SETINFO <option> <value>",
      "    Set client meta attr. Options are:",
      "    * LIB-NAME: the client lib name.",
      "    * LIB-VER: the client lib version.",
      "HELP",
      "    Prints this help.",
  };
  c.reply.simple_lines(kLines);
}

}  // namespace shoal::server
