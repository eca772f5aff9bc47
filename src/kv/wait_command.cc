// WAIT numreplicas timeout. In a cluster the node core answers it from the
// replicas' progress (node/replica_wait.cc); this handler is what a shard
// without other replicas answers - a standalone server: 0, as Redis without
// replicas does - after Redis's argument checks.
#include "base/coding.h"
#include "kv/handlers.h"

namespace shoal::kv {

std::string_view wait_arguments_error(std::span<const std::string_view> args) {
  int64_t n = 0, timeout = 0;
  if (!parse_decimal_int64(args[1], &n)) return kErrNotInteger;
  if (!parse_decimal_int64(args[2], &timeout)) {
    return "ERR timeout is not an integer or out of range";
  }
  if (timeout < 0) return "ERR timeout is negative";
  return {};
}

void cmd_wait(CommandContext& c) {
  std::string_view err = wait_arguments_error(c.args);
  if (!err.empty()) return c.reply.error(err);
  c.reply.integer(0);
}

}  // namespace shoal::kv
