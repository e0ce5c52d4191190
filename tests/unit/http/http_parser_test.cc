#include "http/http_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wa::http {
namespace {

constexpr size_t kHead = 1024;
constexpr size_t kBody = 100;

// Feeds everything at once; collects every complete request until the input runs out.
struct Parsed {
  std::vector<HttpRequest> requests;
  std::vector<bool> keep_alive;
  HttpParser::Result last = HttpParser::Result::kNeedMore;
};

Parsed parseAll(HttpParser& parser, std::string_view input) {
  Parsed parsed;
  while (!input.empty()) {
    size_t consumed = 0;
    parsed.last = parser.feed(input, &consumed);
    input.remove_prefix(consumed);
    if (parsed.last == HttpParser::Result::kError) break;
    if (parsed.last == HttpParser::Result::kRequest) {
      parsed.keep_alive.push_back(parser.keepAlive());
      parsed.requests.push_back(parser.takeRequest());
    }
  }
  return parsed;
}

// Feeds one byte per call, as a client trickling bytes would arrive.
Parsed parseByteByByte(HttpParser& parser, std::string_view input) {
  Parsed parsed;
  for (size_t i = 0; i < input.size(); ++i) {
    size_t consumed = 0;
    parsed.last = parser.feed(input.substr(i, 1), &consumed);
    if (parsed.last == HttpParser::Result::kError) break;
    if (parsed.last == HttpParser::Result::kRequest) {
      parsed.keep_alive.push_back(parser.keepAlive());
      parsed.requests.push_back(parser.takeRequest());
      if (consumed == 0) --i;  // the byte belongs to the next request
    }
  }
  return parsed;
}

TEST(HttpParserTest, ParsesRequestLineHeadersAndQuery) {
  HttpParser parser(kHead, kBody);
  Parsed p = parseAll(parser,
                      "GET /jobs/a%20b?state=running&x HTTP/1.1\r\n"
                      "Host: localhost\r\nX-Trailing:  value \t\r\n\r\n");
  ASSERT_EQ(p.requests.size(), 1u);
  const HttpRequest& r = p.requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/jobs/a%20b?state=running&x");
  EXPECT_EQ(r.path, "/jobs/a%20b");
  EXPECT_EQ(r.query, "state=running&x");
  EXPECT_EQ(r.http_minor, 1);
  ASSERT_NE(r.header("host"), nullptr);
  EXPECT_EQ(*r.header("HOST"), "localhost");
  ASSERT_NE(r.header("x-trailing"), nullptr);
  EXPECT_EQ(*r.header("x-trailing"), "value");
  EXPECT_EQ(r.header("missing"), nullptr);
  EXPECT_TRUE(p.keep_alive[0]);
}

TEST(HttpParserTest, JoinsSpansSplitAcrossReadsByteByByte) {
  const std::string input =
      "POST /jobs?name=first HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
      "Content-Length: 13\r\n\r\n{\"image\":\"x\"}"
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  HttpParser parser(kHead, kBody);
  Parsed p = parseByteByByte(parser, input);
  ASSERT_EQ(p.requests.size(), 2u);
  EXPECT_EQ(p.requests[0].method, "POST");
  EXPECT_EQ(p.requests[0].target, "/jobs?name=first");
  ASSERT_EQ(p.requests[0].headers.size(), 3u);
  EXPECT_EQ(p.requests[0].headers[1].first, "Content-Type");
  EXPECT_EQ(p.requests[0].headers[1].second, "application/json");
  EXPECT_EQ(p.requests[0].body, "{\"image\":\"x\"}");
  EXPECT_EQ(p.requests[1].path, "/c");
  EXPECT_EQ(p.requests[1].body, "hello, world");
}

TEST(HttpParserTest, StopsAfterEachPipelinedRequest) {
  const std::string one = "GET /1 HTTP/1.1\r\n\r\n";
  const std::string two = "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  const std::string three = "GET /3 HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string all = one + two + three;
  HttpParser parser(kHead, kBody);
  size_t consumed = 0;
  ASSERT_EQ(parser.feed(all, &consumed), HttpParser::Result::kRequest);
  EXPECT_EQ(consumed, one.size());
  EXPECT_EQ(parser.takeRequest().path, "/1");
  size_t offset = consumed;
  ASSERT_EQ(parser.feed(std::string_view(all).substr(offset), &consumed),
            HttpParser::Result::kRequest);
  EXPECT_EQ(consumed, two.size());
  EXPECT_TRUE(parser.keepAlive());
  EXPECT_EQ(parser.takeRequest().body, "abc");
  offset += consumed;
  ASSERT_EQ(parser.feed(std::string_view(all).substr(offset), &consumed),
            HttpParser::Result::kRequest);
  EXPECT_EQ(offset + consumed, all.size());
  EXPECT_FALSE(parser.keepAlive());
  EXPECT_EQ(parser.takeRequest().path, "/3");
}

TEST(HttpParserTest, KeepAliveFollowsVersionAndConnectionHeader) {
  struct Case {
    const char* input;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    HttpParser parser(kHead, kBody);
    Parsed p = parseAll(parser, c.input);
    ASSERT_EQ(p.requests.size(), 1u) << c.input;
    EXPECT_EQ(p.keep_alive[0], c.keep_alive) << c.input;
  }
}

TEST(HttpParserTest, HeadExactlyAtLimitIsAcceptedOneMoreByteIsNot) {
  const std::string prefix = "GET / HTTP/1.1\r\nX: ";
  const std::string suffix = "\r\n\r\n";
  const std::string fits =
      prefix + std::string(kHead - prefix.size() - suffix.size(), 'a') + suffix;
  ASSERT_EQ(fits.size(), kHead);
  {
    HttpParser parser(kHead, kBody);
    EXPECT_EQ(parseAll(parser, fits).requests.size(), 1u);
  }
  {
    HttpParser parser(kHead, kBody);
    EXPECT_EQ(parseByteByByte(parser, fits).requests.size(), 1u);
  }
  const std::string over = prefix + "a" + fits.substr(prefix.size());
  HttpParser parser(kHead, kBody);
  Parsed p = parseAll(parser, over);
  EXPECT_EQ(p.last, HttpParser::Result::kError);
  EXPECT_EQ(parser.error().status, 431);
  EXPECT_EQ(parser.error().code, "HEADERS_TOO_LARGE");
}

TEST(HttpParserTest, EndlessHeadIsCutAtTheLimit) {
  HttpParser parser(kHead, kBody);
  std::string input = "GET / HTTP/1.1\r\n";
  while (input.size() < 10 * kHead) input += "X-Filler: 0123456789\r\n";
  Parsed p = parseByteByByte(parser, input);
  EXPECT_EQ(p.last, HttpParser::Result::kError);
  EXPECT_EQ(parser.error().status, 431);
}

TEST(HttpParserTest, ContentLengthOverLimitIsRefusedBeforeTheBody) {
  HttpParser parser(kHead, kBody);
  size_t consumed = 0;
  const std::string head =
      "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(kBody + 1) + "\r\n\r\n";
  EXPECT_EQ(parser.feed(head, &consumed), HttpParser::Result::kError);
  EXPECT_EQ(parser.error().status, 413);
  EXPECT_EQ(parser.error().code, "PAYLOAD_TOO_LARGE");
}

TEST(HttpParserTest, ContentLengthAtLimitIsAccepted) {
  HttpParser parser(kHead, kBody);
  Parsed p = parseAll(parser, "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(kBody) +
                                  "\r\n\r\n" + std::string(kBody, 'b'));
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_EQ(p.requests[0].body.size(), kBody);
}

TEST(HttpParserTest, ChunkedBodyOverLimitIsRefused) {
  // Small chunks that add up past the limit.
  std::string input = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) input += "a\r\n0123456789\r\n";
  input += "0\r\n\r\n";
  HttpParser parser(kHead, kBody);
  Parsed p = parseAll(parser, input);
  EXPECT_EQ(p.last, HttpParser::Result::kError);
  EXPECT_EQ(parser.error().status, 413);

