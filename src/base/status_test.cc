#include <gtest/gtest.h>

#include "base/status.h"

namespace shoal {

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::invalid_argument("not positive");
  return v;
}

TEST(Status, ResultCarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok.value(), 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().to_string(), "InvalidArgument: not positive");
}

}  // namespace shoal
