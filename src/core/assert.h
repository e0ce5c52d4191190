// WA_ASSERT: checks an invariant that the code's comments state and that no input or
// environment can break (Envoy's ASSERT). On in Debug builds and in sanitizer builds
// (WA_ASSERTIONS, set by CMake with SANITIZE), where a failure logs the condition and
// aborts; compiled out of release builds, where the condition is not evaluated. What input
// or the environment can cause is handled, never asserted.
#pragma once

namespace wa::core {

[[noreturn]] void assertionFailed(const char* condition, const char* message, const char* file,
                                  int line) noexcept;

}  // namespace wa::core

#if !defined(NDEBUG) || defined(WA_ASSERTIONS)
#define WA_ASSERTIONS_ON 1
#define WA_ASSERT(condition, message) \
  ((condition) ? static_cast<void>(0) \
               : ::wa::core::assertionFailed(#condition, message, __FILE__, __LINE__))
#else
#define WA_ASSERTIONS_ON 0
// sizeof keeps the names used without evaluating anything.
#define WA_ASSERT(condition, message) static_cast<void>(sizeof(static_cast<bool>(condition)))
#endif
