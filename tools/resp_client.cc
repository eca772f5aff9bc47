#include "resp_client.h"

namespace shoal::tools {

Result<std::unique_ptr<RespClient>> RespClient::connect(const std::string& host, uint16_t port,
                                                        std::chrono::milliseconds timeout) {
  std::unique_ptr<RespClient> c(new RespClient());
  c->timeout_ = timeout;
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(c->io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) return Status::unavailable("cannot resolve " + host);
    addr = results.begin()->endpoint().address();
  }
  asio::error_code result = asio::error::would_block;
  c->socket_.async_connect({addr, port}, [&](const asio::error_code& e) { result = e; });
  if (Status s = c->run_for(timeout); !s.is_ok()) return s;
  if (result) {
    return Status::unavailable("cannot connect to " + host + ":" + std::to_string(port) + ": " +
                               result.message());
  }
  return c;
}

Status RespClient::run_for(std::chrono::milliseconds timeout) {
  io_.restart();
  io_.run_for(timeout);
  if (!io_.stopped()) {
    socket_.close();
    io_.run();  // let the cancelled operation complete
    return Status::unavailable("timed out");
  }
  return Status::ok();
}

Result<RespValue> RespClient::call(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  asio::error_code result = asio::error::would_block;
  asio::async_write(socket_, asio::buffer(out),
                    [&](const asio::error_code& e, size_t) { result = e; });
  if (Status s = run_for(timeout_); !s.is_ok()) return s;
  if (result) return Status::unavailable("write failed: " + result.message());
  return read_value(0);
}

Status RespClient::fill(size_t need) {
  while (in_.size() - pos_ < need) {
    char buf[16384];
    asio::error_code result = asio::error::would_block;
    size_t got = 0;
    socket_.async_read_some(asio::buffer(buf), [&](const asio::error_code& e, size_t n) {
      result = e;
      got = n;
    });
    if (Status s = run_for(timeout_); !s.is_ok()) return s;
    if (result) return Status::unavailable("read failed: " + result.message());
    in_.append(buf, got);
  }
  return Status::ok();
}

Result<std::string> RespClient::read_line() {
  while (true) {
    size_t end = in_.find("\r\n", pos_);
    if (end != std::string::npos) {
      std::string line = in_.substr(pos_, end - pos_);
      pos_ = end + 2;
      return line;
    }
    if (Status s = fill(in_.size() - pos_ + 1); !s.is_ok()) return s;
  }
}

Result<RespValue> RespClient::read_value(int depth) {
  if (depth > 8) return Status::corruption("reply nested too deeply");
  auto line = read_line();
  if (!line.is_ok()) return line.status();
  const std::string& l = line.value();
  if (l.empty()) return Status::corruption("empty reply line");
  RespValue v;
  std::string body = l.substr(1);
  switch (l[0]) {
    case '+':
      v.type = RespValue::Type::kSimple;
      v.text = body;
      return v;
    case '-':
      v.type = RespValue::Type::kError;
      v.text = body;
      return v;
    case ':':
      v.type = RespValue::Type::kInteger;
      v.integer = std::stoll(body);
      return v;
    case '$': {
      int64_t n = std::stoll(body);
      if (n < 0) return v;
      if (Status s = fill(static_cast<size_t>(n) + 2); !s.is_ok()) return s;
      v.type = RespValue::Type::kBulk;
      v.text = in_.substr(pos_, static_cast<size_t>(n));
      pos_ += static_cast<size_t>(n) + 2;
      return v;
    }
    case '*': {
      int64_t n = std::stoll(body);
      if (n < 0) return v;
      v.type = RespValue::Type::kArray;
      for (int64_t i = 0; i < n; ++i) {
        auto e = read_value(depth + 1);
        if (!e.is_ok()) return e.status();
        v.elements.push_back(std::move(e).value());
      }
      return v;
    }
  }
  return Status::corruption("unexpected reply type '" + l.substr(0, 1) + "'");
}

}  // namespace shoal::tools
