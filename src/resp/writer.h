// RESP2/RESP3 reply encoder that appends to a caller-owned byte buffer.
//
// One Writer per connection; `protocol()` is 2 or 3 and picks the encoding of
// the types RESP2 lacks (null, map, set, double, boolean, verbatim), the way
// Redis 7 downgrades them. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::resp {

class Writer {
 public:
  explicit Writer(std::string* out, int protocol = 2) : out_(out), protocol_(protocol) {}

  int protocol() const { return protocol_; }
  void set_protocol(int p) { protocol_ = p; }
  std::string* buffer() { return out_; }

  void simple(std::string_view s);    // +s  (caller guarantees no CR/LF)
  void error(std::string_view msg);   // -msg, CR/LF replaced by spaces as Redis does
  void integer(int64_t v);            // :v
  void bulk(std::string_view s);      // $len s
  void null();                        // RESP2 $-1, RESP3 _
  void null_array();                  // RESP2 *-1, RESP3 _
  void array(size_t n);               // *n
  void map(size_t pairs);             // RESP3 %n, RESP2 *2n
  void set(size_t n);                 // RESP3 ~n, RESP2 *n
  void push(size_t n);                // RESP3 >n, RESP2 *n
  void dbl(double v);                 // RESP3 ,v   RESP2 bulk in Redis's %.17g form
  void boolean(bool v);               // RESP3 #t/#f, RESP2 :1/:0
  void verbatim(std::string_view s);  // RESP3 =len txt:s, RESP2 bulk
  void ok() { raw("+OK\r\n"); }
  void raw(std::string_view bytes) { out_->append(bytes); }

 private:
  void header(char type, int64_t n);
  std::string* out_;
  int protocol_;
};

}  // namespace shoal::resp
