#include "api/json_writer.h"

#include <array>
#include <cstdint>

namespace wa::api {

namespace {

// What follows the backslash for each byte that JSON requires escaped; 'u' for \u00XX,
// 0 for a byte written as it is. The same choice as RapidJSON's Writer::WriteString.
constexpr std::array<char, 256> kEscapes = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = 'u';
  table['\b'] = 'b';
  table['\t'] = 't';
  table['\n'] = 'n';
  table['\f'] = 'f';
  table['\r'] = 'r';
  table['"'] = '"';
  table['\\'] = '\\';
  return table;
}();

constexpr std::string_view kHexDigits = "0123456789ABCDEF";
constexpr size_t kLongestEscape = 6;  // \u00XX

}  // namespace

bool JsonWriter::EscapedString(std::string_view text) {
  Prefix(rapidjson::kStringType);
  const size_t room = 2 + text.size() * kLongestEscape;
  char* const begin = os_->Push(room);
  char* out = begin;
  *out++ = '"';
  for (const char ch : text) {
    const auto byte = static_cast<uint8_t>(ch);
    const char escape = kEscapes[byte];
    if (escape == 0) {
      *out++ = ch;
      continue;
    }
    *out++ = '\\';
    *out++ = escape;
    if (escape == 'u') {
      *out++ = '0';
      *out++ = '0';
      *out++ = kHexDigits[byte >> 4];
      *out++ = kHexDigits[byte & 0xF];
    }
  }
  *out++ = '"';
  os_->Pop(room - static_cast<size_t>(out - begin));
  return EndValue(true);
}

}  // namespace wa::api
