// BearerAuth without sockets: the comparison, the header's syntax and the verdicts.
#include "http/bearer_auth.h"

#include <gtest/gtest.h>

#include <string>

namespace wa::http {
namespace {

using Verdict = BearerAuth::Verdict;

constexpr const char* kToken = "0123456789abcdef-the-token";

HttpRequest requestWith(HeaderList headers, const std::string& target = "/jobs") {
  HttpRequest request;
  request.method = "GET";
  request.target = target;
  const size_t q = target.find('?');
  request.path = target.substr(0, q);
  request.query = q == std::string::npos ? "" : target.substr(q + 1);
  request.headers = std::move(headers);
  return request;
}

BearerAuth authWithToken() {
  BearerAuth auth;
  auth.setToken(kToken);
  auth.setOpenRoutes({"/health"});
  return auth;
}

TEST(ConstantTimeEqualsTest, ComparesWholeContents) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "xbc"));
  EXPECT_FALSE(constantTimeEquals("abc", "ab"));
  EXPECT_FALSE(constantTimeEquals("ab", "abc"));
  EXPECT_FALSE(constantTimeEquals("", "a"));
  // A shorter input is not padded into a match: "ab" is not "ab\0".
  EXPECT_FALSE(constantTimeEquals(std::string_view("ab\0", 3), "ab"));
  EXPECT_TRUE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(constantTimeEquals("\xff", "\x7f"));
}

TEST(ParseBearerTest, TakesTheTokenAfterTheScheme) {
  EXPECT_EQ(parseBearer("Bearer abc"), "abc");
  EXPECT_EQ(parseBearer("bearer abc"), "abc");  // the scheme is case-insensitive
  EXPECT_EQ(parseBearer("BEARER abc"), "abc");
  EXPECT_EQ(parseBearer("BeArEr abc"), "abc");
  EXPECT_EQ(parseBearer("Bearer    abc"), "abc");  // more than one space
  EXPECT_EQ(parseBearer("Bearer\tabc"), "abc");
  EXPECT_EQ(parseBearer("  Bearer abc  "), "abc");
  EXPECT_EQ(parseBearer("Bearer a.b-c_d~e+f/g=="), "a.b-c_d~e+f/g==");
}

TEST(ParseBearerTest, RefusesAnythingElse) {
  EXPECT_EQ(parseBearer(""), std::nullopt);
  EXPECT_EQ(parseBearer("Bearer"), std::nullopt);
  EXPECT_EQ(parseBearer("Bearer "), std::nullopt);
  EXPECT_EQ(parseBearer("Bearer   "), std::nullopt);
  EXPECT_EQ(parseBearer("Bearerabc"), std::nullopt);
  EXPECT_EQ(parseBearer("Bearer: abc"), std::nullopt);
  EXPECT_EQ(parseBearer("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), std::nullopt);
  EXPECT_EQ(parseBearer("Token abc"), std::nullopt);
  EXPECT_EQ(parseBearer("abc"), std::nullopt);
  EXPECT_EQ(parseBearer("Bearer abc def"), std::nullopt);  // one token, no blanks in it
  EXPECT_EQ(parseBearer("Bearer abc\tdef"), std::nullopt);
  EXPECT_EQ(parseBearer("Bearer,abc"), std::nullopt);
}

TEST(BearerAuthTest, OffWithoutAToken) {
  BearerAuth auth;
  EXPECT_FALSE(auth.enabled());
  EXPECT_EQ(auth.check(requestWith({}), "/jobs"), Verdict::kAllowed);
  auth.setToken(kToken);
  EXPECT_TRUE(auth.enabled());
  auth.setToken("");
  EXPECT_FALSE(auth.enabled());
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Bearer wrong"}}), "/jobs"),
            Verdict::kAllowed);
}

TEST(BearerAuthTest, TheRightTokenInAnySpellingOfTheHeader) {
  const BearerAuth auth = authWithToken();
  const std::string token(kToken);
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Bearer " + token}}), "/jobs"),
            Verdict::kAllowed);
  EXPECT_EQ(auth.check(requestWith({{"authorization", "bearer " + token}}), "/jobs/{job_id}"),
            Verdict::kAllowed);
  EXPECT_EQ(auth.check(requestWith({{"AUTHORIZATION", "BEARER   " + token + " "}}), "/info"),
            Verdict::kAllowed);
  EXPECT_EQ(auth.check(requestWith({{"Accept", "*/*"}, {"Authorization", "Bearer " + token}}), ""),
            Verdict::kAllowed);
}

TEST(BearerAuthTest, MissingOrWrongCredentials) {
  const BearerAuth auth = authWithToken();
  const std::string token(kToken);
  EXPECT_EQ(auth.check(requestWith({}), "/jobs"), Verdict::kMissing);
  EXPECT_EQ(auth.check(requestWith({{"X-Authorization", "Bearer " + token}}), "/jobs"),
            Verdict::kMissing);
  EXPECT_EQ(auth.check(requestWith({}), ""), Verdict::kMissing);  // unknown paths too
  EXPECT_EQ(auth.check(requestWith({{"Authorization", ""}}), "/jobs"), Verdict::kInvalid);
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Bearer wrong"}}), "/jobs"),
            Verdict::kInvalid);
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Bearer " + token + "x"}}), "/jobs"),
            Verdict::kInvalid);
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Bearer " + token.substr(1)}}), "/jobs"),
            Verdict::kInvalid);
  EXPECT_EQ(auth.check(requestWith({{"Authorization", token}}), "/jobs"), Verdict::kInvalid);
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Basic " + token}}), "/jobs"),
            Verdict::kInvalid);
  // The right token twice is still two credentials.
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Bearer " + token},
                                    {"Authorization", "Bearer " + token}}),
                       "/jobs"),
            Verdict::kInvalid);
}

TEST(BearerAuthTest, ATokenInTheQueryStringIsNotAccepted) {
  const BearerAuth auth = authWithToken();
  const std::string token(kToken);
  EXPECT_EQ(auth.check(requestWith({}, "/jobs?access_token=" + token), "/jobs"), Verdict::kMissing);
  EXPECT_EQ(auth.check(requestWith({}, "/jobs?token=" + token), "/jobs"), Verdict::kMissing);
}

TEST(BearerAuthTest, OpenRoutesNeedNoToken) {
  BearerAuth auth = authWithToken();
  EXPECT_EQ(auth.check(requestWith({}, "/health"), "/health"), Verdict::kAllowed);
  // Open is open: a wrong token there does no harm either.
  EXPECT_EQ(auth.check(requestWith({{"Authorization", "Bearer wrong"}}, "/health"), "/health"),
            Verdict::kAllowed);
  EXPECT_EQ(auth.check(requestWith({}, "/info"), "/info"), Verdict::kMissing);
  auth.setOpenRoutes({});
  EXPECT_EQ(auth.check(requestWith({}, "/health"), "/health"), Verdict::kMissing);
  auth.setOpenRoutes({"/health", "/info"});
  EXPECT_EQ(auth.check(requestWith({}, "/info"), "/info"), Verdict::kAllowed);
}

TEST(BearerAuthTest, ANewTokenReplacesTheOld) {
  BearerAuth auth = authWithToken();
  auth.setToken("another-token-0123456789");
  EXPECT_EQ(auth.check(requestWith({{"Authorization", std::string("Bearer ") + kToken}}), "/jobs"),
            Verdict::kInvalid);
  EXPECT_EQ(
      auth.check(requestWith({{"Authorization", "Bearer another-token-0123456789"}}), "/jobs"),
      Verdict::kAllowed);
}

}  // namespace
}  // namespace wa::http
