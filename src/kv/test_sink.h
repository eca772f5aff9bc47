// Test helper: runs commands against a Store and renders replies as RESP2-like
// text ("+OK", ":1", "$hi", "(nil)", "*2[...]"), for compact assertions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kv/command.h"
#include "storage/memory_engine.h"

namespace shoal::kv::testing {

class TextSink : public ReplySink {
 public:
  void simple(std::string_view s) override { add("+" + std::string(s)); }
  void error(std::string_view m) override { add("-" + std::string(m)); }
  void integer(int64_t v) override { add(":" + std::to_string(v)); }
  void bulk(std::string_view s) override { add("$" + std::string(s)); }
  void null() override { add("(nil)"); }
  void null_array() override { add("(nil-array)"); }
  void array(size_t n) override { add("*" + std::to_string(n)); }
  void map(size_t n) override { add("%" + std::to_string(n)); }
  void set(size_t n) override { add("~" + std::to_string(n)); }
  void dbl(double v) override { add("," + std::to_string(v)); }
  int protocol() const override { return 2; }
  std::string text;

 private:
  void add(const std::string& s) { text += (text.empty() ? "" : " ") + s; }
};

struct Harness {
  Store store{std::make_unique<storage::MemoryEngine>()};
  int64_t now_ms = 1'700'000'000'000;

  // Runs one command; returns its reply text.
  std::string run(std::vector<std::string> argv) {
    std::vector<std::string_view> args(argv.begin(), argv.end());
    const auto& table = CommandTable::instance();
    const CommandSpec* spec = table.find(args[0]);
    if (spec && table.is_container(*spec) && args.size() > 1) spec = table.find_sub(*spec, args[1]);
    TextSink sink;
    if (!spec || !spec->handler) return "<no handler>";
    bool arity_ok = spec->arity > 0 ? static_cast<int>(args.size()) == spec->arity
                                    : static_cast<int>(args.size()) >= -spec->arity;
    if (!arity_ok) return "<arity>";
    store.set_command_time(now_ms);
    CommandContext ctx{store, args, sink, now_ms, *spec, 12345};
    spec->handler(ctx);
    return sink.text;
  }
};

}  // namespace shoal::kv::testing
