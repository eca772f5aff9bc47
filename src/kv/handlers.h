// Handler functions of the keyspace commands, one family per file
// (string_commands.cc, keyspace_commands.cc, expire_commands.cc, lcs_command.cc).
// Private to the kv library: the table in command_table.cc is the public face.
#pragma once

#include <string>

#include "kv/command.h"

namespace shoal::kv {

// string family
void cmd_get(CommandContext& c);
void cmd_set(CommandContext& c);
void cmd_setnx(CommandContext& c);
void cmd_setex(CommandContext& c);
void cmd_psetex(CommandContext& c);
void cmd_getset(CommandContext& c);
void cmd_getdel(CommandContext& c);
void cmd_getex(CommandContext& c);
void cmd_mget(CommandContext& c);
void cmd_mset(CommandContext& c);
void cmd_msetnx(CommandContext& c);
void cmd_incr(CommandContext& c);
void cmd_decr(CommandContext& c);
void cmd_incrby(CommandContext& c);
void cmd_decrby(CommandContext& c);
void cmd_incrbyfloat(CommandContext& c);
void cmd_append(CommandContext& c);
void cmd_strlen(CommandContext& c);
void cmd_getrange(CommandContext& c);
void cmd_setrange(CommandContext& c);
void cmd_lcs(CommandContext& c);

// keyspace family
void cmd_del(CommandContext& c);
void cmd_exists(CommandContext& c);
void cmd_type(CommandContext& c);
void cmd_touch(CommandContext& c);
void cmd_rename(CommandContext& c);
void cmd_renamenx(CommandContext& c);
void cmd_copy(CommandContext& c);
void cmd_keys(CommandContext& c);
void cmd_scan(CommandContext& c);
void cmd_randomkey(CommandContext& c);
void cmd_dbsize(CommandContext& c);
void cmd_cluster_countkeysinslot(CommandContext& c);
void cmd_wait(CommandContext& c);
void cmd_cluster_getkeysinslot(CommandContext& c);
void cmd_flushdb(CommandContext& c);
void cmd_object_encoding(CommandContext& c);
void cmd_object_freq(CommandContext& c);
void cmd_object_idletime(CommandContext& c);
void cmd_object_refcount(CommandContext& c);
void cmd_object_help(CommandContext& c);
void cmd_internal_expire(CommandContext& c);

// expire family
void cmd_expire(CommandContext& c);
void cmd_pexpire(CommandContext& c);
void cmd_expireat(CommandContext& c);
void cmd_pexpireat(CommandContext& c);
void cmd_ttl(CommandContext& c);
void cmd_pttl(CommandContext& c);
void cmd_expiretime(CommandContext& c);
void cmd_pexpiretime(CommandContext& c);
void cmd_persist(CommandContext& c);

// Shared helpers.
// "ERR invalid expire time in '<cmd>' command"
std::string invalid_expire_error(const CommandContext& c);
// Looks up a string value for reading; replies WRONGTYPE and returns false on
// a non-string. `*out` is nullopt for a missing key.
bool read_string(CommandContext& c, std::string_view key, std::optional<Record>* out);
bool write_string_lookup(CommandContext& c, std::string_view key, std::optional<Record>* out);
constexpr int64_t kProtoMaxBulkLen = 512LL * 1024 * 1024;

}  // namespace shoal::kv
