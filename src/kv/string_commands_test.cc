#include <gtest/gtest.h>

#include "kv/test_sink.h"

namespace shoal::kv {
namespace {

using testing::Harness;

TEST(StringCommands, SetGetWithOptions) {
  Harness h;
  EXPECT_EQ(h.run({"SET", "k", "v"}), "+OK");
  EXPECT_EQ(h.run({"GET", "k"}), "$v");
  EXPECT_EQ(h.run({"SET", "k", "w", "NX"}), "(nil)");
  EXPECT_EQ(h.run({"SET", "k", "w", "XX", "GET"}), "$v");
  EXPECT_EQ(h.run({"SET", "new", "w", "XX"}), "(nil)");
  EXPECT_EQ(h.run({"SET", "k", "w", "NX", "XX"}), "-ERR syntax error");
  EXPECT_EQ(h.run({"SET", "k", "w", "EX", "10", "PX", "5"}), "-ERR syntax error");
  EXPECT_EQ(h.run({"SET", "k", "w", "EX"}), "-ERR syntax error");
  EXPECT_EQ(h.run({"SET", "k", "w", "EX", "0"}), "-ERR invalid expire time in 'set' command");
  EXPECT_EQ(h.run({"SET", "k", "w", "EX", "x"}), "-ERR value is not an integer or out of range");
  EXPECT_EQ(h.run({"SET", "k", "w", "EX", "10", "EX", "20"}), "+OK");  // last one wins
  EXPECT_EQ(h.run({"TTL", "k"}), ":20");
  EXPECT_EQ(h.run({"SET", "k", "x", "KEEPTTL"}), "+OK");
  EXPECT_EQ(h.run({"TTL", "k"}), ":20");
  EXPECT_EQ(h.run({"SET", "k", "x"}), "+OK");
  EXPECT_EQ(h.run({"TTL", "k"}), ":-1");
}

TEST(StringCommands, ExpiryUsesTheApplyClock) {
  Harness h;
  EXPECT_EQ(h.run({"SET", "k", "v", "PX", "100"}), "+OK");
  h.now_ms += 99;
  EXPECT_EQ(h.run({"GET", "k"}), "$v");
  h.now_ms += 1;
  EXPECT_EQ(h.run({"GET", "k"}), "(nil)");
  // The read did not delete it; the expiry op decided by the leader does.
  EXPECT_EQ(h.store.size(), 1u);
  auto due = h.store.collect_expired(h.now_ms, 10);
  ASSERT_EQ(due.size(), 1u);
  apply_expiry(h.store, due[0].first, due[0].second, h.now_ms);
  EXPECT_EQ(h.store.size(), 0u);
}

TEST(StringCommands, Counters) {
  Harness h;
  EXPECT_EQ(h.run({"INCR", "n"}), ":1");
  EXPECT_EQ(h.run({"INCRBY", "n", "41"}), ":42");
  EXPECT_EQ(h.run({"DECRBY", "n", "-9223372036854775808"}), "-ERR decrement would overflow");
  EXPECT_EQ(h.run({"SET", "n", "9223372036854775807"}), "+OK");
  EXPECT_EQ(h.run({"INCR", "n"}), "-ERR increment or decrement would overflow");
  EXPECT_EQ(h.run({"SET", "s", "abc"}), "+OK");
  EXPECT_EQ(h.run({"INCR", "s"}), "-ERR value is not an integer or out of range");
  EXPECT_EQ(h.run({"INCRBYFLOAT", "f", "0.1"}), "$0.1");
  EXPECT_EQ(h.run({"INCRBYFLOAT", "f", "0.2"}), "$0.3");
  EXPECT_EQ(h.run({"INCRBYFLOAT", "f", "inf"}), "-ERR increment would produce NaN or Infinity");
  EXPECT_EQ(h.run({"INCRBYFLOAT", "f", "x"}), "-ERR value is not a valid float");
}

TEST(StringCommands, EncodingsFollowRedis) {
  Harness h;
  h.run({"SET", "i", "12345"});
  h.run({"SET", "e", "hello"});
  h.run({"SET", "r", std::string(45, 'x')});
  EXPECT_EQ(h.run({"OBJECT", "ENCODING", "i"}), "$int");
  EXPECT_EQ(h.run({"OBJECT", "ENCODING", "e"}), "$embstr");
  EXPECT_EQ(h.run({"OBJECT", "ENCODING", "r"}), "$raw");
  h.run({"APPEND", "e", "!"});
  EXPECT_EQ(h.run({"OBJECT", "ENCODING", "e"}), "$raw");
  h.run({"INCRBYFLOAT", "fl", "1"});
  EXPECT_EQ(h.run({"OBJECT", "ENCODING", "fl"}), "$embstr");
  EXPECT_EQ(h.run({"OBJECT", "ENCODING", "missing"}), "(nil)");
}

TEST(StringCommands, Ranges) {
  Harness h;
  h.run({"SET", "k", "Hello World"});
  EXPECT_EQ(h.run({"GETRANGE", "k", "0", "4"}), "$Hello");
  EXPECT_EQ(h.run({"GETRANGE", "k", "-5", "-1"}), "$World");
  EXPECT_EQ(h.run({"GETRANGE", "k", "-1", "-5"}), "$");
  EXPECT_EQ(h.run({"GETRANGE", "k", "5", "1000"}), "$ World");
  EXPECT_EQ(h.run({"SETRANGE", "k", "6", "Redis"}), ":11");
  EXPECT_EQ(h.run({"GET", "k"}), "$Hello Redis");
  EXPECT_EQ(h.run({"SETRANGE", "z", "3", "ab"}), ":5");
  EXPECT_EQ(h.run({"GET", "z"}), std::string("$\0\0\0ab", 6));
  EXPECT_EQ(h.run({"SETRANGE", "z", "-1", "ab"}), "-ERR offset is out of range");
  EXPECT_EQ(h.run({"SETRANGE", "y", "0", ""}), ":0");
  EXPECT_EQ(h.run({"EXISTS", "y"}), ":0");
  EXPECT_EQ(h.run({"SETRANGE", "y", "536870912", "a"}),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)");
}

TEST(StringCommands, MultiKey) {
  Harness h;
  EXPECT_EQ(h.run({"MSET", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command");
  EXPECT_EQ(h.run({"MSET", "a", "1", "b", "2"}), "+OK");
  EXPECT_EQ(h.run({"MGET", "a", "b", "c"}), "*3 $1 $2 (nil)");
  EXPECT_EQ(h.run({"MSETNX", "c", "3", "a", "9"}), ":0");
  EXPECT_EQ(h.run({"MSETNX", "c", "3", "d", "4"}), ":1");
}

TEST(StringCommands, LcsMatchesRedisDocExample) {
  Harness h;
  h.run({"MSET", "key1", "ohmytext", "key2", "mynewtext"});
  EXPECT_EQ(h.run({"LCS", "key1", "key2"}), "$mytext");
  EXPECT_EQ(h.run({"LCS", "key1", "key2", "LEN"}), ":6");
  EXPECT_EQ(h.run({"LCS", "key1", "key2", "IDX"}),
            "%2 $matches *2 *2 *2 :4 :7 *2 :5 :8 *2 *2 :2 :3 *2 :0 :1 $len :6");
  EXPECT_EQ(h.run({"LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"}),
            "%2 $matches *1 *3 *2 :4 :7 *2 :5 :8 :4 $len :6");
  EXPECT_EQ(h.run({"LCS", "key1", "key2", "IDX", "LEN"}),
            "-ERR If you want both the length and indexes, please just use IDX.");
}

TEST(StringCommands, GetexAndGetdel) {
  Harness h;
  h.run({"SET", "k", "v"});
  EXPECT_EQ(h.run({"GETEX", "k", "EX", "100"}), "$v");
  EXPECT_EQ(h.run({"TTL", "k"}), ":100");
  EXPECT_EQ(h.run({"GETEX", "k", "PERSIST"}), "$v");
  EXPECT_EQ(h.run({"TTL", "k"}), ":-1");
  EXPECT_EQ(h.run({"GETEX", "k", "NX"}), "-ERR syntax error");
  EXPECT_EQ(h.run({"GETEX", "k", "EXAT", "1"}), "$v");
  EXPECT_EQ(h.run({"EXISTS", "k"}), ":0");
  h.run({"SET", "k", "v"});
  EXPECT_EQ(h.run({"GETDEL", "k"}), "$v");
  EXPECT_EQ(h.run({"GETDEL", "k"}), "(nil)");
}

}  // namespace
}  // namespace shoal::kv
