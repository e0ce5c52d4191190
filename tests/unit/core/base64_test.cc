#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace wa::core {
namespace {

std::string decoded(std::string_view text) {
  std::string out;
  EXPECT_TRUE(base64Decode(text, &out)) << text;
  return out;
}

bool rejects(std::string_view text) {
  std::string out;
  return !base64Decode(text, &out);
}

// RFC 4648 section 10.
TEST(Base64, TestVectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64Encode(plain), encoded);
    EXPECT_EQ(decoded(encoded), plain);
  }
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t length = 0; length <= all.size(); length += 37) {
    const std::string bytes = all.substr(0, length);
    EXPECT_EQ(decoded(base64Encode(bytes)), bytes) << length;
  }
  EXPECT_EQ(base64Encode(std::string("\0\xff\xfe", 3)), "AP/+");
  EXPECT_EQ(decoded("AP/+"), std::string("\0\xff\xfe", 3));
}

TEST(Base64, DecodingIsStrict) {
  EXPECT_TRUE(rejects("Zg"));        // unpadded
  EXPECT_TRUE(rejects("Zg="));       // length not a multiple of 4
  EXPECT_TRUE(rejects("Zg=\n="));    // whitespace
  EXPECT_TRUE(rejects("Zm9v\n"));    // trailing newline
  EXPECT_TRUE(rejects("Zm 9"));      // space
  EXPECT_TRUE(rejects("Zm-_"));      // URL-safe alphabet
  EXPECT_TRUE(rejects("Zg==Zg=="));  // padding before the end
  EXPECT_TRUE(rejects("Z==="));      // three padding characters
  EXPECT_TRUE(rejects("Zm=v"));      // '=' inside the last quantum
  EXPECT_TRUE(rejects("===="));
  EXPECT_TRUE(rejects("Zh=="));  // leftover bits not zero ("Zg==" is canonical)
  EXPECT_TRUE(rejects("Zm9="));  // likewise ("Zm8=")
  EXPECT_TRUE(rejects(std::string("Zm\0v", 4)));
  EXPECT_TRUE(rejects("Zm9\xc3"));
}

}  // namespace
}  // namespace wa::core
