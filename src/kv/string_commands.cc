// The string family: GET, SET and friends, counters, ranges. Semantics,
// replies and error texts follow Redis 7.0 (t_string.c).
#include <climits>
#include <cmath>

#include "kv/handlers.h"
#include "kv/numbers.h"

namespace shoal::kv {
namespace {

enum SetFlags : uint32_t {
  kNx = 1 << 0,
  kXx = 1 << 1,
  kGet = 1 << 2,
  kKeepTtl = 1 << 3,
  kPersist = 1 << 4,
  kEx = 1 << 5,
  kPx = 1 << 6,
  kExat = 1 << 7,
  kPxat = 1 << 8,
};
constexpr uint32_t kAnyExpiry = kEx | kPx | kExat | kPxat;
enum class OptMode { kSet, kGetex };

// Parses SET / GETEX options from args[first..]: Redis's
// parseExtendedStringArgumentsOrReply, including which combinations conflict.
bool parse_set_options(CommandContext& c, size_t first, OptMode mode, uint32_t* flags,
                       std::string_view* expire) {
  const auto& a = c.args;
  for (size_t j = first; j < a.size(); ++j) {
    std::string_view opt = a[j];
    bool has_next = j + 1 < a.size();
    bool is_set = mode == OptMode::kSet;
    uint32_t f = *flags;
    if (iequals(opt, "nx") && !(f & kXx) && is_set) {
      *flags |= kNx;
    } else if (iequals(opt, "xx") && !(f & kNx) && is_set) {
      *flags |= kXx;
    } else if (iequals(opt, "get") && is_set) {
      *flags |= kGet;
    } else if (iequals(opt, "keepttl") && !(f & kPersist) && !(f & kAnyExpiry) && is_set) {
      *flags |= kKeepTtl;
    } else if (iequals(opt, "persist") && !is_set && !(f & kAnyExpiry) && !(f & kKeepTtl)) {
      *flags |= kPersist;
    } else if (has_next && !(f & (kKeepTtl | kPersist)) &&
               ((iequals(opt, "ex") && !(f & (kExat | kPx | kPxat))) ||
                (iequals(opt, "px") && !(f & (kEx | kExat | kPxat))) ||
                (iequals(opt, "exat") && !(f & (kEx | kPx | kPxat))) ||
                (iequals(opt, "pxat") && !(f & (kEx | kExat | kPx))))) {
      if (iequals(opt, "ex")) *flags |= kEx;
      if (iequals(opt, "px")) *flags |= kPx;
      if (iequals(opt, "exat")) *flags |= kExat;
      if (iequals(opt, "pxat")) *flags |= kPxat;
      *expire = a[++j];
    } else {
      c.reply.error(kErrSyntax);
      return false;
    }
  }
  return true;
}

// Redis's getExpireMillisecondsOrReply: absolute expiry in ms, or an error.
bool expire_millis(CommandContext& c, std::string_view arg, uint32_t flags, bool seconds,
                   int64_t* out) {
  int64_t ms;
  if (!parse_int64(arg, &ms)) {
    c.reply.error(kErrNotInteger);
    return false;
  }
  if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) {
    c.reply.error(invalid_expire_error(c));
    return false;
  }
  if (seconds) ms *= 1000;
  if (flags & (kEx | kPx)) {
    if (ms > LLONG_MAX - c.now_ms)
      ms = -1;  // overflow: reported below
    else
      ms += c.now_ms;
  }
  if (ms <= 0) {
    c.reply.error(invalid_expire_error(c));
    return false;
  }
  *out = ms;
  return true;
}

void put_string(CommandContext& c, std::string_view key, std::string_view value, Encoding enc,
                int64_t expire_at) {
  c.store.put(key, Record{ValueType::kString, enc, expire_at, value});
}

// The common core of SET, SETNX, SETEX, PSETEX (Redis setGenericCommand).
void set_generic(CommandContext& c, uint32_t flags, std::string_view key, std::string_view value,
                 std::string_view expire, bool seconds, bool int_reply) {
  int64_t expire_at = kNoExpiry;
  if (!expire.empty() || (flags & kAnyExpiry)) {
    if (!expire_millis(c, expire, flags, seconds, &expire_at)) return;
  }
  // A plain SET overwrites whatever is there, expired or not, so it needs no
  // lookup before the write (the lookup was the largest cost of applying a
  // SET); put() replaces the old value and its expiry in one engine call.
  if (!(flags & (kGet | kNx | kXx | kKeepTtl))) {
    put_string(c, key, value, encoding_for_new_string(value), expire_at);
    if (int_reply)
      c.reply.integer(1);
    else
      c.reply.ok();
    return;
  }
  std::optional<Record> old = c.store.find_for_write(key, c.now_ms);
  if (flags & kGet) {
    // With GET a non-string is an error; without GET, SET overwrites any type.
    if (old && old->type != ValueType::kString) return c.reply.error(kErrWrongType);
    if (old)
      c.reply.bulk(old->payload);
    else
      c.reply.null();
  }
  bool found = old.has_value();
  if (((flags & kNx) && found) || ((flags & kXx) && !found)) {
    if (!(flags & kGet)) {
      if (int_reply)
        c.reply.integer(0);
      else
        c.reply.null();
    }
    return;
  }
  if ((flags & kKeepTtl) && old) expire_at = old->expire_at_ms;
  put_string(c, key, value, encoding_for_new_string(value), expire_at);
  if (!(flags & kGet)) {
    if (int_reply)
      c.reply.integer(1);
    else
      c.reply.ok();
  }
}

bool check_length(CommandContext& c, uint64_t size, uint64_t append) {
  if (size + append > static_cast<uint64_t>(kProtoMaxBulkLen)) {
    c.reply.error(kErrStringTooLong);
    return false;
  }
  return true;
}

void incr_decr(CommandContext& c, int64_t incr) {
  std::string_view key = c.args[1];
  std::optional<Record> old;
  if (!write_string_lookup(c, key, &old)) return;
  int64_t value = 0;
  if (old && !parse_int64(old->payload, &value)) {
    c.reply.error(kErrNotInteger);
    return;
  }
  if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
      (incr > 0 && value > 0 && incr > (LLONG_MAX - value))) {
    c.reply.error("ERR increment or decrement would overflow");
    return;
  }
  value += incr;
  std::string s = format_int64(value);
  put_string(c, key, s, Encoding::kInt, old ? old->expire_at_ms : kNoExpiry);
  c.reply.integer(value);
}

}  // namespace

