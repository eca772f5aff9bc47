// COMMAND and its subcommands, generated from the kv command table with
// Redis 7's reply shapes: each entry is
//   [name, arity, flags, first_key, last_key, step, acl_categories, tips,
//    key_specs, subcommands]
// (redis-py's cluster client reads the first six at construction).
#include <sstream>

#include "server/connection_commands.h"

namespace shoal::server {
namespace {

const auto& table() { return kv::CommandTable::instance(); }

std::vector<std::string_view> flag_names(uint32_t f) {
  std::vector<std::string_view> out;
  if (f & kv::kWrite) out.push_back("write");
  if (f & kv::kReadonly) out.push_back("readonly");
  if (f & kv::kDenyOom) out.push_back("denyoom");
  if (f & kv::kAdmin) out.push_back("admin");
  if (f & kv::kNoScript) out.push_back("noscript");
  if (f & kv::kLoading) out.push_back("loading");
  if (f & kv::kStale) out.push_back("stale");
  if (f & kv::kFast) out.push_back("fast");
  if (f & kv::kNoAuth) out.push_back("no_auth");
  if (f & kv::kAllowBusy) out.push_back("allow_busy");
  return out;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t sp = s.find(' ');
    out.push_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

void key_specs(RespSink& r, const kv::CommandSpec& spec) {
  if (spec.first_key <= 0) return r.array(0);
  r.array(1);
  r.map(3);
  r.bulk("flags");
  r.set(1);
  r.simple(spec.is_write() ? "RW" : "RO");
  r.bulk("begin_search");
  r.map(2);
  r.bulk("type");
  r.bulk("index");
  r.bulk("spec");
  r.map(1);
  r.bulk("index");
  r.integer(spec.first_key);
  r.bulk("find_keys");
  r.map(2);
  r.bulk("type");
  r.bulk("range");
  r.bulk("spec");
  r.map(3);
  r.bulk("lastkey");
  r.integer(spec.last_key < 0 ? spec.last_key : spec.last_key - spec.first_key);
  r.bulk("keystep");
  r.integer(spec.step);
  r.bulk("limit");
  r.integer(0);
}

void command_entry(RespSink& r, const kv::CommandSpec& spec) {
  r.array(10);
  r.bulk(spec.name);
  r.integer(spec.arity);
  auto flags = flag_names(spec.flags);
  r.set(flags.size());
  for (auto f : flags) r.simple(f);
  r.integer(spec.first_key);
  r.integer(spec.last_key);
  r.integer(spec.step);
  auto cats = split_words(spec.acl_categories);
  r.set(cats.size());
  for (auto cat : cats) r.simple(cat);
  r.set(0);  // tips
  key_specs(r, spec);
  auto subs = table().is_container(spec) ? table().subcommands(spec)
                                         : std::vector<const kv::CommandSpec*>{};
  r.array(subs.size());
  for (const auto* sub : subs) command_entry(r, *sub);
}

void docs_entry(RespSink& r, const kv::CommandSpec& spec) {
  auto subs = table().is_container(spec) ? table().subcommands(spec)
                                         : std::vector<const kv::CommandSpec*>{};
  r.bulk(spec.name);
  r.map(subs.empty() ? 3 : 4);
  r.bulk("summary");
  r.bulk(spec.summary);
  r.bulk("since");
  r.bulk(spec.since);
  r.bulk("group");
  r.bulk(spec.group);
  if (!subs.empty()) {
    r.bulk("subcommands");
    r.map(subs.size());
    for (const auto* sub : subs) docs_entry(r, *sub);
  }
}

// Resolves "get" or "object|encoding" (COMMAND INFO/DOCS take either form).
const kv::CommandSpec* resolve(std::string_view name) {
  size_t bar = name.find('|');
  if (bar == std::string_view::npos) return table().find(name);
  const kv::CommandSpec* parent = table().find(name.substr(0, bar));
  return parent ? table().find_sub(*parent, name.substr(bar + 1)) : nullptr;
}

}  // namespace

void cmd_command(ServerCommandContext& c) {
  const auto& all = table().top_level();
  c.reply.array(all.size());
  for (const auto* spec : all) command_entry(c.reply, *spec);
}

void cmd_command_count(ServerCommandContext& c) {
  c.reply.integer(static_cast<int64_t>(table().top_level().size()));
}

void cmd_command_info(ServerCommandContext& c) {
  if (c.args.size() == 2) return cmd_command(c);
  c.reply.array(c.args.size() - 2);
  for (size_t i = 2; i < c.args.size(); ++i) {
    const kv::CommandSpec* spec = resolve(c.args[i]);
    if (spec)
      command_entry(c.reply, *spec);
    else
      c.reply.null_array();
  }
}

void cmd_command_docs(ServerCommandContext& c) {
  std::vector<const kv::CommandSpec*> specs;
  if (c.args.size() == 2) {
    specs = table().top_level();
  } else {
    for (size_t i = 2; i < c.args.size(); ++i) {
      if (const auto* spec = resolve(c.args[i])) specs.push_back(spec);
    }
  }
  c.reply.map(specs.size());
  for (const auto* spec : specs) docs_entry(c.reply, *spec);
}

void cmd_command_getkeys(ServerCommandContext& c) {
  auto inner = c.args.subspan(2);
  const kv::CommandSpec* spec = table().find(inner[0]);
  if (spec && table().is_container(*spec) && inner.size() >= 2) {
    spec = table().find_sub(*spec, inner[1]);
  }
  if (!spec || (spec->flags & kv::kInternal)) return c.reply.error("ERR Invalid command specified");
  bool arity_ok = spec->arity > 0 ? static_cast<int>(inner.size()) == spec->arity
                                  : static_cast<int>(inner.size()) >= -spec->arity;
  if (!arity_ok) return c.reply.error("ERR Invalid number of arguments specified for command");
  auto positions = kv::CommandTable::key_positions(*spec, inner.size());
  if (positions.empty()) return c.reply.error("ERR The command has no key arguments");
  c.reply.array(positions.size());
  for (size_t p : positions) c.reply.bulk(inner[p]);
}

void cmd_command_list(ServerCommandContext& c) {
  // FILTERBY is not supported yet; reject it rather than ignore it.
  if (c.args.size() > 2) return c.reply.error(kv::kErrSyntax);
  const auto& all = table().top_level();
  c.reply.array(all.size());
  for (const auto* spec : all) c.reply.bulk(spec->name);
}

void cmd_command_help(ServerCommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)",
      "    Return details about all Redis commands.",
      "COUNT",
      "    Return the total number of commands in this Redis server.",
      "LIST",
      "    Return a list of all commands in this Redis server.",
      "INFO [<command-name> ...]",
      "    Return details about multiple Redis commands.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about multiple Redis commands.",
      "GETKEYS <full-command>",
      "    Return the keys from a full Redis command.",
      "HELP",
      "    Prints this help.",
  };
  c.reply.simple_lines(kLines);
}

