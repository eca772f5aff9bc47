// Server-level command handlers (see dispatch.h).
#pragma once

#include <string>

#include "server/dispatch.h"

namespace shoal::server {

// The Redis version whose API Shoal implements; reported in HELLO and INFO
// (redis_version) because clients select features by it. Shoal's own version
// is reported separately (shoal_version).
inline constexpr std::string_view kRedisCompatVersion = "7.0.0";
inline constexpr std::string_view kShoalVersion = "0.1.0";

void cmd_ping(ServerCommandContext& c);
void cmd_echo(ServerCommandContext& c);
void cmd_hello(ServerCommandContext& c);
void cmd_auth(ServerCommandContext& c);
void cmd_select(ServerCommandContext& c);
void cmd_quit(ServerCommandContext& c);
void cmd_reset(ServerCommandContext& c);
void cmd_client_id(ServerCommandContext& c);
void cmd_client_setname(ServerCommandContext& c);
void cmd_client_getname(ServerCommandContext& c);
void cmd_client_setinfo(ServerCommandContext& c);
void cmd_client_list(ServerCommandContext& c);
void cmd_client_info(ServerCommandContext& c);
void cmd_client_help(ServerCommandContext& c);
std::string client_line(const ClientInfo& info, int64_t now_ms);

void cmd_info(ServerCommandContext& c);
void cmd_config_get(ServerCommandContext& c);
void cmd_config_set(ServerCommandContext& c);
void cmd_config_resetstat(ServerCommandContext& c);
void cmd_config_help(ServerCommandContext& c);
void cmd_time(ServerCommandContext& c);

void cmd_cluster_slots(ServerCommandContext& c);
void cmd_cluster_shards(ServerCommandContext& c);
void cmd_cluster_nodes(ServerCommandContext& c);
void cmd_cluster_info(ServerCommandContext& c);
void cmd_cluster_myid(ServerCommandContext& c);
void cmd_cluster_keyslot(ServerCommandContext& c);
void cmd_cluster_help(ServerCommandContext& c);
void cmd_cluster_shoal_identity(ServerCommandContext& c);
void cmd_cluster_shoal_bootstrap(ServerCommandContext& c);
void cmd_readonly(ServerCommandContext& c);
void cmd_readwrite(ServerCommandContext& c);
void cmd_asking(ServerCommandContext& c);

void cmd_command(ServerCommandContext& c);
void cmd_command_count(ServerCommandContext& c);
void cmd_command_info(ServerCommandContext& c);
void cmd_command_docs(ServerCommandContext& c);
void cmd_command_getkeys(ServerCommandContext& c);
void cmd_command_list(ServerCommandContext& c);
void cmd_command_help(ServerCommandContext& c);

}  // namespace shoal::server
