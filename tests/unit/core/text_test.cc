#include "core/text.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>
#include <string>

namespace wa::core {
namespace {

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(isValidUtf8("plain ascii"));
  EXPECT_TRUE(isValidUtf8("\xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xFF"));
  // Past, across and after the eight-byte ASCII steps.
  EXPECT_TRUE(isValidUtf8("abcdefgh12345678"));
  EXPECT_TRUE(isValidUtf8("abcdefg\xC3\xA9xyz1234567890"));
  EXPECT_TRUE(isValidUtf8("abcdefghijklmno\xF0\x9F\x98\x80tail"));
  EXPECT_FALSE(isValidUtf8("abcdefgh12345678\xFF"));
  EXPECT_FALSE(
      isValidUtf8("abcdefg\xC3"
                  "12345678"));                               // a lead byte, then ASCII
  EXPECT_FALSE(isValidUtf8("abcdefgh\xE0\x80\x80zzzzzzzz"));  // overlong mid-string
}

TEST(Text, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(toValidUtf8("a\xFF"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(toValidUtf8("\xC3\xA9"), "\xC3\xA9");
  EXPECT_TRUE(isValidUtf8(toValidUtf8("\x80\x81\xC3")));
}

TEST(Text, Rfc3339WithMilliseconds) {
  EXPECT_EQ(formatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatRfc3339Millis(1'795'813'865'123), "2026-11-27T21:11:05.123Z");
  EXPECT_EQ(formatRfc3339Millis(951'782'400'007), "2000-02-29T00:00:00.007Z");
  EXPECT_EQ(formatRfc3339Millis(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(formatRfc3339Millis(253'402'300'800'000), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(formatRfc3339Millis(-1'000), "1969-12-31T23:59:59.000Z");
}

// The C library's calendar, as formatRfc3339Millis once wrote every time.
std::string gmtimeRfc3339Millis(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

TEST(Text, Rfc3339InPlaceAgreesWithTheCLibrary) {
  const auto inPlace = [](int64_t unix_ms) {
    const auto text = formatRfc3339MillisInPlace(unix_ms);
    return text ? std::string(text->data(), text->size()) : std::string("nullopt");
  };
  constexpr int64_t kDay = 86'400'000;
  constexpr int64_t kEnd = 253'402'300'800'000;  // 10000-01-01
  EXPECT_EQ(inPlace(-1), "nullopt");
  EXPECT_EQ(inPlace(kEnd), "nullopt");
  EXPECT_EQ(inPlace(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(inPlace(kEnd - 1), "9999-12-31T23:59:59.999Z");
  // Around the calendar's turns: the leap days of 2000, 2024 and 2400, the days where
  // 2100 and 2200 have none, and New Year 2100.
  for (const int64_t day : {int64_t{11'016}, int64_t{19'782}, int64_t{157'113}, int64_t{47'541},
                            int64_t{84'065}, int64_t{47'482}}) {
    for (int64_t d = day - 3; d <= day + 3; ++d) {
      for (const int64_t ms : {int64_t{0}, int64_t{1}, kDay - 1}) {
        const int64_t t = d * kDay + ms;
        EXPECT_EQ(inPlace(t), gmtimeRfc3339Millis(t)) << t;
      }
    }
  }
  // Every day from 1970 to 9999 at a time of day that moves, and 200,000 random times.
  for (int64_t t = 0; t < kEnd; t += kDay + 3'599'997) {
    ASSERT_EQ(inPlace(t), gmtimeRfc3339Millis(t)) << t;
  }
  std::mt19937_64 random(20261128);
  for (int i = 0; i < 200'000; ++i) {
    const auto t = static_cast<int64_t>(random() % static_cast<uint64_t>(kEnd));
    ASSERT_EQ(inPlace(t), gmtimeRfc3339Millis(t)) << t;
    ASSERT_EQ(formatRfc3339Millis(t), gmtimeRfc3339Millis(t)) << t;
  }
}

TEST(Text, Base64EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64Encode("\xFB\xFF\xBF"), "+/+/");
  EXPECT_EQ(base64Encode("\xFB\xFF\xBF", Base64Alphabet::kUrl), "-_-_");
}

TEST(Text, Base64RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 37) {
    const std::string data = all.substr(0, n) + std::string(1, '\0');
    for (Base64Alphabet a : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
      EXPECT_EQ(base64Decode(base64Encode(data, a), a), data) << n;
    }
  }
}

TEST(Text, Base64DecodesOnlyCanonicalText) {
  EXPECT_EQ(base64Decode(""), "");
  EXPECT_EQ(base64Decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64Decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64Decode("+/+/"), "\xFB\xFF\xBF");
  EXPECT_EQ(base64Decode("-_-_", Base64Alphabet::kUrl), "\xFB\xFF\xBF");
  const char* refused[] = {
      "Zg",         // no padding
      "Zg=",        // short padding
      "Zm9vYg=",    // length not a multiple of 4
      "Zg===",      // too much padding
      "====",       // padding only
      "Z===",       // one digit cannot make a byte
      "Zg==Zg==",   // padding in the middle
      "Zm=v",       // "=" before the end
      "Zh==",       // unused bits set: "Zg==" is the only text for "f"
      "Zm9=",       // likewise for "fo"
      "Zm9v\n",     // whitespace
      " Zm9v",      // leading blank
      "Zm9v YmFy",  // inner blank
      "Zm9*",       // not a digit
      "-_-_",       // URL digits in the standard alphabet
  };
  for (const char* text : refused) EXPECT_FALSE(base64Decode(text)) << text;
  EXPECT_FALSE(base64Decode("+/+/", Base64Alphabet::kUrl));
  EXPECT_FALSE(base64Decode(std::string_view("Zm9v\0\0\0\0", 8)));
}

}  // namespace
}  // namespace wa::core

namespace wa::core {
namespace {

TEST(Rfc3339, ParsesTheEnginesTimesBackToWhatWasFormatted) {
  for (int64_t ms : {int64_t{0}, int64_t{951'782'400'123}, int64_t{1'765'069'323'456},
                     int64_t{4'107'542'399'999}}) {
    const std::string text = formatRfc3339Millis(ms);
    EXPECT_EQ(parseRfc3339Millis(text), ms) << text;
  }
  EXPECT_EQ(parseRfc3339Millis("2026-12-07T01:02:03.123456789Z"),
            parseRfc3339Millis("2026-12-07T01:02:03.123Z"));
  EXPECT_EQ(parseRfc3339Millis("2026-12-07T01:02:03Z"), int64_t{1'796'605'323'000});
  EXPECT_EQ(parseRfc3339Millis("2026-12-07T01:02:03.5Z"), int64_t{1'796'605'323'500});
}

TEST(Rfc3339, RefusesAnythingElseAndTheEnginesNever) {
  for (const char* bad : {"", "0001-01-01T00:00:00Z", "2026-12-07T01:02:03", "2026-12-07 01:02:03Z",
                          "2026-13-07T01:02:03Z", "2026-12-07T01:02:03.Z",
                          "2026-12-07T01:02:03+01:00", "2026-12-07T01:02:03.12aZ"}) {
    EXPECT_FALSE(parseRfc3339Millis(bad)) << bad;
  }
}

}  // namespace
}  // namespace wa::core
