#include "http/router.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace wa::http {
namespace {

Handler named(std::string name) {
  return [name = std::move(name)](const HttpRequest&, const RouteParams&) {
    return HttpResponse::json(200, name);
  };
}

std::string call(const Router::Match& match) {
  if (match.handler == nullptr) return "";
  return (*match.handler)(HttpRequest{}, match.params).body;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/", named("root"));
    router_.add("GET", "/jobs", named("list"));
    router_.add("POST", "/jobs", named("submit"));
    router_.add("GET", "/jobs/{id}", named("get"));
    router_.add("DELETE", "/jobs/{id}", named("cancel"));
    router_.add("GET", "/jobs/{id}/logs/{stream}", named("logs"));
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralPaths) {
  EXPECT_EQ(call(router_.match("GET", "/")), "root");
  EXPECT_EQ(call(router_.match("GET", "/jobs")), "list");
  EXPECT_EQ(call(router_.match("POST", "/jobs")), "submit");
}

TEST_F(RouterTest, CapturesDecodedParameters) {
  Router::Match m = router_.match("GET", "/jobs/a%20b%2Fc/logs/stderr");
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(call(m), "logs");
  EXPECT_EQ(m.params.get("id"), "a b/c");
  EXPECT_EQ(m.params.get("stream"), "stderr");
  EXPECT_EQ(m.params.get("absent"), "");
  // '+' is not a space in a path.
  EXPECT_EQ(router_.match("GET", "/jobs/a+b").params.get("id"), "a+b");
}

TEST_F(RouterTest, ParameterNeedsOneNonEmptySegment) {
  EXPECT_EQ(router_.match("GET", "/jobs//logs/x").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match("GET", "/jobs/a/b").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match("GET", "/jobs/a/logs").kind, Router::MatchKind::kNoPath);
}

TEST_F(RouterTest, TrailingSlashIsADifferentPath) {
  EXPECT_EQ(router_.match("GET", "/jobs/").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match("GET", "/jobs/x/").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match("GET", "//").kind, Router::MatchKind::kNoPath);
}

TEST_F(RouterTest, UnknownPathsAndNonOriginTargets) {
  EXPECT_EQ(router_.match("GET", "/nope").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match("OPTIONS", "*").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match("CONNECT", "example.com:443").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match("GET", "").kind, Router::MatchKind::kNoPath);
}

TEST_F(RouterTest, WrongMethodListsAllowedInRegistrationOrder) {
  Router::Match m = router_.match("PUT", "/jobs/abc");
  EXPECT_EQ(m.kind, Router::MatchKind::kWrongMethod);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "GET, DELETE");
  EXPECT_EQ(router_.match("DELETE", "/jobs").allow, "GET, POST");
}

TEST_F(RouterTest, BadEncoding) {
  EXPECT_EQ(router_.match("GET", "/jobs/%zz").kind, Router::MatchKind::kBadEncoding);
  EXPECT_EQ(router_.match("GET", "/jobs/abc%2").kind, Router::MatchKind::kBadEncoding);
  EXPECT_EQ(router_.match("GET", "/jobs/a%00b").kind, Router::MatchKind::kBadEncoding);
  EXPECT_EQ(router_.match("DELETE", "/jobs/%00").kind, Router::MatchKind::kBadEncoding);
}

TEST(RouterSingleTest, LiteralRouteRegisteredBeforeParameterWins) {
  Router router;
  router.add("GET", "/jobs/summary", named("summary"));
  router.add("GET", "/jobs/{id}", named("get"));
  EXPECT_EQ(call(router.match("GET", "/jobs/summary")), "summary");
  EXPECT_EQ(call(router.match("GET", "/jobs/other")), "get");
  // The same method reachable through two patterns is listed once.
  EXPECT_EQ(router.match("POST", "/jobs/summary").allow, "GET");
}

TEST(PercentDecodeTest, DecodesAndRejectsMalformedEscapes) {
  std::string out;
  EXPECT_TRUE(percentDecode("a%20b%2fC%7E+", &out));
  EXPECT_EQ(out, "a b/C~+");
  EXPECT_TRUE(percentDecode("", &out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(percentDecode("%00", &out));
  EXPECT_EQ(out, std::string(1, '\0'));
  EXPECT_FALSE(percentDecode("%", &out));
  EXPECT_FALSE(percentDecode("%4", &out));
  EXPECT_FALSE(percentDecode("%g0", &out));
  EXPECT_FALSE(percentDecode("abc%", &out));
}

TEST(ParseQueryTest, SplitsAndDecodes) {
  std::vector<std::pair<std::string, std::string>> q;
  ASSERT_TRUE(parseQuery("state=running&name=a+b%2Bc&flag&&empty=&x%3D=1=2", &q));
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"state", "running"}));
  EXPECT_EQ(q[1], (std::pair<std::string, std::string>{"name", "a b+c"}));
  EXPECT_EQ(q[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(q[3], (std::pair<std::string, std::string>{"empty", ""}));
  EXPECT_EQ(q[4], (std::pair<std::string, std::string>{"x=", "1=2"}));
  ASSERT_TRUE(parseQuery("", &q));
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(parseQuery("a=%zz", &q));
  EXPECT_FALSE(parseQuery("%=1", &q));
}

}  // namespace
}  // namespace wa::http
