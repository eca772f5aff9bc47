// CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT: the keys of one hash slot in this
// shard. The node core routes them to the shard that owns the slot.
#include "base/coding.h"
#include "kv/handlers.h"

namespace shoal::kv {
// Redis 7 (cluster.c): arguments that are not integers get the generic
// integer error; integers out of range get the command's own error.
void cmd_cluster_countkeysinslot(CommandContext& c) {
  int64_t slot = 0;
  if (!parse_decimal_int64(c.args[2], &slot)) return c.reply.error(kErrNotInteger);
  if (slot < 0 || slot >= kSlotCount) return c.reply.error("ERR Invalid slot");
  c.reply.integer(
      static_cast<int64_t>(c.store.engine().count_in_slot(Slot(static_cast<uint16_t>(slot)))));
}

void cmd_cluster_getkeysinslot(CommandContext& c) {
  int64_t slot = 0, count = 0;
  if (!parse_decimal_int64(c.args[2], &slot) || !parse_decimal_int64(c.args[3], &count)) {
    return c.reply.error(kErrNotInteger);
  }
  if (slot < 0 || slot >= kSlotCount || count < 0) {
    return c.reply.error("ERR Invalid slot or number of keys");
  }
  std::vector<std::string> keys;
  c.store.engine().scan_slot(
      Slot(static_cast<uint16_t>(slot)), static_cast<size_t>(std::min<int64_t>(count, 1 << 20)),
      [&](std::string_view key, std::string_view) { keys.emplace_back(key); });
  c.reply.array(keys.size());
  for (const auto& k : keys) c.reply.bulk(k);
}

}  // namespace shoal::kv
