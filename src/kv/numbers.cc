#include "kv/numbers.h"

#include "base/coding.h"
#include "kv/reply_sink.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace shoal::kv {

bool parse_int64(std::string_view s, int64_t* out) { return parse_decimal_int64(s, out); }

bool parse_long_double(std::string_view s, long double* out) {
  constexpr size_t kMaxChars = 5 * 1024;  // MAX_LONG_DOUBLE_CHARS
  if (s.empty() || s.size() >= kMaxChars) return false;
  char buf[kMaxChars];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  long double v = std::strtold(buf, &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) || *end != '\0' ||
      static_cast<size_t>(end - buf) != s.size() ||  // an embedded NUL
      (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) || std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

std::string format_long_double(long double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[5 * 1024];
  int len = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (len <= 0 || static_cast<size_t>(len) >= sizeof(buf)) return "";
  if (std::memchr(buf, '.', len)) {
    while (buf[len - 1] == '0') --len;
    if (buf[len - 1] == '.') --len;
  }
  if (len == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, len);
}

bool parse_int32_or_reply(ReplySink& reply, std::string_view s, int64_t* out) {
  if (!parse_int64(s, out)) {
    reply.error(kErrNotInteger);
    return false;
  }
  if (*out < INT32_MIN || *out > INT32_MAX) {
    reply.error("ERR value is out of range, value must between -2147483648 and 2147483647");
    return false;
  }
  return true;
}

std::string format_int64(int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, end);
}

}  // namespace shoal::kv