ServerHandler find_server_handler(std::string_view name) {
  struct Entry {
    std::string_view name;
    ServerHandler fn;
  };
  static constexpr Entry kHandlers[] = {
      {"ping", cmd_ping},
      {"echo", cmd_echo},
      {"hello", cmd_hello},
      {"auth", cmd_auth},
      {"select", cmd_select},
      {"quit", cmd_quit},
      {"reset", cmd_reset},
      {"client|id", cmd_client_id},
      {"client|setname", cmd_client_setname},
      {"client|getname", cmd_client_getname},
      {"client|setinfo", cmd_client_setinfo},
      {"client|list", cmd_client_list},
      {"client|info", cmd_client_info},
      {"client|help", cmd_client_help},
      {"info", cmd_info},
      {"config|get", cmd_config_get},
      {"config|set", cmd_config_set},
      {"config|resetstat", cmd_config_resetstat},
      {"config|help", cmd_config_help},
      {"time", cmd_time},
      {"cluster|slots", cmd_cluster_slots},
      {"cluster|shards", cmd_cluster_shards},
      {"cluster|nodes", cmd_cluster_nodes},
      {"cluster|info", cmd_cluster_info},
      {"cluster|myid", cmd_cluster_myid},
      {"cluster|keyslot", cmd_cluster_keyslot},
      {"cluster|help", cmd_cluster_help},
      {"cluster|shoal-identity", cmd_cluster_shoal_identity},
      {"cluster|shoal-bootstrap", cmd_cluster_shoal_bootstrap},
      {"readonly", cmd_readonly},
      {"readwrite", cmd_readwrite},
      {"asking", cmd_asking},
      {"command", cmd_command},
      {"command|count", cmd_command_count},
      {"command|info", cmd_command_info},
      {"command|docs", cmd_command_docs},
      {"command|getkeys", cmd_command_getkeys},
      {"command|list", cmd_command_list},
      {"command|help", cmd_command_help},
  };
  for (const auto& e : kHandlers) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

}  // namespace shoal::server
