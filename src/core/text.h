// Small text helpers shared by the layers that render JSON for people and machines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wa::core {

// True if s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool isValidUtf8(std::string_view s);
// s with every ill-formed sequence replaced by U+FFFD, so it can always go into JSON.
std::string toValidUtf8(std::string_view s);
// "2026-11-27T19:31:05.123Z": RFC 3339, UTC, millisecond precision.
std::string formatRfc3339Millis(int64_t unix_ms);

}  // namespace wa::core