bool read_string(CommandContext& c, std::string_view key, std::optional<Record>* out) {
  *out = c.store.find(key, c.now_ms);
  if (*out && (*out)->type != ValueType::kString) {
    c.reply.error(kErrWrongType);
    return false;
  }
  return true;
}

// Like read_string, but on the write path (deletes an expired key first).
// Returns false (without replying) for a non-string value.
bool write_string_lookup(CommandContext& c, std::string_view key, std::optional<Record>* out) {
  *out = c.store.find_for_write(key, c.now_ms);
  if (*out && (*out)->type != ValueType::kString) {
    c.reply.error(kErrWrongType);
    return false;
  }
  return true;
}

std::string invalid_expire_error(const CommandContext& c) {
  return "ERR invalid expire time in '" + std::string(c.spec.name) + "' command";
}

void cmd_get(CommandContext& c) {
  std::optional<Record> r;
  if (!read_string(c, c.args[1], &r)) return;
  if (r)
    c.reply.bulk(r->payload);
  else
    c.reply.null();
}

void cmd_set(CommandContext& c) {
  uint32_t flags = 0;
  std::string_view expire;
  if (!parse_set_options(c, 3, OptMode::kSet, &flags, &expire)) return;
  bool seconds = flags & (kEx | kExat);
  set_generic(c, flags, c.args[1], c.args[2], expire, seconds, false);
}

