// Invariant assertions that stay on in release builds (STYLE.md #4).
//
// Use SHOAL_ASSERT for broken *internal* invariants only. Input from clients,
// peers or disk is validated and answered with an error, never asserted on.
#pragma once

namespace shoal::detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line, const char* msg);
}  // namespace shoal::detail

#define SHOAL_ASSERT(expr)                                                \
  do {                                                                    \
    if (__builtin_expect(!(expr), 0))                                     \
      ::shoal::detail::assert_failed(#expr, __FILE__, __LINE__, nullptr); \
  } while (0)

#define SHOAL_ASSERT_MSG(expr, msg)                                     \
  do {                                                                  \
    if (__builtin_expect(!(expr), 0))                                   \
      ::shoal::detail::assert_failed(#expr, __FILE__, __LINE__, (msg)); \
  } while (0)
