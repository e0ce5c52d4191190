#include "api/json_writer.h"

#include <array>
#include <cstdint>
#include <cstring>

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

// Whether any of the eight bytes in word is one kEscapes escapes: below 0x20, '"' or '\\'.
// Per byte b, (b - n) & ~b has its high bit set when b < n <= 0x80 and no borrow came in
// from below; the lowest byte under n takes no borrow, so the answer for the word as a
// whole is exact (bytes from 0x80 up never count: ~b clears their high bit).
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr uint64_t anyByteBelow(uint64_t word, uint8_t n) {
  return (word - kOnes * n) & ~word & kHighBits;
}
constexpr bool needsEscape(uint64_t word) {
  return (anyByteBelow(word, 0x20) | anyByteBelow(word ^ (kOnes * '"'), 1) |
          anyByteBelow(word ^ (kOnes * '\\'), 1)) != 0;
}
static_assert(!needsEscape(0x6867666564636261ULL));  // "abcdefgh"
static_assert(needsEscape(0x6867666564632261ULL));   // a quote
static_assert(needsEscape(0x5C67666564636261ULL));   // a backslash, last
static_assert(needsEscape(0x686766651F636261ULL));   // 0x1F
static_assert(!needsEscape(0xFFA0807F20216223ULL));  // 0x20, 0x7F and bytes from 0x80

// One byte as Writer::String writes it.
char* put(char* out, char ch) {
  const auto byte = static_cast<uint8_t>(ch);
  const char escape = kEscapes[byte];
  if (escape == 0) {
    *out++ = ch;
    return out;
  }
  *out++ = '\\';
  *out++ = escape;
  if (escape == 'u') {
    *out++ = '0';
    *out++ = '0';
    *out++ = kHexDigits[byte >> 4];
    *out++ = kHexDigits[byte & 0xF];
  }
  return out;
}

}  // namespace

bool JsonWriter::EscapedString(std::string_view text) {
  Prefix(rapidjson::kStringType);
  const size_t room = 2 + text.size() * kLongestEscape;
  char* const begin = os_->Push(room);
  char* out = begin;
  *out++ = '"';
  // Eight bytes at a time while none needs an escape (member names, ids, most text).
  size_t i = 0;
  for (; i + sizeof(uint64_t) <= text.size(); i += sizeof(uint64_t)) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, sizeof word);
    if (!needsEscape(word)) {
      std::memcpy(out, &word, sizeof word);
      out += sizeof word;
      continue;
    }
    for (size_t k = i; k < i + sizeof word; ++k) out = put(out, text[k]);
  }
  for (; i < text.size(); ++i) out = put(out, text[i]);
  *out++ = '"';
  os_->Pop(room - static_cast<size_t>(out - begin));
  return EndValue(true);
}

bool JsonWriter::MemberName(Name name) {
  const std::string_view text = name.text();
  Prefix(rapidjson::kStringType);
  char* const out = os_->Push(text.size() + 2);
  out[0] = '"';
  std::memcpy(out + 1, text.data(), text.size());
  out[text.size() + 1] = '"';
  return EndValue(true);
}

}  // namespace wa::api
