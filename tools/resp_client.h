// A minimal blocking RESP2 client for shoal-cli: one connection, one command
// at a time, with a deadline on every exchange.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace shoal::tools {

struct RespValue {
  enum class Type { kSimple, kError, kInteger, kBulk, kNull, kArray } type = Type::kNull;
  std::string text;  // simple, error, bulk
  int64_t integer = 0;
  std::vector<RespValue> elements;  // array
};

class RespClient {
 public:
  // Connects to host:port within `timeout`.
  static Result<std::unique_ptr<RespClient>> connect(const std::string& host, uint16_t port,
                                                     std::chrono::milliseconds timeout);
  // Sends one command and reads its reply.
  Result<RespValue> call(const std::vector<std::string>& args);

 private:
  RespClient() = default;
  Status run_for(std::chrono::milliseconds timeout);
  Result<RespValue> read_value(int depth);
  Result<std::string> read_line();
  Status fill(size_t need);

  asio::io_context io_;
  asio::ip::tcp::socket socket_{io_};
  std::string in_;
  size_t pos_ = 0;
  std::chrono::milliseconds timeout_{5000};
};

}  // namespace shoal::tools
