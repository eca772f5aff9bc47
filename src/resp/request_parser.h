// Incremental RESP request parser (multibulk and inline), with Redis's limits
// and Redis's protocol-error texts.
//
// The parser reads from a caller-owned buffer that holds the bytes received so
// far, starting at the first byte of the command being parsed. It keeps its
// position between calls, so a command split across any number of reads is
// parsed in linear time. Argument views point into that buffer (multibulk) or
// into the parser's own scratch (inline), and stay valid until the caller
// changes the buffer or calls parse() again.
//
// Contract for the caller:
//   * call parse(buf) with buf beginning at the start of the pending command;
//   * after kCommand, drop `consumed()` bytes from the front of the buffer
//     (after using args()) and call parse() again for the next command;
//   * after kNeedMore, append newly received bytes and call parse() again with
//     the same start (the parser remembers how far it got);
//   * after kError, reply with error() and close the connection, as Redis does.
//
// Not thread-safe; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::resp {

struct ParserLimits {
  int64_t max_bulk_len = 512LL * 1024 * 1024;  // proto-max-bulk-len
  int64_t max_multibulk_len = INT32_MAX;       // Redis: "invalid multibulk length" above INT_MAX
  size_t max_inline_len = 64 * 1024;           // PROTO_INLINE_MAX_SIZE
  // Before AUTH succeeds Redis refuses big requests (10 args, 16 KiB bulks).
  int64_t unauthenticated_max_multibulk = 10;
  int64_t unauthenticated_max_bulk = 16384;
};

class RequestParser {
 public:
  enum class Result { kCommand, kNeedMore, kError };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Parses from `buf` (the pending command starts at buf[0]).
  // `authenticated` selects the stricter limits for clients that have not
  // authenticated yet.
  Result parse(std::string_view buf, bool authenticated = true);

  // Valid after kCommand.
  const std::vector<std::string_view>& args() const { return args_; }
  size_t consumed() const { return consumed_; }
  // Valid after kError: the full error reply text, e.g.
  // "ERR Protocol error: invalid bulk length".
  const std::string& error() const { return error_; }
  // Bytes the parser knows it still needs for the current bulk (0 if unknown);
  // lets the caller size its read buffer for big values.
  size_t bytes_wanted() const { return bytes_wanted_; }

 private:
  Result parse_multibulk(std::string_view buf, bool authenticated);
  Result parse_inline(std::string_view buf);
  Result fail(const char* msg);
  void reset();

  ParserLimits limits_;
  // Multibulk state, as offsets from the command start so that it survives the
  // caller appending to (and reallocating) its buffer.
  bool in_command_ = false;
  size_t pos_ = 0;              // next unparsed byte
  int64_t args_expected_ = -1;  // from "*<n>", -1 until known
  int64_t bulk_len_ = -1;       // from "$<n>" of the current argument
  std::vector<std::pair<size_t, size_t>> arg_spans_;
  std::vector<std::string_view> args_;
  std::string inline_scratch_;
  std::vector<std::pair<size_t, size_t>> inline_spans_;
  size_t consumed_ = 0;
  size_t bytes_wanted_ = 0;
  std::string error_;
};

// Splits an inline command line like Redis's sdssplitargs: whitespace
// separated, "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single
// quotes' with \' only. Returns false on unbalanced quotes.
bool split_inline_args(std::string_view line, std::string* scratch,
                       std::vector<std::pair<size_t, size_t>>* spans);

}  // namespace shoal::resp
