// The keyspace family: DEL, EXISTS, TYPE, RENAME, COPY, KEYS, SCAN, OBJECT,
// ... Semantics and replies follow Redis 7.0 (db.c, object.c).
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "kv/glob.h"
#include "kv/handlers.h"
#include "kv/numbers.h"

namespace shoal::kv {

void cmd_del(CommandContext& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.args.size(); ++i) {
    if (c.store.find_for_write(c.args[i], c.now_ms) && c.store.erase(c.args[i])) ++n;
  }
  c.reply.integer(n);
}

void cmd_exists(CommandContext& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.args.size(); ++i) {
    if (c.store.find(c.args[i], c.now_ms, /*touch=*/false)) ++n;
  }
  c.reply.integer(n);
}

void cmd_touch(CommandContext& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.args.size(); ++i) {
    if (c.store.find(c.args[i], c.now_ms)) ++n;
  }
  c.reply.integer(n);
}

void cmd_type(CommandContext& c) {
  auto r = c.store.find(c.args[1], c.now_ms, /*touch=*/false);
  c.reply.simple(r ? type_name(r->type) : "none");
}

namespace {

void rename_generic(CommandContext& c, bool nx) {
  std::string_view from = c.args[1], to = c.args[2];
  auto src = c.store.find_for_write(from, c.now_ms);
  if (!src) return c.reply.error(kErrNoSuchKey);
  if (from == to) {
    if (nx)
      c.reply.integer(0);
    else
      c.reply.ok();
    return;
  }
  if (c.store.find_for_write(to, c.now_ms)) {
    if (nx) return c.reply.integer(0);
  }
  src = c.store.find(from, c.now_ms);  // re-read: the lookup above may have moved memory
  std::string payload(src->payload);
  Record moved = *src;
  moved.payload = payload;
  c.store.erase(from);
  c.store.put(to, moved);
  if (nx)
    c.reply.integer(1);
  else
    c.reply.ok();
}

}  // namespace

void cmd_rename(CommandContext& c) { rename_generic(c, false); }
void cmd_renamenx(CommandContext& c) { rename_generic(c, true); }

void cmd_copy(CommandContext& c) {
  bool replace = false;
  int64_t db = 0;
  for (size_t j = 3; j < c.args.size(); ++j) {
    size_t additional = c.args.size() - j - 1;
    if (iequals(c.args[j], "replace")) {
      replace = true;
    } else if (iequals(c.args[j], "db") && additional) {
      if (!parse_int32_or_reply(c.reply, c.args[j + 1], &db)) return;
      if (db < 0 || db >= 16) return c.reply.error("ERR DB index is out of range");
      ++j;
    } else {
      return c.reply.error(kErrSyntax);
    }
  }
  // Shoal has one database per tenant, like a Redis Cluster node.
  if (db != 0) {
    return c.reply.error("ERR Copying to another database is not allowed in cluster mode");
  }
  if (c.args[1] == c.args[2]) {
    return c.reply.error("ERR source and destination objects are the same");
  }
  auto src = c.store.find_for_write(c.args[1], c.now_ms);
  if (!src) return c.reply.integer(0);
  if (c.store.find_for_write(c.args[2], c.now_ms) && !replace) return c.reply.integer(0);
  src = c.store.find(c.args[1], c.now_ms);
  std::string payload(src->payload);
  Record copy = *src;
  copy.payload = payload;
  c.store.put(c.args[2], copy);
  c.reply.integer(1);
}

void cmd_keys(CommandContext& c) {
  std::string_view pattern = c.args[1];
  bool all = pattern == "*";
  std::vector<std::string> keys;
  c.store.engine().for_each([&](std::string_view key, std::string_view value) {
    auto rec = decode_record(value);
    if (rec && rec->has_expiry() && rec->expire_at_ms <= c.now_ms) return;
    if (all || glob_match(pattern, key)) keys.emplace_back(key);
  });
  c.reply.array(keys.size());
  for (const auto& k : keys) c.reply.bulk(k);
}

namespace {

// Redis parseScanCursorOrReply: strtoul semantics (so "-1" wraps).
bool parse_cursor(std::string_view s, uint64_t* out) {
  std::string buf(s);
  if (!buf.empty() && std::isspace(static_cast<unsigned char>(buf[0]))) return false;
  errno = 0;
  char* end = nullptr;
  *out = std::strtoul(buf.c_str(), &end, 10);
  return *end == '\0' && errno != ERANGE;
}

}  // namespace

