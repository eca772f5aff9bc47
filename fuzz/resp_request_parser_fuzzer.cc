// libFuzzer target for resp::RequestParser (src/resp/request_parser.h).
//
// Input layout (so that seeds stay readable RESP with a 2-byte header):
//   byte 0     flags: bit 0 = client authenticated, bit 1 = small limits
//   byte 1     k = number of chunk sizes (taken mod 9)
//   2k bytes   chunk sizes, little-endian uint16 (0 is read as 1)
//   the rest   the bytes the client sends
//
// The payload is parsed twice: once whole, and once fed in chunks of the
// given sizes (cycled), following the parser's contract (drop consumed() bytes
// after each command, append and call again after kNeedMore). Each parse()
// call sees an exactly-sized heap copy of the pending bytes, so ASan catches
// any read past the end, and the copy moves on every call, which the contract
// allows (the parser keeps offsets, not pointers).
//
// Invariants checked (a violation aborts, which libFuzzer reports):
//   * kCommand consumes at least 1 and at most buffer-size bytes;
//   * multibulk arguments lie inside the consumed bytes of the buffer;
//   * kError carries a "ERR Protocol error: " text;
//   * bytes_wanted() never exceeds a bulk length plus CRLF;
//   * both ways of feeding produce the same commands and the same final
//     error -- except that the "too big ..." limits on a pending line depend
//     on how much arrived before its terminator (as in Redis), so a side may
//     stop early with such an error, after a prefix of the other's commands.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "resp/request_parser.h"

namespace {

using shoal::resp::ParserLimits;
using shoal::resp::RequestParser;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;  // empty: no error (stopped needing more bytes)
};

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

bool is_length_limit_error(const std::string& e) {
  return starts_with(e, "ERR Protocol error: too big ");
}

// Parses every complete command in `pending` (dropping consumed bytes).
// Returns false once the parser reports an error.
bool drain(RequestParser& parser, std::string& pending, bool authenticated,
           int64_t max_bulk, Outcome* out) {
  while (true) {
    // An exactly-sized copy: any read past the end is a heap overflow.
    const size_t n = pending.size();
    std::unique_ptr<char[]> copy(new char[n == 0 ? 1 : n]);
    if (n) std::memcpy(copy.get(), pending.data(), n);
    const std::string_view buf(copy.get(), n);

    switch (parser.parse(buf, authenticated)) {
      case RequestParser::Result::kNeedMore:
        check(parser.bytes_wanted() <= static_cast<size_t>(max_bulk) + 2,
              "bytes_wanted() beyond the bulk limit");
        return true;
      case RequestParser::Result::kError:
        check(starts_with(parser.error(), "ERR Protocol error: "), "error text");
        out->error = parser.error();
        return false;
      case RequestParser::Result::kCommand: {
        const size_t used = parser.consumed();
        check(used >= 1, "command consumed no bytes");
        check(used <= n, "consumed() beyond the buffer");
        std::vector<std::string> args;
        for (std::string_view a : parser.args()) {
          if (buf[0] == '*') {
            check(a.data() >= buf.data() && a.data() + a.size() <= buf.data() + used,
                  "multibulk argument outside the consumed bytes");
          } else {
            check(a.size() <= used, "inline argument longer than its line");
          }
          args.emplace_back(a);
        }
        out->commands.push_back(std::move(args));
        pending.erase(0, used);
        break;
      }
    }
  }
}

Outcome parse_whole(std::string_view payload, bool authenticated, const ParserLimits& limits) {
  RequestParser parser(limits);
  std::string pending(payload);
  Outcome out;
  drain(parser, pending, authenticated, limits.max_bulk_len, &out);
  return out;
}

Outcome parse_chunked(std::string_view payload, const std::vector<size_t>& chunks,
                      bool authenticated, const ParserLimits& limits) {
  RequestParser parser(limits);
  std::string pending;
  Outcome out;
  size_t pos = 0;
  for (size_t i = 0; pos < payload.size(); ++i) {
    size_t len = chunks.empty() ? payload.size() : chunks[i % chunks.size()];
    len = std::min(len, payload.size() - pos);
    pending.append(payload.substr(pos, len));
    pos += len;
    if (!drain(parser, pending, authenticated, limits.max_bulk_len, &out)) break;
  }
  return out;
}

bool is_prefix(const Outcome& shorter, const Outcome& longer) {
  if (shorter.commands.size() > longer.commands.size()) return false;
  for (size_t i = 0; i < shorter.commands.size(); ++i) {
    if (shorter.commands[i] != longer.commands[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool authenticated = data[0] & 1;
  const bool small_limits = data[0] & 2;
  const size_t k = data[1] % 9;
  if (size < 2 + 2 * k) return 0;
  std::vector<size_t> chunks;
  for (size_t i = 0; i < k; ++i) {
    size_t c = data[2 + 2 * i] | (static_cast<size_t>(data[3 + 2 * i]) << 8);
    chunks.push_back(c == 0 ? 1 : c);
  }
  const std::string_view payload(reinterpret_cast<const char*>(data) + 2 + 2 * k,
                                 size - 2 - 2 * k);

  ParserLimits limits;
  if (small_limits) {  // reach every limit with short inputs
    limits.max_bulk_len = 64;
    limits.max_multibulk_len = 16;
    limits.max_inline_len = 32;
    limits.unauthenticated_max_multibulk = 4;
    limits.unauthenticated_max_bulk = 8;
  }

  const Outcome whole = parse_whole(payload, authenticated, limits);
  const Outcome chunked = parse_chunked(payload, chunks, authenticated, limits);

  if (whole.commands == chunked.commands && whole.error == chunked.error) return 0;
  // They may differ only through a "too big" limit on a pending line, and
  // then the side that stopped first must have stopped at such an error,
  // after a prefix of the other side's commands.
  const bool whole_first = whole.commands.size() < chunked.commands.size() ||
                           (whole.commands.size() == chunked.commands.size() &&
                            is_length_limit_error(whole.error));
  const Outcome& first = whole_first ? whole : chunked;
  const Outcome& other = whole_first ? chunked : whole;
  check(is_length_limit_error(first.error), "whole vs chunked: different outcomes");
  check(is_prefix(first, other), "whole vs chunked: different commands before a limit");
  return 0;
}
