// LCS: longest common subsequence of two string values (Redis 7.0 t_string.c),
// with the same dynamic-programming table, the same backtracking order (so
// IDX ranges come out identically) and the same memory guard.
#include <vector>

#include "kv/handlers.h"
#include "kv/numbers.h"

namespace shoal::kv {
namespace {

struct LcsOptions {
  bool len = false, idx = false, with_match_len = false;
  int64_t min_match_len = 0;
};

bool parse_lcs_options(CommandContext& c, LcsOptions* o) {
  for (size_t j = 3; j < c.args.size(); ++j) {
    std::string_view opt = c.args[j];
    size_t more = c.args.size() - 1 - j;
    if (iequals(opt, "idx")) {
      o->idx = true;
    } else if (iequals(opt, "len")) {
      o->len = true;
    } else if (iequals(opt, "withmatchlen")) {
      o->with_match_len = true;
    } else if (iequals(opt, "minmatchlen") && more) {
      if (!parse_int64(c.args[j + 1], &o->min_match_len)) {
        c.reply.error(kErrNotInteger);
        return false;
      }
      if (o->min_match_len < 0) o->min_match_len = 0;
      ++j;
    } else {
      c.reply.error(kErrSyntax);
      return false;
    }
  }
  if (o->idx && o->len) {
    c.reply.error("ERR If you want both the length and indexes, please just use IDX.");
    return false;
  }
  return true;
}

struct Range {
  uint32_t a_start, a_end, b_start, b_end;
};

}  // namespace

void cmd_lcs(CommandContext& c) {
  auto ra = c.store.find(c.args[1], c.now_ms);
  auto rb = c.store.find(c.args[2], c.now_ms);
  if ((ra && ra->type != ValueType::kString) || (rb && rb->type != ValueType::kString)) {
    return c.reply.error("ERR The specified keys must contain string values");
  }
  std::string a = ra ? std::string(ra->payload) : std::string();
  std::string b = rb ? std::string(rb->payload) : std::string();
  LcsOptions opt;
  if (!parse_lcs_options(c, &opt)) return;
  const uint64_t alen = a.size(), blen = b.size();
  const uint64_t cells = (alen + 1) * (blen + 1);
  if (cells * sizeof(uint32_t) > static_cast<uint64_t>(kProtoMaxBulkLen)) {
    return c.reply.error(
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  std::vector<uint32_t> dp(cells, 0);
  auto at = [&](uint64_t i, uint64_t j) -> uint32_t& { return dp[j + i * (blen + 1)]; };
  for (uint64_t i = 1; i <= alen; ++i) {
    for (uint64_t j = 1; j <= blen; ++j) {
      at(i, j) = a[i - 1] == b[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  uint32_t total = at(alen, blen);
  std::string result(total, '\0');
  std::vector<Range> ranges;
  uint32_t idx = total;
  uint64_t i = alen, j = blen;
  uint32_t as = static_cast<uint32_t>(alen), ae = 0, bs = 0, be = 0;  // as == alen: no range
  bool compute = opt.idx || !opt.len;
  while (compute && i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      result[idx - 1] = a[i - 1];
      if (as == alen) {
        as = ae = static_cast<uint32_t>(i - 1);
        bs = be = static_cast<uint32_t>(j - 1);
      } else if (as == i && bs == j) {
        --as;
        --bs;
      } else {
        emit = true;
      }
      if (as == 0 || bs == 0) emit = true;
      --idx, --i, --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1))
        --i;
      else
        --j;
      if (as != alen) emit = true;
    }
    if (emit) {
      uint32_t match_len = ae - as + 1;
      if (opt.min_match_len == 0 || match_len >= opt.min_match_len) {
        ranges.push_back({as, ae, bs, be});
      }
      as = static_cast<uint32_t>(alen);
    }
  }
  if (opt.idx) {
    c.reply.map(2);
    c.reply.bulk("matches");
    c.reply.array(ranges.size());
    for (const auto& r : ranges) {
      c.reply.array(opt.with_match_len ? 3 : 2);
      c.reply.array(2);
      c.reply.integer(r.a_start);
      c.reply.integer(r.a_end);
      c.reply.array(2);
      c.reply.integer(r.b_start);
      c.reply.integer(r.b_end);
      if (opt.with_match_len) c.reply.integer(r.a_end - r.a_start + 1);
    }
    c.reply.bulk("len");
    c.reply.integer(total);
  } else if (opt.len) {
    c.reply.integer(total);
  } else {
    c.reply.bulk(result);
  }
}

}  // namespace shoal::kv
