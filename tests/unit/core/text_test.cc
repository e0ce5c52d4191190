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
}

}  // namespace
}  // namespace wa::core