  // One chunk announced larger than the limit is refused at its size line.
  HttpParser announced(kHead, kBody);
  size_t consumed = 0;
  EXPECT_EQ(
      announced.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\n", &consumed),
      HttpParser::Result::kError);
  EXPECT_EQ(announced.error().status, 413);
}

TEST(HttpParserTest, ContentLengthWithTransferEncodingIsBadRequest) {
  HttpParser parser(kHead, kBody);
  Parsed p = parseAll(parser,
                      "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "0\r\n\r\n");
  EXPECT_EQ(p.last, HttpParser::Result::kError);
  EXPECT_EQ(parser.error().status, 400);
  EXPECT_EQ(parser.error().code, "BAD_REQUEST");
  EXPECT_NE(parser.error().message.find("Transfer-Encoding"), std::string::npos)
      << parser.error().message;
}

TEST(HttpParserTest, MalformedRequestsAreBadRequest) {
  const char* inputs[] = {
      "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
      "GET / HTTP/1.1\r\nName : x\r\n\r\n",
      "NOT A REQUEST\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
      "GET / HTTP/2.0\r\n\r\n",
  };
  for (const char* input : inputs) {
    HttpParser parser(kHead, kBody);
    Parsed p = parseAll(parser, input);
    EXPECT_EQ(p.last, HttpParser::Result::kError) << input;
    EXPECT_EQ(parser.error().status, 400) << input;
    EXPECT_FALSE(parser.error().message.empty());
  }
}

TEST(HttpParserTest, UpgradeRequestIsAnsweredButEndsTheConnection) {
  HttpParser parser(kHead, kBody);
  Parsed p =
      parseAll(parser, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_EQ(p.requests.size(), 1u);
  EXPECT_FALSE(p.keep_alive[0]);
}

TEST(HttpParserTest, ExpectContinueIsReportedOnceBeforeTheBody) {
  HttpParser parser(kHead, kBody);
  size_t consumed = 0;
  ASSERT_EQ(
      parser.feed("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", &consumed),
      HttpParser::Result::kNeedMore);
  EXPECT_TRUE(parser.takeContinueRequest());
  EXPECT_FALSE(parser.takeContinueRequest());
  ASSERT_EQ(parser.feed("ok", &consumed), HttpParser::Result::kRequest);
  EXPECT_EQ(parser.takeRequest().body, "ok");
}

}  // namespace
}  // namespace wa::http
