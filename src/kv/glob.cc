#include "kv/glob.h"

namespace shoal::kv {
namespace {

// A cursor that reads '\0' past the end, as the C original reads the string's
// terminator.
struct Cursor {
  const char* p;
  long len;
  signed char at(long i) const { return i < len ? static_cast<signed char>(p[i]) : '\0'; }
  void advance(long n = 1) {
    p += n;
    len -= n;
  }
};

bool match_class(Cursor& pat, signed char c) {
  pat.advance();  // '['
  bool negate = pat.at(0) == '^';
  if (negate) pat.advance();
  bool match = false;
  while (true) {
    if (pat.at(0) == '\\' && pat.len >= 2) {
      pat.advance();
      if (pat.at(0) == c) match = true;
    } else if (pat.at(0) == ']') {
      break;
    } else if (pat.len == 0) {
      pat.advance(-1);
      break;
    } else if (pat.len >= 3 && pat.at(1) == '-') {
      int start = pat.at(0), end = pat.at(2);
      if (start > end) std::swap(start, end);
      pat.advance(2);
      if (c >= start && c <= end) match = true;
    } else if (pat.at(0) == c) {
      match = true;
    }
    pat.advance();
  }
  return negate ? !match : match;
}

bool match_impl(Cursor pat, Cursor str, bool* skip_longer, int nesting) {
  if (nesting > 1000) return false;  // protection against abusive patterns
  while (pat.len > 0 && str.len > 0) {
    switch (pat.at(0)) {
      case '*':
        while (pat.len > 0 && pat.at(1) == '*') pat.advance();
        if (pat.len == 1) return true;
        while (str.len > 0) {
          if (match_impl(Cursor{pat.p + 1, pat.len - 1}, str, skip_longer, nesting + 1)) {
            return true;
          }
          if (*skip_longer) return false;
          str.advance();
        }
        // No match for the rest of the pattern anywhere in the rest of the
        // string: longer matches of earlier stars can't help either.
        *skip_longer = true;
        return false;
      case '?':
        str.advance();
        break;
      case '[':
        if (!match_class(pat, str.at(0))) return false;
        str.advance();
        break;
      case '\\':
        if (pat.len >= 2) pat.advance();
        [[fallthrough]];
      default:
        if (pat.at(0) != str.at(0)) return false;
        str.advance();
        break;
    }
    pat.advance();
    if (str.len == 0) {
      while (pat.at(0) == '*') pat.advance();
      break;
    }
  }
  return pat.len == 0 && str.len == 0;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view str) {
  bool skip_longer = false;
  return match_impl(Cursor{pattern.data(), static_cast<long>(pattern.size())},
                    Cursor{str.data(), static_cast<long>(str.size())}, &skip_longer, 0);
}

}  // namespace shoal::kv
