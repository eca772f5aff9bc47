// Adapts the kv layer's ReplySink to the RESP encoder of a connection.
#pragma once

#include "kv/reply_sink.h"
#include "resp/writer.h"

namespace shoal::server {

class RespSink final : public kv::ReplySink {
 public:
  explicit RespSink(resp::Writer& w) : w_(w) {}
  void simple(std::string_view s) override { w_.simple(s); }
  void error(std::string_view m) override {
    w_.error(m);
    ++errors_;
  }
  void integer(int64_t v) override { w_.integer(v); }
  void bulk(std::string_view s) override { w_.bulk(s); }
  void null() override { w_.null(); }
  void null_array() override { w_.null_array(); }
  void array(size_t n) override { w_.array(n); }
  void map(size_t n) override { w_.map(n); }
  void set(size_t n) override { w_.set(n); }
  void dbl(double v) override { w_.dbl(v); }
  int protocol() const override { return w_.protocol(); }
  resp::Writer& writer() { return w_; }
  uint64_t errors() const { return errors_; }

 private:
  resp::Writer& w_;
  uint64_t errors_ = 0;
};

}  // namespace shoal::server
