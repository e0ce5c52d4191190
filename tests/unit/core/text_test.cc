#include "core/text.h"

#include <gtest/gtest.h>

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
