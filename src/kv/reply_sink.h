// Where a command writes its reply. The kv layer is protocol-agnostic; the
// server adapts this to RESP2/RESP3 (resp::Writer), tests record it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace shoal::kv {

class ReplySink {
 public:
  virtual ~ReplySink() = default;
  virtual void simple(std::string_view s) = 0;
  // `msg` starts with the error code, e.g. "ERR syntax error", "WRONGTYPE ...".
  virtual void error(std::string_view msg) = 0;
  virtual void integer(int64_t v) = 0;
  virtual void bulk(std::string_view s) = 0;
  virtual void null() = 0;        // a missing value
  virtual void null_array() = 0;  // a missing aggregate
  virtual void array(size_t n) = 0;
  virtual void map(size_t pairs) = 0;
  virtual void set(size_t n) = 0;
  virtual void dbl(double v) = 0;
  virtual int protocol() const = 0;
  void ok() { simple("OK"); }
  // An array of simple strings: the HELP replies of container commands.
  void simple_lines(std::span<const std::string_view> lines) {
    array(lines.size());
    for (auto l : lines) simple(l);
  }
};

// Redis's shared error replies.
inline constexpr std::string_view kErrSyntax = "ERR syntax error";
inline constexpr std::string_view kErrWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kErrNoSuchKey = "ERR no such key";
inline constexpr std::string_view kErrStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

}  // namespace shoal::kv
