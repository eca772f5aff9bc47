// Commands that run on several shards: keyspace-wide commands (fan-out) and,
// in proxy mode, per-key commands whose keys span shards (split).
#include <charconv>
#include <limits>
#include <memory>

#include "base/crc16.h"
#include "node/cluster_node.h"
#include "node/cluster_node_internal.h"

namespace shoal::node {
namespace {

using Kind = kv::RecordedReply::Kind;

// Gathers the results of sub-commands; calls `finish` after the last one.
struct Gather {
  std::vector<SubResult> parts;
  size_t remaining = 0;
  std::function<void(std::vector<SubResult>)> finish;
  Reply slot_done(size_t i, std::shared_ptr<Gather> self) {
    return [i, self = std::move(self)](Status s, kv::RecordedReply r) {
      self->parts[i] = {std::move(s), std::move(r)};
      if (--self->remaining == 0) self->finish(std::move(self->parts));
    };
  }
};

std::shared_ptr<Gather> make_gather(size_t n, std::function<void(std::vector<SubResult>)> fin) {
  auto g = std::make_shared<Gather>();
  g->parts.resize(n);
  g->remaining = n;
  g->finish = std::move(fin);
  return g;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool is_splittable(const kv::CommandSpec& spec) {
  return spec.name == "mget" || spec.name == "del" || spec.name == "unlink" ||
         spec.name == "exists" || spec.name == "touch";
}

std::optional<SubResult> first_failure(const std::vector<SubResult>& parts, bool is_write) {
  const SubResult* found = nullptr;
  bool any_applied = false;
  for (const auto& p : parts) {
    if (!p.first.is_ok()) {
      if (p.first.code() == StatusCode::kUnknownOutcome) return p;
      if (!found) found = &p;
    } else if (p.second.is_error()) {
      if (!found) found = &p;
    } else {
      any_applied = true;
    }
  }
  if (!found) return std::nullopt;
  // A write that applied on some shards and failed on others has not failed
  // (H18): its outcome, as one command, is neither done nor not done.
  if (is_write && any_applied) {
    return SubResult{Status::unknown_outcome("applied on some shards only"), {}};
  }
  return *found;
}

SubResult combine_sum(std::vector<SubResult> parts, bool is_write) {
  if (auto f = first_failure(parts, is_write)) return *f;
  int64_t sum = 0;
  for (const auto& p : parts) {
    const kv::RecordedReply& r = p.second;
    if (r.size() == 1 && r.item(0).kind == Kind::kInteger) sum += r.item(0).number;
  }
  kv::RecordedReply r;
  r.integer(sum);
  return {Status::ok(), std::move(r)};
}

SubResult combine_fan_out(std::string_view name, std::vector<SubResult> parts, uint64_t random) {
  bool is_write = name == "flushall" || name == "flushdb";
  if (auto f = first_failure(parts, is_write)) return *f;
  kv::RecordedReply out;
  if (name == "dbsize") return combine_sum(std::move(parts), false);
  if (name == "keys") {
    size_t n = 0;
    for (const auto& p : parts) n += p.second.empty() ? 0 : p.second.size() - 1;
    out.array(n);
    for (const auto& p : parts) {
      const kv::RecordedReply& r = p.second;
      for (size_t i = 1; i < r.size(); ++i) out.bulk(r.item(i).text);
    }
  } else if (name == "randomkey") {
    std::vector<const std::string*> keys;
    for (const auto& p : parts) {
      const kv::RecordedReply& r = p.second;
      if (r.size() == 1 && r.item(0).kind == Kind::kBulk) keys.push_back(&r.item(0).text);
    }
    if (keys.empty())
      out.null();
    else
      out.bulk(*keys[random % keys.size()]);
  } else {  // flushall, flushdb: every shard answered OK
    out.ok();
  }
  return {Status::ok(), std::move(out)};
}

std::vector<ShardId> ClusterNode::fan_out_targets() {
  std::vector<ShardId> targets;
  for (const auto& s : map_.shards) {
    replica::Replica* r = host_.replica(s.id);
    bool mine = r && r->is_leader();
    if (!options_.clustered || options_.mode == RoutingMode::kProxy || mine)
      targets.push_back(s.id);
  }
  return targets;
}

// SCAN over several shards. A storage engine's SCAN cursor is 1 + an order
// value whose top bits are the key's slot (order = slot << 48 | hash48, see
// storage/memory_engine.cc and rocks_engine.cc), so a shard's own cursor also
// names the shard: the composite cursor is the shard's cursor unchanged, and
// when a shard is done it points at the first slot of the next one. (An
// earlier inner * n + position encoding overflowed 64 bits for every shard
// past the first few.) `ranges[i]` is targets[i]'s slot range; targets are
// ordered by slot.
constexpr int kCursorSlotShift = 48;

static void scan_across(const std::vector<ShardId>& targets,
                        const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                        std::function<void(ShardId, std::vector<std::string>, Reply)> run,
                        std::vector<std::string> args, Reply done) {
  uint64_t cursor = 0;
  size_t n = targets.size();
  auto empty = [&done] {
    kv::RecordedReply r;
    r.array(2);
    r.bulk("0");
    r.array(0);
    done(Status::ok(), std::move(r));
  };
  if (n == 0) return empty();
  // A cursor that does not parse gets the handler's own error (Redis checks
  // the options and the cursor in its own order).
  if (!parse_u64(args[1], cursor)) return run(targets[0], std::move(args), std::move(done));
  size_t pos = 0;
  if (cursor != 0) {
    // The shard holding the cursor's slot; a cursor past a shard this node
    // does not cover (not one it handed out, or leadership moved) resumes
    // at the next shard it covers. A cursor past every shard still runs on
    // the last one (it finds no keys there) so that bad options get the
    // handler's errors.
    uint64_t slot = (cursor - 1) >> kCursorSlotShift;
    while (pos < n && ranges[pos].second < slot) ++pos;
    if (pos == n) {
      pos = n - 1;
    } else if (slot < ranges[pos].first) {
      cursor = 0;
    }
  }
  args[1] = std::to_string(cursor);
  uint64_t next_start = pos + 1 < n ? (ranges[pos + 1].first << kCursorSlotShift) + 1 : 0;
  run(targets[pos], std::move(args),
      [next_start, done = std::move(done)](Status s, kv::RecordedReply r) {
        uint64_t next = 0;
        if (!s.is_ok() || r.size() < 2 || r.item(0).kind != Kind::kArray ||
            !parse_u64(r.item(1).text, next)) {
          return done(std::move(s), std::move(r));
        }
        kv::RecordedReply out;
        out.array(2);
        out.bulk(std::to_string(next != 0 ? next : next_start));
        out.array(r.size() - 3);
        for (size_t i = 3; i < r.size(); ++i) out.bulk(r.item(i).text);
        done(Status::ok(), std::move(out));
      });
}

void ClusterNode::fan_out(Op op) {
  std::vector<ShardId> targets = fan_out_targets();
  auto run = [this, ctx = op.ctx, spec = op.spec](ShardId shard, std::vector<std::string> args,
                                                  Reply done) {
    const cluster::ShardInfo* s = shard_info(shard);
    run_on_shard(shard, Slot(s->first_slot), Op{spec, std::move(args), ctx, std::move(done), true},
                 0);
  };
  if (op.spec->name == "scan") {
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (ShardId id : targets) {
      const cluster::ShardInfo* s = shard_info(id);
      ranges.emplace_back(s->first_slot, s->last_slot);
    }
    return scan_across(targets, ranges, run, std::move(op.args), std::move(op.done));
  }
  if (targets.empty()) {
    return op.done(Status::ok(), combine_fan_out(op.spec->name, {}, 0).second);
  }
  std::string_view name = op.spec->name;
  uint64_t random = static_cast<uint64_t>(clock_.monotonic_ns()) * 0x9E3779B97F4A7C15ull;
  auto g = make_gather(targets.size(), [name, random, done = std::move(op.done)](auto parts) {
    auto [s, r] = combine_fan_out(name, std::move(parts), random);
    done(std::move(s), std::move(r));
  });
  for (size_t i = 0; i < targets.size(); ++i) run(targets[i], op.args, g->slot_done(i, g));
}

// Proxy mode: MGET/DEL/UNLINK/EXISTS/TOUCH whose keys span shards run as one
// sub-command per shard; MGET's values are put back in the client's order.
void ClusterNode::split_by_shard(Op op) {
  std::map<ShardId, std::vector<size_t>> by_shard;  // key argument positions
  for (size_t i = 1; i < op.args.size(); ++i) {
    by_shard[map_.shard_for_slot(key_slot(op.args[i]))->id].push_back(i);
  }
  std::vector<std::pair<ShardId, std::vector<size_t>>> groups(by_shard.begin(), by_shard.end());
  bool mget = op.spec->name == "mget";
  size_t nkeys = op.args.size() - 1;
  bool is_write = op.spec->is_write();
  auto g = make_gather(groups.size(),
                       [groups, mget, nkeys, is_write, done = std::move(op.done)](auto parts) {
                         if (!mget) {
                           auto [s, r] = combine_sum(std::move(parts), is_write);
                           return done(std::move(s), std::move(r));
                         }
                         if (auto f = first_failure(parts, false)) {
                           return done(std::move(f->first), std::move(f->second));
                         }
                         std::vector<const kv::RecordedReply::Item*> values(nkeys, nullptr);
                         for (size_t gi = 0; gi < groups.size(); ++gi) {
                           const kv::RecordedReply& r = parts[gi].second;
                           for (size_t k = 0; k < groups[gi].second.size() && k + 1 < r.size(); ++k)
                             values[groups[gi].second[k] - 1] = &r.item(k + 1);
                         }
                         kv::RecordedReply out;
                         out.array(nkeys);
                         for (const auto* v : values) {
                           if (v && v->kind == Kind::kBulk)
                             out.bulk(v->text);
                           else
                             out.null();
                         }
                         done(Status::ok(), std::move(out));
                       });
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    std::vector<std::string> args{op.args[0]};
    for (size_t pos : groups[gi].second) args.push_back(op.args[pos]);
    Slot slot = key_slot(args[1]);
    run_on_shard(groups[gi].first, slot,
                 Op{op.spec, std::move(args), op.ctx, g->slot_done(gi, g), true}, 0);
  }
}

}  // namespace shoal::node
