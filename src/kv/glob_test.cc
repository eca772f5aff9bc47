#include "kv/glob.h"

#include <gtest/gtest.h>

namespace shoal::kv {

TEST(Glob, RedisPatterns) {
  // As in Redis, a pattern never matches the empty string (KEYS * has a
  // shortcut for that case).
  EXPECT_FALSE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "abc"));
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(glob_match("h[b-a]llo", "hbllo"));  // reversed range
  EXPECT_TRUE(glob_match("h\\*llo", "h*llo"));
  EXPECT_FALSE(glob_match("h\\*llo", "hello"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  EXPECT_TRUE(glob_match("ab*", "ab"));
  EXPECT_TRUE(glob_match("[abc", "a"));  // unterminated class
}

TEST(Glob, PathologicalPatternTerminates) {
  std::string pattern(200, '*');
  pattern += "b";
  std::string s(5000, 'a');
  EXPECT_FALSE(glob_match("a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
  EXPECT_FALSE(glob_match(pattern, s));
}

}  // namespace shoal::kv
