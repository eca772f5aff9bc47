#include "server/config.h"

#include <gtest/gtest.h>

namespace shoal::server {

// H10: a single node (RF 1) with fsync off can lose acknowledged writes on a
// crash with no other copy; it starts only with the explicit flag.
TEST(Config, H10_NoFsyncOnASingleReplicaIsRefusedWithoutTheFlag) {
  Config c;
  EXPECT_TRUE(validate(c).is_ok());  // defaults: fsync always
  c.fsync = "no";
  Status s = validate(c);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("--i-accept-data-loss-on-crash"), std::string::npos);
  c.accept_data_loss = true;
  EXPECT_TRUE(validate(c).is_ok());
  c.fsync = "everysec";
  c.accept_data_loss = false;
  EXPECT_TRUE(validate(c).is_ok());
}

TEST(Config, ParsesFlagsAndRejectsBadValues) {
  bool exit_now = false;
  const char* ok_argv[] = {"shoal-server", "--port", "7400", "--fsync", "everysec"};
  auto ok = parse_config(5, const_cast<char**>(ok_argv), &exit_now);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok.value().port, 7400);
  EXPECT_EQ(ok.value().fsync, "everysec");
  const char* bad_argv[] = {"shoal-server", "--fsync", "sometimes"};
  EXPECT_FALSE(parse_config(3, const_cast<char**>(bad_argv), &exit_now).is_ok());
}

}  // namespace shoal::server
