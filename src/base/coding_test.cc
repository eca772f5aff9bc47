#include <gtest/gtest.h>

#include "base/coding.h"

namespace shoal {

TEST(Coding, RoundTrip) {
  std::string buf;
  put_fixed32(buf, 0xdeadbeef);
  put_fixed64(buf, 0x0123456789abcdefULL);
  put_varint64(buf, 300);
  put_varint64(buf, UINT64_MAX);
  put_length_prefixed(buf, "hello");
  ByteReader r(buf);
  EXPECT_EQ(r.fixed32(), 0xdeadbeefu);
  EXPECT_EQ(r.fixed64(), 0x0123456789abcdefULL);
  EXPECT_EQ(r.varint64(), 300u);
  EXPECT_EQ(r.varint64(), UINT64_MAX);
  EXPECT_EQ(r.length_prefixed(), "hello");
  EXPECT_TRUE(r.empty());
}

TEST(Coding, TruncatedInputFailsCleanly) {
  std::string buf;
  put_length_prefixed(buf, "hello world");
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    ByteReader r(std::string_view(buf).substr(0, cut));
    EXPECT_FALSE(r.length_prefixed().has_value()) << cut;
  }
  const std::string too_long(11, '\xff');
  ByteReader r(too_long);
  EXPECT_FALSE(r.varint64().has_value());
}

}  // namespace shoal