void cmd_scan(CommandContext& c) {
  uint64_t cursor;
  if (!parse_cursor(c.args[1], &cursor)) return c.reply.error("ERR invalid cursor");
  int64_t count = 10;
  std::string_view pattern, type;
  bool use_pattern = false, use_type = false;
  for (size_t i = 2; i < c.args.size();) {
    size_t left = c.args.size() - i;
    if (iequals(c.args[i], "count") && left >= 2) {
      if (!parse_int64(c.args[i + 1], &count)) return c.reply.error(kErrNotInteger);
      if (count < 1) return c.reply.error(kErrSyntax);
    } else if (iequals(c.args[i], "match") && left >= 2) {
      pattern = c.args[i + 1];
      use_pattern = pattern != "*";
    } else if (iequals(c.args[i], "type") && left >= 2) {
      type = c.args[i + 1];
      use_type = true;
    } else {
      return c.reply.error(kErrSyntax);
    }
    i += 2;
  }
  std::vector<std::string> keys;
  uint64_t next =
      c.store.engine().scan(cursor, static_cast<size_t>(std::min<int64_t>(count, 1 << 20)),
                            [&](std::string_view key, std::string_view value) {
                              auto rec = decode_record(value);
                              if (!rec || (rec->has_expiry() && rec->expire_at_ms <= c.now_ms))
                                return;
                              if (use_pattern && !glob_match(pattern, key)) return;
                              if (use_type && !iequals(type, type_name(rec->type))) return;
                              keys.emplace_back(key);
                            });
  c.reply.array(2);
  c.reply.bulk(std::to_string(next));
  c.reply.array(keys.size());
  for (const auto& k : keys) c.reply.bulk(k);
}

void cmd_randomkey(CommandContext& c) {
  // A few tries to skip keys that expired but were not yet deleted.
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto key = c.store.engine().random_key(c.random_bits + attempt * 0x9E3779B97F4A7C15ull);
    if (!key) break;
    if (c.store.find(*key, c.now_ms)) return c.reply.bulk(*key);
  }
  c.reply.null();
}

void cmd_dbsize(CommandContext& c) { c.reply.integer(static_cast<int64_t>(c.store.size())); }

void cmd_flushdb(CommandContext& c) {
  if (c.args.size() > 2 ||
      (c.args.size() == 2 && !iequals(c.args[1], "sync") && !iequals(c.args[1], "async"))) {
    return c.reply.error(kErrSyntax);
  }
  c.store.clear();
  c.reply.ok();
}

void cmd_object_encoding(CommandContext& c) {
  auto r = c.store.find(c.args[2], c.now_ms, /*touch=*/false);
  if (!r) return c.reply.null();
  c.reply.bulk(encoding_name(r->encoding));
}

void cmd_object_freq(CommandContext& c) {
  auto r = c.store.find(c.args[2], c.now_ms, /*touch=*/false);
  if (!r) return c.reply.null();
  c.reply.error(
      "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
      "that when switching between policies at runtime LRU and LFU data will take some time to "
      "adjust.");
}

void cmd_object_idletime(CommandContext& c) {
  auto r = c.store.find(c.args[2], c.now_ms, /*touch=*/false);
  if (!r) return c.reply.null();
  c.reply.integer(c.store.idle_seconds(c.args[2], c.now_ms).value_or(0));
}

void cmd_object_refcount(CommandContext& c) {
  auto r = c.store.find(c.args[2], c.now_ms, /*touch=*/false);
  if (!r) return c.reply.null();
  c.reply.integer(1);
}

void cmd_object_help(CommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Prints this help.",
  };
  c.reply.simple_lines(kLines);
}

void cmd_internal_expire(CommandContext& c) {
  int64_t at;
  if (!parse_int64(c.args[2], &at)) return c.reply.error(kErrNotInteger);
  c.reply.integer(c.store.expire_if_due(c.args[1], at, c.now_ms) ? 1 : 0);
}

void apply_expiry(Store& store, std::string_view key, int64_t expire_at_ms, int64_t now_ms) {
  store.expire_if_due(key, expire_at_ms, now_ms);
}

}  // namespace shoal::kv
