// Number parsing and formatting with Redis's exact rules, because replies and
// errors must match Redis byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::kv {

// Redis string2ll: optional '-', digits, no leading zeros, no '+', no spaces.
bool parse_int64(std::string_view s, int64_t* out);
// Redis string2ld (strtold): rejects leading space, trailing junk, NaN and
// overflow; accepts "inf".
bool parse_long_double(std::string_view s, long double* out);
// Redis ld2string in human mode: "%.17Lf" with trailing zeros removed.
std::string format_long_double(long double v);
std::string format_int64(int64_t v);

class ReplySink;
// Redis getIntFromObjectOrReply: an int64 in int32 range, else replies with
// Redis's "not an integer" or "out of range" error and returns false.
bool parse_int32_or_reply(ReplySink& reply, std::string_view s, int64_t* out);

}  // namespace shoal::kv
