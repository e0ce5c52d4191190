#include "core/text.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace wa::core {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 if it is ill-formed.
size_t sequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return len;
}

constexpr char kStandardDigits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char* base64Digits(Base64Alphabet alphabet) {
  return alphabet == Base64Alphabet::kUrl ? kUrlDigits : kStandardDigits;
}

// The 6-bit value of one base64 digit, or -1 if c is not a digit of that alphabet.
int base64Value(char c, Base64Alphabet alphabet) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  const char* digits = base64Digits(alphabet);
  if (c == digits[62]) return 62;
  if (c == digits[63]) return 63;
  return -1;
}

}  // namespace

bool isValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint64_t word;  // eight bytes at a time while they are ASCII, the common case
    if (i + sizeof word <= s.size()) {
      std::memcpy(&word, s.data() + i, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += sizeof word;
        continue;
      }
    }
    const size_t len = sequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string toValidUtf8(std::string_view s) {
  if (isValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    const size_t len = sequenceLength(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  return out;
}

std::optional<Rfc3339MillisText> formatRfc3339MillisInPlace(int64_t unix_ms) {
  constexpr int64_t kMsPerDay = int64_t{86'400'000};
  constexpr int64_t kEndOf9999 = int64_t{253'402'300'800'000};  // 10000-01-01T00:00:00Z
  if (unix_ms < 0 || unix_ms >= kEndOf9999) return std::nullopt;
  // The civil date of a day count, in the proleptic Gregorian calendar, by 400-year eras
  // counted from 0000-03-01 (so that the leap day ends a year).
  const int64_t days = unix_ms / kMsPerDay + 719'468;  // days since 0000-03-01
  const int64_t era = days / 146'097;
  const int64_t day_of_era = days - era * 146'097;  // [0, 146096]
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1'460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;  // [0, 11]
  const int64_t day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
  const int64_t month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  const int64_t ms_of_day = unix_ms % kMsPerDay;

  Rfc3339MillisText out;
  constexpr std::string_view kPattern = "0000-00-00T00:00:00.000Z";
  std::copy(kPattern.begin(), kPattern.end(), out.begin());
  const auto digits = [&out](size_t at, int64_t value, size_t width) {
    for (size_t k = at + width; k-- > at; value /= 10) {
      out[k] = static_cast<char>('0' + value % 10);
    }
  };
  digits(0, year, 4);
  digits(5, month, 2);
  digits(8, day, 2);
  digits(11, ms_of_day / 3'600'000, 2);
  digits(14, ms_of_day / 60'000 % 60, 2);
  digits(17, ms_of_day / 1'000 % 60, 2);
  digits(20, ms_of_day % 1'000, 3);
  return out;
}

std::string formatRfc3339Millis(int64_t unix_ms) {
  // Job times: written in place, where snprintf and gmtime_r were most of the cost of
  // rendering a job record.
  if (const auto text = formatRfc3339MillisInPlace(unix_ms)) {
    return std::string(text->data(), text->size());
  }
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  const int millis = static_cast<int>(unix_ms % 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[64];  // roomy enough for any int fields, so the compiler can prove no truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return buf;
}

std::optional<int64_t> parseRfc3339Millis(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS" then an optional fraction, then "Z".
  if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
  const auto number = [&text](size_t at, size_t width, int64_t* out) {
    int64_t value = 0;
    for (size_t k = at; k < at + width; ++k) {
      if (text[k] < '0' || text[k] > '9') return false;
      value = value * 10 + (text[k] - '0');
    }
    *out = value;
    return true;
  };
  int64_t year, month, day, hour, minute, second;
  if (!number(0, 4, &year) || text[4] != '-' || !number(5, 2, &month) || text[7] != '-' ||
      !number(8, 2, &day) || text[10] != 'T' || !number(11, 2, &hour) || text[13] != ':' ||
      !number(14, 2, &minute) || text[16] != ':' || !number(17, 2, &second)) {
    return std::nullopt;
  }
  int64_t millis = 0;
  const std::string_view rest = text.substr(19, text.size() - 20);
  if (!rest.empty()) {
    if (rest.front() != '.' || rest.size() < 2) return std::nullopt;
    for (size_t k = 1; k < rest.size(); ++k) {
      if (rest[k] < '0' || rest[k] > '9') return std::nullopt;
      if (k <= 3) millis = millis * 10 + (rest[k] - '0');
    }
    for (size_t k = rest.size(); k <= 3; ++k) millis *= 10;
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  // Days since 1970-01-01 of a civil date (the inverse of formatRfc3339MillisInPlace's).
  const int64_t y = year - (month <= 2 ? 1 : 0);
  const int64_t era = y / 400;
  const int64_t year_of_era = y - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  const int64_t days = era * 146'097 + day_of_era - 719'468;
  return ((days * 24 + hour) * 60 + minute) * 60'000 + second * 1'000 + millis;
}

std::string base64Encode(std::string_view data, Base64Alphabet alphabet) {
  const char* digits = base64Digits(alphabet);
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  const auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(data[k])); };
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += digits[group >> 18 & 63];
    out += digits[group >> 12 & 63];
    out += digits[group >> 6 & 63];
    out += digits[group & 63];
  }
  const size_t rest = data.size() - i;
  if (rest > 0) {
    const uint32_t group = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += digits[group >> 18 & 63];
    out += digits[group >> 12 & 63];
    out += rest == 2 ? digits[group >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text, Base64Alphabet alphabet) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t digits = last ? 4 - padding : 4;
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) {
      int value = 0;
      if (k < digits) {
        value = base64Value(text[i + k], alphabet);
        if (value < 0) return std::nullopt;  // includes a "=" before the last group
      }
      group = group << 6 | static_cast<uint32_t>(value);
    }
    out += static_cast<char>(group >> 16 & 0xFF);
    if (digits >= 3) out += static_cast<char>(group >> 8 & 0xFF);
    if (digits == 4) out += static_cast<char>(group & 0xFF);
    // Bits no byte uses must be zero, or "QQ==" and "QR==" would both decode to "A".
    if ((digits == 2 && (group & 0xFFFF) != 0) || (digits == 3 && (group & 0xFF) != 0)) {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace wa::core
