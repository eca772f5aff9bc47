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

// The bytes are a stored format (log entries, snapshots): pinned here, so a
// faster encoder can't change what older data directories hold.
TEST(Coding, TheBytesAreLittleEndianAndLeb128) {
  std::string buf;
  put_fixed32(buf, 0x01020304);
  put_fixed64(buf, 0x0102030405060708ULL);
  put_varint64(buf, 0);
  put_varint64(buf, 127);
  put_varint64(buf, 128);
  put_varint64(buf, 300);
  EXPECT_EQ(buf, std::string("\x04\x03\x02\x01"
                             "\x08\x07\x06\x05\x04\x03\x02\x01"
                             "\x00"
                             "\x7f"
                             "\x80\x01"
                             "\xac\x02",
                             4 + 8 + 1 + 1 + 2 + 2));
}

TEST(Coding, VarintLengthMatchesTheEncoding) {
  for (uint64_t v : std::initializer_list<uint64_t>{0ULL, 1ULL, 127ULL, 128ULL, 16383ULL, 16384ULL,
                                                    (1ULL << 35) - 1, 1ULL << 35, (1ULL << 63) - 1,
                                                    1ULL << 63, UINT64_MAX}) {
    char b[kMaxVarint64Length];
    size_t n = static_cast<size_t>(encode_varint64(b, v) - b);
    EXPECT_EQ(varint_length(v), n) << v;
    ByteReader r(std::string_view(b, n));
    EXPECT_EQ(r.varint64(), v);
    EXPECT_TRUE(r.empty());
  }
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
