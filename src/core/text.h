// Small text helpers shared by the layers that render JSON for people and machines.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wa::core {

// True if s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool isValidUtf8(std::string_view s);
// s with every ill-formed sequence replaced by U+FFFD, so it can always go into JSON.
std::string toValidUtf8(std::string_view s);
// "2026-11-27T19:31:05.123Z": RFC 3339, UTC, millisecond precision.
std::string formatRfc3339Millis(int64_t unix_ms);
// The same 24 characters without an allocation or the C library's calendar, for a time
// from 1970 through 9999 (every time a job has); nullopt outside those years.
using Rfc3339MillisText = std::array<char, 24>;
std::optional<Rfc3339MillisText> formatRfc3339MillisInPlace(int64_t unix_ms);

// The Unix time in milliseconds of an RFC 3339 UTC time as the Docker engine writes them
// ("2026-12-07T01:02:03.123456789Z"; any fraction, truncated to milliseconds); nullopt for
// anything else, and for a time before 1970 (the engine's "never": 0001-01-01T00:00:00Z).
std::optional<int64_t> parseRfc3339Millis(std::string_view text);

// Base64 (RFC 4648). kStandard is section 4 ("+/"), kUrl section 5 ("-_"); both padded.
enum class Base64Alphabet { kStandard, kUrl };
std::string base64Encode(std::string_view data,
                         Base64Alphabet alphabet = Base64Alphabet::kStandard);
// The bytes text encodes, or nullopt unless text is canonical padded base64 of that
// alphabet: length a multiple of 4, no whitespace or other characters, "=" only as the
// last one or two characters, and the unused bits of the last group zero. Only one
// text decodes to given bytes, so two parties cannot read different content from it.
std::optional<std::string> base64Decode(std::string_view text,
                                        Base64Alphabet alphabet = Base64Alphabet::kStandard);

}  // namespace wa::core
