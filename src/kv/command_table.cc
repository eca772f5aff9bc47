// The command table (Redis 7.0 metadata). Adding a command = one line here
// plus its handler in the family's file.
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "kv/handlers.h"

namespace shoal::kv {
namespace {

constexpr uint32_t kW = kWrite, kR = kReadonly, kD = kDenyOom, kF = kFast;
constexpr uint32_t kConn = kNoScript | kLoading | kStale | kFast | kNoAuth | kAllowBusy;
constexpr uint32_t kLS = kLoading | kStale;

// name, arity, flags, first, last, step, acl categories, group, since, summary, handler
// clang-format off
const CommandSpec kCommands[] = {
    // strings
    {"get", 2, kR | kF, 1, 1, 1, "@read @string @fast", "string", "1.0.0", "Returns the string value of a key.", cmd_get},
    {"set", -3, kW | kD, 1, 1, 1, "@write @string @slow", "string", "1.0.0", "Sets the string value of a key, ignoring its type.", cmd_set},
    {"setnx", 3, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", cmd_setnx},
    {"setex", 4, kW | kD, 1, 1, 1, "@write @string @slow", "string", "2.0.0", "Sets the string value and expiration time of a key.", cmd_setex},
    {"psetex", 4, kW | kD, 1, 1, 1, "@write @string @slow", "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key.", cmd_psetex},
    {"getset", 3, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", cmd_getset},
    {"getdel", 2, kW | kF, 1, 1, 1, "@write @string @fast", "string", "6.2.0", "Returns the string value of a key after deleting the key.", cmd_getdel},
    {"getex", -2, kW | kF, 1, 1, 1, "@write @string @fast", "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", cmd_getex},
    {"mget", -2, kR | kF, 1, -1, 1, "@read @string @fast", "string", "1.0.0", "Atomically returns the string values of one or more keys.", cmd_mget},
    {"mset", -3, kW | kD, 1, -1, 2, "@write @string @slow", "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", cmd_mset},
    {"msetnx", -3, kW | kD, 1, -1, 2, "@write @string @slow", "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", cmd_msetnx},
    {"incr", 2, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Increments the integer value of a key by one.", cmd_incr},
    {"decr", 2, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Decrements the integer value of a key by one.", cmd_decr},
    {"incrby", 3, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Increments the integer value of a key by a number.", cmd_incrby},
    {"decrby", 3, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "1.0.0", "Decrements a number from the integer value of a key.", cmd_decrby},
    {"incrbyfloat", 3, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "2.6.0", "Increment the floating point value of a key by a number.", cmd_incrbyfloat},
    {"append", 3, kW | kD | kF, 1, 1, 1, "@write @string @fast", "string", "2.0.0", "Appends a string to the value of a key.", cmd_append},
    {"strlen", 2, kR | kF, 1, 1, 1, "@read @string @fast", "string", "2.2.0", "Returns the length of a string value.", cmd_strlen},
    {"getrange", 4, kR, 1, 1, 1, "@read @string @slow", "string", "2.4.0", "Returns a substring of the string stored at a key.", cmd_getrange},
    {"setrange", 4, kW | kD, 1, 1, 1, "@write @string @slow", "string", "2.2.0", "Overwrites a part of a string value with another by an offset.", cmd_setrange},
    {"substr", 4, kR, 1, 1, 1, "@read @string @slow", "string", "1.0.0", "Returns a substring from a string value.", cmd_getrange},
    {"lcs", -3, kR, 1, 2, 1, "@read @string @slow", "string", "7.0.0", "Finds the longest common substring.", cmd_lcs},
    // keyspace
    {"del", -2, kW, 1, -1, 1, "@keyspace @write @slow", "generic", "1.0.0", "Deletes one or more keys.", cmd_del},
    {"unlink", -2, kW | kF, 1, -1, 1, "@keyspace @write @fast", "generic", "4.0.0", "Asynchronously deletes one or more keys.", cmd_del},
    {"exists", -2, kR | kF, 1, -1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Determines whether one or more keys exist.", cmd_exists},
    {"type", 2, kR | kF, 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Determines the type of value stored at a key.", cmd_type},
    {"touch", -2, kR | kF, 1, -1, 1, "@keyspace @read @fast", "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", cmd_touch},
    {"rename", 3, kW, 1, 2, 1, "@keyspace @write @slow", "generic", "1.0.0", "Renames a key and overwrites the destination.", cmd_rename},
    {"renamenx", 3, kW | kF, 1, 2, 1, "@keyspace @write @fast", "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", cmd_renamenx},
    {"copy", -3, kW | kD, 1, 2, 1, "@keyspace @write @slow", "generic", "6.2.0", "Copies the value of a key to a new key.", cmd_copy},
    {"keys", 2, kR, 0, 0, 0, "@keyspace @read @slow @dangerous", "generic", "1.0.0", "Returns all key names that match a pattern.", cmd_keys},
    {"scan", -2, kR, 0, 0, 0, "@keyspace @read @slow", "generic", "2.8.0", "Iterates over the key names in the database.", cmd_scan},
    {"randomkey", 1, kR, 0, 0, 0, "@keyspace @read @slow", "generic", "1.0.0", "Returns a random key name from the database.", cmd_randomkey},
    {"expire", -3, kW | kF, 1, 1, 1, "@keyspace @write @fast", "generic", "1.0.0", "Sets the expiration time of a key in seconds.", cmd_expire},
    {"pexpire", -3, kW | kF, 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", cmd_pexpire},
    {"expireat", -3, kW | kF, 1, 1, 1, "@keyspace @write @fast", "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", cmd_expireat},
    {"pexpireat", -3, kW | kF, 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", cmd_pexpireat},
    {"ttl", 2, kR | kF, 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0", "Returns the expiration time in seconds of a key.", cmd_ttl},
    {"pttl", 2, kR | kF, 1, 1, 1, "@keyspace @read @fast", "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", cmd_pttl},
    {"expiretime", 2, kR | kF, 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", cmd_expiretime},
    {"pexpiretime", 2, kR | kF, 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", cmd_pexpiretime},
    {"persist", 2, kW | kF, 1, 1, 1, "@keyspace @write @fast", "generic", "2.2.0", "Removes the expiration time of a key.", cmd_persist},
    {"object", -2, 0, 0, 0, 0, "@slow", "generic", "2.2.3", "A container for object introspection commands.", nullptr},
    {"object|encoding", 3, kR, 2, 2, 1, "@keyspace @read @slow", "generic", "2.2.3", "Returns the internal encoding of a Redis object.", cmd_object_encoding},
    {"object|freq", 3, kR, 2, 2, 1, "@keyspace @read @slow", "generic", "4.0.0", "Returns the logarithmic access frequency counter of a Redis object.", cmd_object_freq},
    {"object|idletime", 3, kR, 2, 2, 1, "@keyspace @read @slow", "generic", "2.2.3", "Returns the time since the last access to a Redis object.", cmd_object_idletime},
    {"object|refcount", 3, kR, 2, 2, 1, "@keyspace @read @slow", "generic", "2.2.3", "Returns the reference count of a value of a key.", cmd_object_refcount},
    {"object|help", 2, kLS, 0, 0, 0, "@keyspace @slow", "generic", "6.2.0", "Returns helpful text about the different subcommands.", cmd_object_help},
    {"dbsize", 1, kR | kF, 0, 0, 0, "@keyspace @read @fast", "server", "1.0.0", "Returns the number of keys in the database.", cmd_dbsize},
    {"flushdb", -1, kW, 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0", "Removes all keys from the current database.", cmd_flushdb},
    {"flushall", -1, kW, 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0", "Removes all keys from all databases.", cmd_flushdb},
    {"shoal.expire", 3, kW | kInternal, 1, 1, 1, "", "generic", "", "Internal: delete a key whose expiry time has passed.", cmd_internal_expire},
    // connection and server (executed by the server layer)
    {"ping", -1, kF, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Returns the server's liveliness response.", nullptr},
    {"echo", 2, kF, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Returns the given string.", nullptr},
    {"hello", -1, kConn, 0, 0, 0, "@fast @connection", "connection", "6.0.0", "Handshakes with the Redis server.", nullptr},
    {"auth", -2, kConn, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Authenticates the connection.", nullptr},
    {"select", 2, kLS | kF, 0, 0, 0, "@fast @connection", "connection", "2.0.0", "Changes the selected database.", nullptr},
    {"quit", -1, kConn, 0, 0, 0, "@fast @connection", "connection", "1.0.0", "Closes the connection.", nullptr},
    {"reset", 1, kConn, 0, 0, 0, "@fast @connection", "connection", "6.2.0", "Resets the connection.", nullptr},
    {"cluster", -2, 0, 0, 0, 0, "@slow", "cluster", "3.0.0", "A container for Redis Cluster commands.", nullptr},
    {"cluster|slots", 2, kLS, 0, 0, 0, "@slow", "cluster", "3.0.0", "Returns the mapping of cluster slots to nodes.", nullptr},
    {"cluster|shards", 2, kLS, 0, 0, 0, "@slow", "cluster", "7.0.0", "Returns the mapping of cluster slots to shards.", nullptr},
    {"cluster|nodes", 2, kLS, 0, 0, 0, "@slow", "cluster", "3.0.0", "Returns the cluster configuration for a node.", nullptr},
    {"cluster|info", 2, kLS, 0, 0, 0, "@slow", "cluster", "3.0.0", "Returns information about the state of a node.", nullptr},
    {"cluster|myid", 2, kLS, 0, 0, 0, "@slow", "cluster", "3.0.0", "Returns the ID of a node.", nullptr},
    {"cluster|keyslot", 3, kLS, 0, 0, 0, "@slow", "cluster", "3.0.0", "Returns the hash slot for a key.", nullptr},
    {"cluster|countkeysinslot", 3, kLS, 0, 0, 0, "@slow", "cluster", "3.0.0", "Returns the number of keys in a hash slot.", cmd_cluster_countkeysinslot},
    {"cluster|getkeysinslot", 4, kLS, 0, 0, 0, "@slow", "cluster", "3.0.0", "Returns the key names in a hash slot.", cmd_cluster_getkeysinslot},
    {"cluster|help", 2, kLS, 0, 0, 0, "@slow", "cluster", "5.0.0", "Returns helpful text about the different subcommands.", nullptr},
    {"cluster|shoal-identity", 2, kAdmin | kLS, 0, 0, 0, "@admin @slow @dangerous", "cluster", "shoal", "Returns this node's numeric id and peer port (used by shoal-cli).", nullptr},
    {"cluster|shoal-bootstrap", 3, kAdmin | kLS, 0, 0, 0, "@admin @slow @dangerous", "cluster", "shoal", "Makes this node a member of the given cluster map (used by shoal-cli).", nullptr},
    {"readonly", 1, kF | kLS, 0, 0, 0, "@fast @connection", "cluster", "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node.", nullptr},
    {"readwrite", 1, kF | kLS, 0, 0, 0, "@fast @connection", "cluster", "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node.", nullptr},
    {"asking", 1, kF, 0, 0, 0, "@fast @connection", "cluster", "3.0.0", "Signals that a cluster client is following an -ASK redirect.", nullptr},
    {"wait", 3, kNoScript, 0, 0, 0, "@slow @connection", "generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", cmd_wait},
    {"client", -2, 0, 0, 0, 0, "@slow", "connection", "2.4.0", "A container for client connection commands.", nullptr},
    {"client|id", 2, kNoScript | kLS, 0, 0, 0, "@slow @connection", "connection", "5.0.0", "Returns the unique client ID of the connection.", nullptr},
    {"client|setname", 3, kNoScript | kLS, 0, 0, 0, "@slow @connection", "connection", "2.6.9", "Sets the connection name.", nullptr},
    {"client|getname", 2, kNoScript | kLS, 0, 0, 0, "@slow @connection", "connection", "2.6.9", "Returns the name of the connection.", nullptr},
    {"client|setinfo", 4, kNoScript | kLS, 0, 0, 0, "@slow @connection", "connection", "7.2.0", "Sets information specific to the client or connection.", nullptr},
    {"client|list", -2, kAdmin | kNoScript | kLS, 0, 0, 0, "@admin @slow @dangerous @connection", "connection", "2.4.0", "Lists open connections.", nullptr},
    {"client|info", 2, kNoScript | kLS, 0, 0, 0, "@slow @connection", "connection", "6.2.0", "Returns information about the connection.", nullptr},
    {"client|help", 2, kLS, 0, 0, 0, "@slow @connection", "connection", "5.0.0", "Returns helpful text about the different subcommands.", nullptr},
    {"info", -1, kLS, 0, 0, 0, "@slow @dangerous", "server", "1.0.0", "Returns information and statistics about the server.", nullptr},
    {"config", -2, 0, 0, 0, 0, "@slow", "server", "2.0.0", "A container for server configuration commands.", nullptr},
    {"config|get", -3, kAdmin | kNoScript | kLS, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Returns the effective values of configuration parameters.", nullptr},
    {"config|set", -4, kAdmin | kNoScript | kLS, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Sets configuration parameters in-flight.", nullptr},
    {"config|resetstat", 2, kAdmin | kNoScript | kLS, 0, 0, 0, "@admin @slow @dangerous", "server", "2.0.0", "Resets the server's statistics.", nullptr},
    {"config|help", 2, kLS, 0, 0, 0, "@slow", "server", "5.0.0", "Returns helpful text about the different subcommands.", nullptr},
    {"time", 1, kLS | kF, 0, 0, 0, "@fast", "server", "2.6.0", "Returns the server time.", nullptr},
    {"command", -1, kLS, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns detailed information about all commands.", nullptr},
    {"command|count", 2, kLS, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns a count of commands.", nullptr},
    {"command|info", -2, kLS, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Returns information about one, multiple or all commands.", nullptr},
    {"command|docs", -2, kLS, 0, 0, 0, "@slow @connection", "server", "7.0.0", "Returns documentary information about one, multiple or all commands.", nullptr},
    {"command|getkeys", -4, kLS, 0, 0, 0, "@slow @connection", "server", "2.8.13", "Extracts the key names from an arbitrary command.", nullptr},
    {"command|list", -2, kLS, 0, 0, 0, "@slow @connection", "server", "7.0.0", "Returns a list of command names.", nullptr},
    {"command|help", 2, kLS, 0, 0, 0, "@slow @connection", "server", "5.0.0", "Returns helpful text about the different subcommands.", nullptr},
};
// clang-format on

struct LowerHash {
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
};

std::unordered_map<std::string_view, const CommandSpec*, LowerHash>& by_name() {
  static std::unordered_map<std::string_view, const CommandSpec*, LowerHash> map;
  return map;
}

// ASCII only, as Redis's command lookup (strcasecmp in the C locale);
// std::tolower is a locale-aware library call per character.
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

// Lowercases into a stack buffer; names longer than 64 bytes are unknown.
bool lower(std::string_view in, char* buf, size_t cap, std::string_view* out) {
  if (in.size() > cap) return false;
  for (size_t i = 0; i < in.size(); ++i) buf[i] = ascii_lower(in[i]);
  *out = std::string_view(buf, in.size());
  return true;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string_view CommandSpec::container() const {
  size_t bar = name.find('|');
  return bar == std::string_view::npos ? std::string_view() : name.substr(0, bar);
}

CommandTable::CommandTable() {
  for (const auto& spec : kCommands) {
    by_name().emplace(spec.name, &spec);
    if (spec.container().empty() && !(spec.flags & kInternal)) top_level_.push_back(&spec);
  }
}

const CommandTable& CommandTable::instance() {
  static const CommandTable table;
  return table;
}

const CommandSpec* CommandTable::find(std::string_view name) const {
  char buf[64];
  std::string_view key;
  if (!lower(name, buf, sizeof(buf), &key)) return nullptr;
  auto it = by_name().find(key);
  if (it == by_name().end() || !it->second->container().empty()) return nullptr;
  return it->second;
}

const CommandSpec* CommandTable::find_sub(const CommandSpec& container,
                                          std::string_view sub) const {
  char buf[128];
  std::string full(container.name);
  full.push_back('|');
  std::string_view lowered;
  if (!lower(sub, buf, sizeof(buf), &lowered)) return nullptr;
  full.append(lowered);
  auto it = by_name().find(full);
  return it == by_name().end() ? nullptr : it->second;
}

bool CommandTable::is_container(const CommandSpec& spec) const {
  return spec.name == "object" || spec.name == "client" || spec.name == "config" ||
         spec.name == "command" || spec.name == "cluster";
}

std::vector<const CommandSpec*> CommandTable::subcommands(const CommandSpec& container) const {
  std::vector<const CommandSpec*> out;
  for (const auto& spec : kCommands) {
    if (spec.container() == container.name) out.push_back(&spec);
  }
  return out;
}

std::vector<size_t> CommandTable::key_positions(const CommandSpec& spec, size_t argc) {
  std::vector<size_t> out;
  for_each_key_position(spec, argc, [&](size_t i) {
    out.push_back(i);
    return true;
  });
  return out;
}

}  // namespace shoal::kv
