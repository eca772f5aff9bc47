#include "resp/request_parser.h"

#include "base/coding.h"

#include <charconv>
#include <cstring>

namespace shoal::resp {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;
  }
}

// Fast path for the common header "<digits>\r\n" (no sign, no leading zero,
// at most 18 digits): parses in one pass without searching for '\r' first.
// Returns 1 parsed (*value, *cr set), 0 not simple (use the exact slow path),
// -1 need more bytes.
int scan_simple_number(std::string_view buf, size_t from, int64_t* value, size_t* cr) {
  size_t i = from;
  if (i >= buf.size()) return -1;
  if (buf[i] < '1' || buf[i] > '9') return 0;
  int64_t v = 0;
  for (; i < buf.size() && i - from < 18; ++i) {
    char ch = buf[i];
    if (ch >= '0' && ch <= '9') {
      v = v * 10 + (ch - '0');
    } else if (ch == '\r') {
      if (i + 1 >= buf.size()) return -1;
      *value = v;
      *cr = i;
      return 1;
    } else {
      return 0;
    }
  }
  return i >= buf.size() ? -1 : 0;
}

}  // namespace

bool split_inline_args(std::string_view line, std::string* scratch,
                       std::vector<std::pair<size_t, size_t>>* spans) {
  // Like sdssplitargs, a NUL ends the line.
  if (auto nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
  scratch->clear();
  spans->clear();
  size_t i = 0, n = line.size();
  auto at = [&](size_t k) { return k < n ? line[k] : '\0'; };
  while (true) {
    while (i < n && is_space(line[i])) ++i;
    if (i >= n) return true;
    size_t start = scratch->size();
    bool in_dq = false, in_sq = false, done = false;
    while (!done) {
      char c = at(i);
      if (in_dq) {
        if (c == '\\' && at(i + 1) == 'x' && hex_value(at(i + 2)) >= 0 &&
            hex_value(at(i + 3)) >= 0) {
          scratch->push_back(static_cast<char>(hex_value(at(i + 2)) * 16 + hex_value(at(i + 3))));
          i += 3;
        } else if (c == '\\' && at(i + 1) != '\0') {
          ++i;
          scratch->push_back(unescape(at(i)));
        } else if (c == '"') {
          // The closing quote must be followed by a space or nothing at all.
          if (at(i + 1) != '\0' && !is_space(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // unterminated quotes
        } else {
          scratch->push_back(c);
        }
      } else if (in_sq) {
        if (c == '\\' && at(i + 1) == '\'') {
          ++i;
          scratch->push_back('\'');
        } else if (c == '\'') {
          if (at(i + 1) != '\0' && !is_space(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          scratch->push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_dq = true;
            break;
          case '\'':
            in_sq = true;
            break;
          default:
            scratch->push_back(c);
        }
      }
      if (c != '\0') ++i;
    }
    spans->emplace_back(start, scratch->size() - start);
  }
}

void RequestParser::reset() {
  in_command_ = false;
  pos_ = 0;
  args_expected_ = -1;
  bulk_len_ = -1;
  arg_spans_.clear();
  bytes_wanted_ = 0;
}

RequestParser::Result RequestParser::fail(const char* msg) {
  error_ = std::string("ERR Protocol error: ") + msg;
  reset();
  return Result::kError;
}

RequestParser::Result RequestParser::parse(std::string_view buf, bool authenticated) {
  args_.clear();
  consumed_ = 0;
  if (!in_command_) {
    if (buf.empty()) return Result::kNeedMore;
    if (buf[0] != '*') return parse_inline(buf);
    in_command_ = true;
    pos_ = 0;
  }
  return parse_multibulk(buf, authenticated);
}

RequestParser::Result RequestParser::parse_inline(std::string_view buf) {
  size_t nl = buf.find('\n');
  if (nl == std::string_view::npos) {
    if (buf.size() > limits_.max_inline_len) return fail("too big inline request");
    return Result::kNeedMore;
  }
  std::string_view line = buf.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!split_inline_args(line, &inline_scratch_, &inline_spans_)) {
    return fail("unbalanced quotes in request");
  }
  for (auto [off, len] : inline_spans_) args_.emplace_back(inline_scratch_.data() + off, len);
  consumed_ = nl + 1;
  // An empty line yields a command with no arguments; the caller skips it.
  return Result::kCommand;
}

RequestParser::Result RequestParser::parse_multibulk(std::string_view buf, bool authenticated) {
  if (args_expected_ < 0) {
    int64_t fast_n = 0;
    size_t fast_cr = 0;
    if (scan_simple_number(buf, 1, &fast_n, &fast_cr) == 1 &&
        (authenticated || fast_n <= limits_.unauthenticated_max_multibulk) &&
        fast_n <= limits_.max_multibulk_len) {
      pos_ = fast_cr + 2;
      args_expected_ = fast_n;
      arg_spans_.reserve(static_cast<size_t>(std::min<int64_t>(fast_n, 1024)));
    }
  }
  if (args_expected_ < 0) {
    size_t cr = buf.find('\r', pos_);
    if (cr == std::string_view::npos || cr + 1 >= buf.size()) {
      if (buf.size() - pos_ > limits_.max_inline_len) return fail("too big mbulk count string");
      return Result::kNeedMore;
    }
    int64_t n = 0;
    if (!parse_decimal_int64(buf.substr(1, cr - 1), &n) || n > limits_.max_multibulk_len) {
      return fail("invalid multibulk length");
    }
    if (!authenticated && n > limits_.unauthenticated_max_multibulk) {
      return fail("unauthenticated multibulk length");
    }
    pos_ = cr + 2;
    if (n <= 0) {  // "*0" or "*-1": an empty command, skipped like Redis does
      consumed_ = pos_;
      reset();
      return Result::kCommand;
    }
    args_expected_ = n;
    // Reserve for at most a bounded number up front: "*2147483647" must not
    // allocate gigabytes before the arguments actually arrive.
    arg_spans_.reserve(static_cast<size_t>(std::min<int64_t>(n, 1024)));
  }
  while (static_cast<int64_t>(arg_spans_.size()) < args_expected_) {
    if (bulk_len_ < 0 && pos_ < buf.size() && buf[pos_] == '$') {
      int64_t fast_len = 0;
      size_t fast_cr = 0;
      if (scan_simple_number(buf, pos_ + 1, &fast_len, &fast_cr) == 1 &&
          fast_len <= limits_.max_bulk_len &&
          (authenticated || fast_len <= limits_.unauthenticated_max_bulk)) {
        bulk_len_ = fast_len;
        pos_ = fast_cr + 2;
      }
    }
    if (bulk_len_ < 0) {
      size_t cr = buf.find('\r', pos_);
      if (cr == std::string_view::npos || cr + 1 >= buf.size()) {
        if (buf.size() - pos_ > limits_.max_inline_len) return fail("too big bulk count string");
        return Result::kNeedMore;
      }
      if (buf[pos_] != '$') {
        error_ = std::string("ERR Protocol error: expected '$', got '") + buf[pos_] + "'";
        reset();
        return Result::kError;
      }
      int64_t len = 0;
      if (!parse_decimal_int64(buf.substr(pos_ + 1, cr - pos_ - 1), &len) || len < 0 ||
          len > limits_.max_bulk_len) {
        return fail("invalid bulk length");
      }
      if (!authenticated && len > limits_.unauthenticated_max_bulk) {
        return fail("unauthenticated bulk length");
      }
      bulk_len_ = len;
      pos_ = cr + 2;
    }
    size_t need = static_cast<size_t>(bulk_len_) + 2;  // data + CRLF
    if (buf.size() - pos_ < need) {
      bytes_wanted_ = need - (buf.size() - pos_);
      return Result::kNeedMore;
    }
    arg_spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += need;
    bulk_len_ = -1;
  }
  for (auto [off, len] : arg_spans_) args_.emplace_back(buf.data() + off, len);
  consumed_ = pos_;
  reset();
  return Result::kCommand;
}

}  // namespace shoal::resp
