#include "resp/writer.h"

#include <gtest/gtest.h>

namespace shoal::resp {

TEST(Writer, Resp2Encodings) {
  std::string out;
  Writer w(&out, 2);
  w.simple("OK");
  w.error("ERR bad\r\nthing");
  w.integer(-42);
  w.bulk("hi");
  w.null();
  w.null_array();
  w.map(1);
  w.dbl(1.5);
  w.boolean(true);
  EXPECT_EQ(
      out, "+OK\r\n-ERR bad  thing\r\n:-42\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n*2\r\n$3\r\n1.5\r\n:1\r\n");
}

TEST(Writer, Resp3Encodings) {
  std::string out;
  Writer w(&out, 3);
  w.null();
  w.map(2);
  w.set(3);
  w.dbl(2.0);
  w.boolean(false);
  w.verbatim("x");
  w.push(1);
  EXPECT_EQ(out, "_\r\n%2\r\n~3\r\n,2\r\n#f\r\n=5\r\ntxt:x\r\n>1\r\n");
}

}  // namespace shoal::resp