void cmd_setnx(CommandContext& c) { set_generic(c, kNx, c.args[1], c.args[2], {}, false, true); }

void cmd_setex(CommandContext& c) {
  set_generic(c, kEx, c.args[1], c.args[3], c.args[2], true, false);
}

void cmd_psetex(CommandContext& c) {
  set_generic(c, kPx, c.args[1], c.args[3], c.args[2], false, false);
}

void cmd_getset(CommandContext& c) {
  std::optional<Record> old;
  if (!write_string_lookup(c, c.args[1], &old)) return;
  if (old)
    c.reply.bulk(old->payload);
  else
    c.reply.null();
  std::string_view v = c.args[2];
  put_string(c, c.args[1], v, encoding_for_new_string(v), kNoExpiry);
}

void cmd_getdel(CommandContext& c) {
  std::optional<Record> old;
  if (!write_string_lookup(c, c.args[1], &old)) return;
  if (!old) {
    c.reply.null();
    return;
  }
  c.reply.bulk(old->payload);
  c.store.erase(c.args[1]);
}

void cmd_getex(CommandContext& c) {
  uint32_t flags = 0;
  std::string_view expire;
  if (!parse_set_options(c, 2, OptMode::kGetex, &flags, &expire)) return;
  std::optional<Record> r;
  if (!write_string_lookup(c, c.args[1], &r)) return;
  if (!r) {
    c.reply.null();
    return;
  }
  int64_t expire_at = kNoExpiry;
  if ((flags & kAnyExpiry) && !expire_millis(c, expire, flags, flags & (kEx | kExat), &expire_at)) {
    return;
  }
  c.reply.bulk(r->payload);
  std::string payload(r->payload);
  Record updated = *r;
  updated.payload = payload;
  if ((flags & (kExat | kPxat)) && expire_at <= c.now_ms) {
    c.store.erase(c.args[1]);
  } else if (flags & kAnyExpiry) {
    updated.expire_at_ms = expire_at;
    c.store.put(c.args[1], updated);
  } else if ((flags & kPersist) && r->has_expiry()) {
    updated.expire_at_ms = kNoExpiry;
    c.store.put(c.args[1], updated);
  }
}

void cmd_mget(CommandContext& c) {
  c.reply.array(c.args.size() - 1);
  for (size_t i = 1; i < c.args.size(); ++i) {
    auto r = c.store.find(c.args[i], c.now_ms);
    if (r && r->type == ValueType::kString)
      c.reply.bulk(r->payload);
    else
      c.reply.null();
  }
}

static bool mset_arity_ok(CommandContext& c) {
  if (c.args.size() % 2 == 0) {
    c.reply.error("ERR wrong number of arguments for '" + std::string(c.spec.name) + "' command");
    return false;
  }
  return true;
}

void cmd_mset(CommandContext& c) {
  if (!mset_arity_ok(c)) return;
  for (size_t i = 1; i + 1 < c.args.size(); i += 2) {
    c.store.find_for_write(c.args[i], c.now_ms);
    put_string(c, c.args[i], c.args[i + 1], encoding_for_new_string(c.args[i + 1]), kNoExpiry);
  }
  c.reply.ok();
}

void cmd_msetnx(CommandContext& c) {
  if (!mset_arity_ok(c)) return;
  for (size_t i = 1; i + 1 < c.args.size(); i += 2) {
    if (c.store.find_for_write(c.args[i], c.now_ms)) {
      c.reply.integer(0);
      return;
    }
  }
  for (size_t i = 1; i + 1 < c.args.size(); i += 2) {
    put_string(c, c.args[i], c.args[i + 1], encoding_for_new_string(c.args[i + 1]), kNoExpiry);
  }
  c.reply.integer(1);
}

void cmd_incr(CommandContext& c) { incr_decr(c, 1); }
void cmd_decr(CommandContext& c) { incr_decr(c, -1); }

