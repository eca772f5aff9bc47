// Redis's glob-style pattern matching (stringmatchlen), used by KEYS and SCAN
// MATCH: * ? [abc] [^abc] [a-z] and backslash escapes, byte-wise, with the
// same treatment of bytes >= 0x80 (compared as signed chars) and the same
// protection against pathological patterns.
#pragma once

#include <string_view>

namespace shoal::kv {

bool glob_match(std::string_view pattern, std::string_view str);

}  // namespace shoal::kv
