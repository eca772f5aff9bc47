// The declarative command table: every command Shoal knows, with Redis 7's
// metadata (arity, flags, key positions, ACL categories) and, for commands on
// the keyspace, the handler that executes it against a Store.
//
// Handlers are deterministic: given the same Store contents, arguments and
// `now_ms`, they make the same change and the same reply. Write handlers run
// only in apply (later: once per replica, from the Raft log); read handlers
// run on the node that serves the read.
//
// Commands without a handler (connection and server commands such as HELLO or
// INFO) are executed by the server layer; they are listed here so that
// COMMAND, arity checks and ACLs see one table.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kv/reply_sink.h"
#include "kv/store.h"

namespace shoal::kv {

enum CommandFlag : uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kDenyOom = 1u << 2,
  kAdmin = 1u << 3,
  kNoScript = 1u << 4,
  kLoading = 1u << 5,
  kStale = 1u << 6,
  kFast = 1u << 7,
  kNoAuth = 1u << 8,
  kAllowBusy = 1u << 9,
  kInternal = 1u << 10,  // not callable by clients (e.g. expiry deletes)
};

struct CommandSpec;

struct CommandContext {
  Store& store;
  std::span<const std::string_view> args;
  ReplySink& reply;
  int64_t now_ms;
  const CommandSpec& spec;
  uint64_t random_bits = 0;  // reads only (RANDOMKEY)
};

using Handler = void (*)(CommandContext& ctx);

struct CommandSpec {
  std::string_view name;  // lowercase; "container|sub" for subcommands
  int arity;              // Redis convention: -N means at least N
  uint32_t flags;
  int first_key, last_key, step;    // Redis legacy key positions (0 = no keys)
  std::string_view acl_categories;  // space separated, e.g. "@read @string @fast"
  std::string_view group;           // documentation group, e.g. "string"
  std::string_view since;
  std::string_view summary;
  Handler handler;  // nullptr: executed by the server layer

  bool is_write() const { return flags & kWrite; }
  std::string_view container() const;  // "object" for "object|encoding"; "" otherwise
};

class CommandTable {
 public:
  static const CommandTable& instance();

  // Looks up a command by its (case-insensitive) name; for container commands
  // (OBJECT, CLIENT, CONFIG, COMMAND) `sub` selects the subcommand.
  const CommandSpec* find(std::string_view name) const;
  const CommandSpec* find_sub(const CommandSpec& container, std::string_view sub) const;
  bool is_container(const CommandSpec& spec) const;
  std::vector<const CommandSpec*> subcommands(const CommandSpec& container) const;
  // All top-level, client-visible commands, in a stable order.
  const std::vector<const CommandSpec*>& top_level() const { return top_level_; }

  // Key argument positions of a command invocation (COMMAND GETKEYS, routing).
  // Empty when the command takes no keys.
  static std::vector<size_t> key_positions(const CommandSpec& spec, size_t argc);
  // The same positions without allocating, for the per-command routing path:
  // calls visit(position) in order until it returns false.
  template <typename Visit>
  static void for_each_key_position(const CommandSpec& spec, size_t argc, Visit visit);

 private:
  CommandTable();
  std::vector<const CommandSpec*> top_level_;
};

template <typename Visit>
void CommandTable::for_each_key_position(const CommandSpec& spec, size_t argc, Visit visit) {
  if (spec.first_key <= 0) return;
  long last = spec.last_key >= 0 ? spec.last_key : static_cast<long>(argc) + spec.last_key;
  for (long i = spec.first_key; i <= last && i < static_cast<long>(argc); i += spec.step) {
    if (!visit(static_cast<size_t>(i))) return;
  }
}

// Applies an expiry decided by the leader: args = [key, expire_at_ms].
// Exposed for the server's active-expiry cycle and for tests.
void apply_expiry(Store& store, std::string_view key, int64_t expire_at_ms, int64_t now_ms);

// WAIT's argument checks, in Redis's order: the error text, or "" when the
// arguments are valid.
std::string_view wait_arguments_error(std::span<const std::string_view> args);

// Case-insensitive ASCII comparison used for options ("EX", "nx", ...).
bool iequals(std::string_view a, std::string_view b);

}  // namespace shoal::kv
