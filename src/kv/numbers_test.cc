#include "kv/numbers.h"

#include <gtest/gtest.h>

namespace shoal::kv {

TEST(Numbers, ParseInt64FollowsString2ll) {
  int64_t v;
  EXPECT_TRUE(parse_int64("0", &v));
  EXPECT_TRUE(parse_int64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_FALSE(parse_int64("9223372036854775808", &v));
  EXPECT_FALSE(parse_int64("-0", &v));
  EXPECT_FALSE(parse_int64("01", &v));
  EXPECT_FALSE(parse_int64("+1", &v));
  EXPECT_FALSE(parse_int64(" 1", &v));
  EXPECT_FALSE(parse_int64("1 ", &v));
  EXPECT_FALSE(parse_int64("", &v));
}

TEST(Numbers, LongDoubleRoundTripLikeRedis) {
  long double v;
  EXPECT_TRUE(parse_long_double("10.5", &v));
  EXPECT_EQ(format_long_double(v), "10.5");
  EXPECT_TRUE(parse_long_double("3.0e3", &v));
  EXPECT_EQ(format_long_double(v), "3000");
  EXPECT_EQ(format_long_double(0.1L + 0.2L), "0.3");
  EXPECT_EQ(format_long_double(-0.0L), "0");
  EXPECT_FALSE(parse_long_double(" 1", &v));
  EXPECT_FALSE(parse_long_double("1x", &v));
  EXPECT_FALSE(parse_long_double("nan", &v));
  EXPECT_TRUE(parse_long_double("inf", &v));
}

}  // namespace shoal::kv
