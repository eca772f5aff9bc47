#include "server/dispatch.h"

#include <gtest/gtest.h>

namespace shoal::server {
namespace {

struct Fixture {
  ServerContext ctx;
  Session session;
  ClientInfo info;
  explicit Fixture(Config cfg = {}) : ctx(cfg, env::SystemClock::instance()) {
    session.id = 7;
    session.authenticated = !ctx.auth_required();
  }
  std::string run(std::vector<std::string> argv) {
    std::vector<std::string_view> args(argv.begin(), argv.end());
    std::string out;
    resp::Writer w(&out, session.protocol);
    RespSink sink(w);
    if (dispatch(ctx, session, info, args, sink)) return "<keyspace>";
    return out;
  }
};

TEST(Dispatch, UnknownCommandsAndArity) {
  Fixture f;
  EXPECT_EQ(f.run({"FOO", "a", "b"}),
            "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(f.run({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(f.run({"OBJECT"}), "-ERR wrong number of arguments for 'object' command\r\n");
  EXPECT_EQ(f.run({"object", "nope"}), "-ERR unknown subcommand 'nope'. Try OBJECT HELP.\r\n");
  EXPECT_EQ(f.run({"OBJECT", "ENCODING"}),
            "-ERR wrong number of arguments for 'object|encoding' command\r\n");
  EXPECT_EQ(f.run({"shoal.expire", "k", "1"}).substr(0, 20), "-ERR unknown command");
}

TEST(Dispatch, AuthGate) {
  Config cfg;
  cfg.requirepass = "secret";
  Fixture f(cfg);
  EXPECT_EQ(f.run({"GET", "k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(f.run({"AUTH", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(f.run({"AUTH", "secret"}), "+OK\r\n");
  EXPECT_EQ(f.run({"GET", "k"}), "<keyspace>");
}

TEST(Dispatch, HelloSwitchesProtocol) {
  Fixture f;
  EXPECT_EQ(f.run({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
  std::string r = f.run({"HELLO", "3", "SETNAME", "me"});
  EXPECT_EQ(r.substr(0, 4), "%7\r\n");
  EXPECT_NE(r.find("proto\r\n:3"), std::string::npos);
  EXPECT_EQ(f.session.protocol, 3);
  EXPECT_EQ(f.run({"GET", "k"}), "<keyspace>");
  EXPECT_EQ(f.run({"CLIENT", "GETNAME"}), "$2\r\nme\r\n");
}

TEST(Dispatch, CommandIntrospection) {
  Fixture f;
  EXPECT_EQ(f.run({"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"}),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  std::string info = f.run({"COMMAND", "INFO", "get"});
  EXPECT_EQ(info.substr(0, 22), "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n");
  EXPECT_EQ(f.run({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(f.run({"SELECT", "1"}), "-ERR SELECT is not allowed in cluster mode\r\n");
}

}  // namespace
}  // namespace shoal::server
