#include "resp/writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace shoal::resp {

void Writer::header(char type, int64_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out_->append(buf, end - buf);
}

void Writer::simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n");
}

void Writer::error(std::string_view msg) {
  out_->push_back('-');
  size_t start = out_->size();
  out_->append(msg);
  // Redis replaces newlines in error messages so the reply stays one line.
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
}

void Writer::integer(int64_t v) { header(':', v); }

void Writer::bulk(std::string_view s) {
  header('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n");
}

void Writer::null() { raw(protocol_ == 3 ? "_\r\n" : "$-1\r\n"); }
void Writer::null_array() { raw(protocol_ == 3 ? "_\r\n" : "*-1\r\n"); }
void Writer::array(size_t n) { header('*', static_cast<int64_t>(n)); }
void Writer::map(size_t pairs) {
  header(protocol_ == 3 ? '%' : '*', static_cast<int64_t>(protocol_ == 3 ? pairs : pairs * 2));
}
void Writer::set(size_t n) { header(protocol_ == 3 ? '~' : '*', static_cast<int64_t>(n)); }
void Writer::push(size_t n) { header(protocol_ == 3 ? '>' : '*', static_cast<int64_t>(n)); }

void Writer::dbl(double v) {
  char buf[64];
  int len;
  if (std::isinf(v)) {
    len = std::snprintf(buf, sizeof(buf), "%s", v > 0 ? "inf" : "-inf");
  } else {
    len = std::snprintf(buf, sizeof(buf), "%.17g", v);
  }
  if (protocol_ == 3) {
    out_->push_back(',');
    out_->append(buf, len);
    out_->append("\r\n");
  } else {
    bulk(std::string_view(buf, len));
  }
}

void Writer::boolean(bool v) {
  if (protocol_ == 3) {
    raw(v ? "#t\r\n" : "#f\r\n");
  } else {
    raw(v ? ":1\r\n" : ":0\r\n");
  }
}

void Writer::verbatim(std::string_view s) {
  if (protocol_ == 3) {
    header('=', static_cast<int64_t>(s.size() + 4));
    out_->append("txt:");
    out_->append(s);
    out_->append("\r\n");
  } else {
    bulk(s);
  }
}

}  // namespace shoal::resp
