#include <gtest/gtest.h>

#include <set>

#include "kv/test_sink.h"

namespace shoal::kv {
namespace {

using testing::Harness;

TEST(KeyspaceCommands, DelExistsTypeRename) {
  Harness h;
  h.run({"MSET", "a", "1", "b", "2"});
  EXPECT_EQ(h.run({"EXISTS", "a", "a", "zz"}), ":2");
  EXPECT_EQ(h.run({"TYPE", "a"}), "+string");
  EXPECT_EQ(h.run({"TYPE", "zz"}), "+none");
  EXPECT_EQ(h.run({"RENAME", "zz", "q"}), "-ERR no such key");
  EXPECT_EQ(h.run({"RENAMENX", "a", "b"}), ":0");
  EXPECT_EQ(h.run({"RENAME", "a", "c"}), "+OK");
  EXPECT_EQ(h.run({"GET", "c"}), "$1");
  EXPECT_EQ(h.run({"DEL", "b", "c", "zz"}), ":2");
  EXPECT_EQ(h.store.size(), 0u);
}

TEST(KeyspaceCommands, RenameKeepsTtlAndCopyRespectsReplace) {
  Harness h;
  h.run({"SET", "a", "1", "EX", "50"});
  h.run({"RENAME", "a", "b"});
  EXPECT_EQ(h.run({"TTL", "b"}), ":50");
  h.run({"SET", "c", "x"});
  EXPECT_EQ(h.run({"COPY", "b", "c"}), ":0");
  EXPECT_EQ(h.run({"COPY", "b", "c", "REPLACE"}), ":1");
  EXPECT_EQ(h.run({"TTL", "c"}), ":50");
  EXPECT_EQ(h.run({"COPY", "b", "b"}), "-ERR source and destination objects are the same");
  EXPECT_EQ(h.run({"COPY", "b", "d", "DB", "1"}),
            "-ERR Copying to another database is not allowed in cluster mode");
}

TEST(KeyspaceCommands, ExpireFlags) {
  Harness h;
  h.run({"SET", "k", "v"});
  EXPECT_EQ(h.run({"EXPIRE", "k", "100", "XX"}), ":0");
  EXPECT_EQ(h.run({"EXPIRE", "k", "100", "NX"}), ":1");
  EXPECT_EQ(h.run({"EXPIRE", "k", "50", "GT"}), ":0");
  EXPECT_EQ(h.run({"EXPIRE", "k", "50", "LT"}), ":1");
  EXPECT_EQ(h.run({"TTL", "k"}), ":50");
  EXPECT_EQ(h.run({"EXPIRE", "k", "50", "NX", "XX"}),
            "-ERR NX and XX, GT or LT options at the same time are not compatible");
  EXPECT_EQ(h.run({"EXPIRE", "k", "50", "GT", "LT"}),
            "-ERR GT and LT options at the same time are not compatible");
  EXPECT_EQ(h.run({"EXPIRE", "k", "50", "YY"}), "-ERR Unsupported option YY");
  EXPECT_EQ(h.run({"EXPIRE", "k", "9223372036854775807"}),
            "-ERR invalid expire time in 'expire' command");
  EXPECT_EQ(h.run({"PERSIST", "k"}), ":1");
  EXPECT_EQ(h.run({"PERSIST", "k"}), ":0");
  EXPECT_EQ(h.run({"EXPIRE", "k", "-1"}), ":1");  // in the past: deleted
  EXPECT_EQ(h.run({"EXISTS", "k"}), ":0");
  EXPECT_EQ(h.run({"TTL", "k"}), ":-2");
}

TEST(KeyspaceCommands, KeysAndFullScan) {
  Harness h;
  std::set<std::string> want;
  for (int i = 0; i < 300; ++i) {
    std::string k = "key:" + std::to_string(i);
    h.run({"SET", k, "v"});
    want.insert(k);
  }
  h.run({"SET", "other", "v"});
  std::string keys = h.run({"KEYS", "key:1?"});
  EXPECT_EQ(keys.substr(0, 4), "*10 ");
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    // Reply text: "*2 $<cursor> *<n> $<key> ..."
    std::string reply = h.run({"SCAN", cursor, "MATCH", "key:*", "COUNT", "7"});
    std::vector<std::string> parts;
    size_t pos = 0;
    while (pos <= reply.size()) {
      size_t sp = reply.find(' ', pos);
      if (sp == std::string::npos) sp = reply.size();
      parts.push_back(reply.substr(pos, sp - pos));
      pos = sp + 1;
    }
    ASSERT_GE(parts.size(), 3u) << reply;
    cursor = parts[1].substr(1);
    for (size_t k = 3; k < parts.size(); ++k) seen.insert(parts[k].substr(1));
    ++calls;
  } while (cursor != "0" && calls < 1000);
  EXPECT_EQ(seen, want);
}

}  // namespace
}  // namespace shoal::kv