void cmd_incrby(CommandContext& c) {
  int64_t incr;
  if (!parse_int64(c.args[2], &incr)) return c.reply.error(kErrNotInteger);
  incr_decr(c, incr);
}

void cmd_decrby(CommandContext& c) {
  int64_t incr;
  if (!parse_int64(c.args[2], &incr)) return c.reply.error(kErrNotInteger);
  if (incr == LLONG_MIN) return c.reply.error("ERR decrement would overflow");
  incr_decr(c, -incr);
}

void cmd_incrbyfloat(CommandContext& c) {
  std::optional<Record> old;
  if (!write_string_lookup(c, c.args[1], &old)) return;
  long double value = 0, incr = 0;
  if (old && !parse_long_double(old->payload, &value)) return c.reply.error(kErrNotFloat);
  if (!parse_long_double(c.args[2], &incr)) return c.reply.error(kErrNotFloat);
  value += incr;
  if (std::isnan(value) || std::isinf(value)) {
    return c.reply.error("ERR increment would produce NaN or Infinity");
  }
  std::string s = format_long_double(value);
  Encoding enc = s.size() <= 44 ? Encoding::kEmbstr : Encoding::kRaw;
  put_string(c, c.args[1], s, enc, old ? old->expire_at_ms : kNoExpiry);
  c.reply.bulk(s);
}

void cmd_append(CommandContext& c) {
  std::optional<Record> old;
  if (!write_string_lookup(c, c.args[1], &old)) return;
  std::string_view add = c.args[2];
  if (!old) {
    put_string(c, c.args[1], add, encoding_for_new_string(add), kNoExpiry);
    c.reply.integer(static_cast<int64_t>(add.size()));
    return;
  }
  if (!check_length(c, old->payload.size(), add.size())) return;
  std::string joined(old->payload);
  joined.append(add);
  put_string(c, c.args[1], joined, Encoding::kRaw, old->expire_at_ms);
  c.reply.integer(static_cast<int64_t>(joined.size()));
}

void cmd_strlen(CommandContext& c) {
  std::optional<Record> r;
  if (!read_string(c, c.args[1], &r)) return;
  c.reply.integer(r ? static_cast<int64_t>(r->payload.size()) : 0);
}

void cmd_getrange(CommandContext& c) {
  int64_t start, end;
  if (!parse_int64(c.args[2], &start) || !parse_int64(c.args[3], &end)) {
    return c.reply.error(kErrNotInteger);
  }
  std::optional<Record> r;
  if (!read_string(c, c.args[1], &r)) return;
  if (!r) return c.reply.bulk("");
  auto len = static_cast<int64_t>(r->payload.size());
  if (start < 0 && end < 0 && start > end) return c.reply.bulk("");
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return c.reply.bulk("");
  c.reply.bulk(r->payload.substr(start, end - start + 1));
}

void cmd_setrange(CommandContext& c) {
  int64_t offset;
  if (!parse_int64(c.args[2], &offset)) return c.reply.error(kErrNotInteger);
  if (offset < 0) return c.reply.error("ERR offset is out of range");
  std::string_view value = c.args[3];
  std::optional<Record> old;
  if (!write_string_lookup(c, c.args[1], &old)) return;
  if (!old && value.empty()) return c.reply.integer(0);
  if (old && value.empty()) return c.reply.integer(static_cast<int64_t>(old->payload.size()));
  if (!check_length(c, static_cast<uint64_t>(offset), value.size())) return;
  std::string s = old ? std::string(old->payload) : std::string();
  size_t need = static_cast<size_t>(offset) + value.size();
  if (s.size() < need) s.resize(need, '\0');
  s.replace(static_cast<size_t>(offset), value.size(), value);
  put_string(c, c.args[1], s, Encoding::kRaw, old ? old->expire_at_ms : kNoExpiry);
  c.reply.integer(static_cast<int64_t>(s.size()));
}

}  // namespace shoal::kv
