// The expire family: EXPIRE and friends, TTL and friends, PERSIST. Semantics
// follow Redis 7.0 (expire.c). Times are absolute Unix ms, decided with the
// applying entry's clock (`now_ms`), never with each replica's own.
#include <climits>

#include "kv/handlers.h"
#include "kv/numbers.h"

namespace shoal::kv {
namespace {

enum ExpireFlags : uint32_t { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };

bool parse_expire_flags(CommandContext& c, uint32_t* flags) {
  for (size_t j = 3; j < c.args.size(); ++j) {
    std::string_view o = c.args[j];
    if (iequals(o, "nx"))
      *flags |= kNx;
    else if (iequals(o, "xx"))
      *flags |= kXx;
    else if (iequals(o, "gt"))
      *flags |= kGt;
    else if (iequals(o, "lt"))
      *flags |= kLt;
    else {
      c.reply.error("ERR Unsupported option " + std::string(o));
      return false;
    }
  }
  uint32_t f = *flags;
  if ((f & kNx) && (f & (kXx | kGt | kLt))) {
    c.reply.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return false;
  }
  if ((f & kGt) && (f & kLt)) {
    c.reply.error("ERR GT and LT options at the same time are not compatible");
    return false;
  }
  return true;
}

// Redis expireGenericCommand. `base_ms` is now (relative) or 0 (absolute).
void expire_generic(CommandContext& c, int64_t base_ms, bool seconds) {
  uint32_t flags = 0;
  if (!parse_expire_flags(c, &flags)) return;
  int64_t when;
  if (!parse_int64(c.args[2], &when)) return c.reply.error(kErrNotInteger);
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
      return c.reply.error(invalid_expire_error(c));
    }
    when *= 1000;
  }
  if (when > LLONG_MAX - base_ms) return c.reply.error(invalid_expire_error(c));
  when += base_ms;
  std::string_view key = c.args[1];
  auto rec = c.store.find_for_write(key, c.now_ms);
  if (!rec) return c.reply.integer(0);
  if (flags) {
    int64_t current = rec->has_expiry() ? rec->expire_at_ms : -1;
    if ((flags & kNx) && current != -1) return c.reply.integer(0);
    if ((flags & kXx) && current == -1) return c.reply.integer(0);
    // No expiry counts as an infinite TTL.
    if ((flags & kGt) && (when <= current || current == -1)) return c.reply.integer(0);
    if ((flags & kLt) && current != -1 && when >= current) return c.reply.integer(0);
  }
  if (when <= c.now_ms) {
    c.store.erase(key);  // already expired: delete now, as Redis does
    return c.reply.integer(1);
  }
  std::string payload(rec->payload);
  Record updated = *rec;
  updated.payload = payload;
  updated.expire_at_ms = when;
  c.store.put(key, updated);
  c.reply.integer(1);
}

// TTL family: -2 missing, -1 no expiry.
void ttl_generic(CommandContext& c, bool ms, bool absolute) {
  auto rec = c.store.find(c.args[1], c.now_ms, /*touch=*/false);
  if (!rec) return c.reply.integer(-2);
  if (!rec->has_expiry()) return c.reply.integer(-1);
  int64_t ttl = absolute ? rec->expire_at_ms : rec->expire_at_ms - c.now_ms;
  if (ttl < 0) ttl = 0;
  // Redis rounds seconds to nearest for both TTL and EXPIRETIME.
  c.reply.integer(ms ? ttl : (ttl + 500) / 1000);
}

}  // namespace

void cmd_expire(CommandContext& c) { expire_generic(c, c.now_ms, true); }
void cmd_pexpire(CommandContext& c) { expire_generic(c, c.now_ms, false); }
void cmd_expireat(CommandContext& c) { expire_generic(c, 0, true); }
void cmd_pexpireat(CommandContext& c) { expire_generic(c, 0, false); }
void cmd_ttl(CommandContext& c) { ttl_generic(c, false, false); }
void cmd_pttl(CommandContext& c) { ttl_generic(c, true, false); }
void cmd_expiretime(CommandContext& c) { ttl_generic(c, false, true); }
void cmd_pexpiretime(CommandContext& c) { ttl_generic(c, true, true); }

void cmd_persist(CommandContext& c) {
  auto rec = c.store.find_for_write(c.args[1], c.now_ms);
  if (!rec || !rec->has_expiry()) return c.reply.integer(0);
  std::string payload(rec->payload);
  Record updated = *rec;
  updated.payload = payload;
  updated.expire_at_ms = kNoExpiry;
  c.store.put(c.args[1], updated);
  c.reply.integer(1);
}

}  // namespace shoal::kv
