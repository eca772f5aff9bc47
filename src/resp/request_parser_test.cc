#include "resp/request_parser.h"

#include <gtest/gtest.h>

namespace shoal::resp {
namespace {

using Args = std::vector<std::string>;

// Feeds `input` to a parser in two pieces split at `split`, the way a socket
// might deliver it, and collects every command (or the first error).
struct Collected {
  std::vector<Args> commands;
  std::string error;
};

Collected feed(std::string_view input, size_t split, bool authenticated = true) {
  Collected out;
  RequestParser p;
  std::string buf;
  auto drain = [&] {
    while (true) {
      auto r = p.parse(buf, authenticated);
      if (r == RequestParser::Result::kNeedMore) return true;
      if (r == RequestParser::Result::kError) {
        out.error = p.error();
        return false;
      }
      Args a(p.args().begin(), p.args().end());
      if (!a.empty()) out.commands.push_back(a);
      buf.erase(0, p.consumed());
    }
  };
  buf.append(input.substr(0, split));
  if (!drain()) return out;
  buf.append(input.substr(split));
  drain();
  return out;
}

TEST(RequestParser, EverySplitPointOfAPipelineGivesTheSameCommands) {
  const std::string input =
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhe\r\nl\r\n"
      "PING\r\n"
      "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
      "  set  \"a\\x41\\n\" 'b\\'c'\r\n"
      "\r\n"
      "*0\r\n";
  const std::vector<Args> want = {
      {"SET", "k", "he\r\nl"}, {"PING"}, {"GET", ""}, {"set", "aA\n", "b'c"}};
  for (size_t split = 0; split <= input.size(); ++split) {
    auto got = feed(input, split);
    EXPECT_EQ(got.error, "") << split;
    EXPECT_EQ(got.commands, want) << "split at " << split;
  }
}

TEST(RequestParser, BinarySafeBulk) {
  std::string value("a\0b\r\nc", 6);
  std::string input = "*2\r\n$4\r\nECHO\r\n$6\r\n" + value + "\r\n";
  auto got = feed(input, 9);
  ASSERT_EQ(got.commands.size(), 1u);
  EXPECT_EQ(got.commands[0][1], value);
}

struct ErrorCase {
  std::string input;
  std::string error;
  bool authenticated = true;
};

TEST(RequestParser, ProtocolErrorsUseRedisTexts) {
  const std::vector<ErrorCase> cases = {
      {"*abc\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*2147483648\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*+1\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$01\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"},
      {"*11\r\n", "ERR Protocol error: unauthenticated multibulk length", false},
      {"*1\r\n$16385\r\n", "ERR Protocol error: unauthenticated bulk length", false},
      {"set \"a\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {"set \"a\"b\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {std::string(70000, 'x'), "ERR Protocol error: too big inline request"},
      {"*" + std::string(70000, '1'), "ERR Protocol error: too big mbulk count string"},
      {"*1\r\n$" + std::string(70000, '1'), "ERR Protocol error: too big bulk count string"},
  };
  for (const auto& c : cases) {
    auto got = feed(c.input, c.input.size(), c.authenticated);
    EXPECT_EQ(got.error, c.error) << c.input.substr(0, 40);
  }
}

TEST(RequestParser, HugeDeclaredCountDoesNotAllocateUpFront) {
  RequestParser p;
  std::string buf = "*2147483647\r\n$3\r\nSET\r\n";
  EXPECT_EQ(p.parse(buf), RequestParser::Result::kNeedMore);
  EXPECT_EQ(p.parse(buf), RequestParser::Result::kNeedMore);
}

TEST(RequestParser, ReportsBytesWantedForBigBulk) {
  RequestParser p;
  std::string buf = "*1\r\n$100\r\nabc";
  EXPECT_EQ(p.parse(buf), RequestParser::Result::kNeedMore);
  EXPECT_EQ(p.bytes_wanted(), 99u);
}

TEST(SplitInlineArgs, MatchesSdssplitargs) {
  std::string scratch;
  std::vector<std::pair<size_t, size_t>> spans;
  auto split = [&](std::string_view line) {
    std::vector<std::string> out;
    if (!split_inline_args(line, &scratch, &spans)) return std::vector<std::string>{"<err>"};
    for (auto [o, l] : spans) out.push_back(scratch.substr(o, l));
    return out;
  };
  EXPECT_EQ(split("a b\tc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split("ab\"cd\" e"), (std::vector<std::string>{"abcd", "e"}));
  EXPECT_EQ(split("\"\\x4g\""), (std::vector<std::string>{"x4g"}));
  EXPECT_EQ(split("\"\\x41\\q\""), (std::vector<std::string>{"Aq"}));
  EXPECT_EQ(split("'a\\nb'"), (std::vector<std::string>{"a\\nb"}));
  EXPECT_EQ(split("''"), (std::vector<std::string>{""}));
  EXPECT_EQ(split("'a"), (std::vector<std::string>{"<err>"}));
  EXPECT_EQ(split("   "), (std::vector<std::string>{}));
}

}  // namespace
}  // namespace shoal::resp
