#include "http/http_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/log.h"
#include "http/loopback_client.h"
#include "http/response_writer.h"

namespace wa::http {
namespace {

using testing::LoopbackClient;
using testing::ParsedResponse;

constexpr size_t kBigBody = size_t{16} * 1024;

HttpResponse renderFlatError(int status, std::string_view code, std::string_view message) {
  return HttpResponse::json(status, "{\"code\":\"" + std::string(code) + "\",\"message\":\"" +
                                        std::string(message) + "\"}");
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    router_.add("GET", "/hello", [](const HttpRequest&, const RouteParams&) {
      return HttpResponse::json(200, "{\"hello\":true}");
    });
    router_.add("POST", "/echo", [](const HttpRequest& request, const RouteParams&) {
      return HttpResponse::json(201, request.body);
    });
    router_.add("GET", "/jobs/{id}", [](const HttpRequest&, const RouteParams& params) {
      return HttpResponse::json(200, params.get("id"));
    });
    router_.add("DELETE", "/jobs/{id}", [](const HttpRequest&, const RouteParams&) {
      return HttpResponse::json(202, "{}");
    });
    router_.add("GET", "/throw", [](const HttpRequest&, const RouteParams&) -> HttpResponse {
      throw std::runtime_error("handler bug");
    });
    router_.add("GET", "/big", [](const HttpRequest& request, const RouteParams&) {
      return HttpResponse::json(200, request.query + ":" + std::string(kBigBody, 'x'));
    });
  }

  void start() {
    server_ = std::make_unique<HttpServer>(loop_, router_, options_, renderFlatError);
    ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
    ASSERT_NE(server_->port(), 0);
  }

  std::unique_ptr<LoopbackClient> connect() {
    return std::make_unique<LoopbackClient>(loop_, server_->port());
  }

  // Sends one request on a fresh connection and returns the response.
  ParsedResponse exchange(LoopbackClient& client, std::string_view request) {
    EXPECT_TRUE(client.send(request));
    std::optional<ParsedResponse> response = client.readResponse();
    EXPECT_TRUE(response.has_value()) << "no response to: " << request;
    return response.value_or(ParsedResponse{});
  }

  // An error that must be answered and followed by the server closing the connection.
  void expectErrorAndClose(std::string_view request, int status, std::string_view code) {
    auto client = connect();
    ParsedResponse response = exchange(*client, request);
    EXPECT_EQ(response.status, status) << request;
    EXPECT_NE(response.body.find(code), std::string::npos) << response.body;
    EXPECT_EQ(response.headerOr("Connection"), "close");
    EXPECT_TRUE(client->waitClosed()) << "connection left open after " << status;
  }

  bool waitForConnections(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + LoopbackClient::kTimeout;
    while (server_->connectionCount() != n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.runOnce(1);
    }
    return true;
  }

  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
  Router router_;
  HttpServerOptions options_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesRequestsOnAKeepAliveConnection) {
  start();
  auto client = connect();
  for (int i = 0; i < 2; ++i) {
    ParsedResponse r = exchange(*client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(r.body, "{\"hello\":true}");
    EXPECT_EQ(r.headerOr("Content-Type"), "application/json");
    EXPECT_EQ(r.headerOr("Content-Length"), std::to_string(r.body.size()));
    EXPECT_EQ(r.headerOr("Connection"), "keep-alive");
    EXPECT_EQ(r.headerOr("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(r.headerOr("Cache-Control"), "no-store");
  }
  EXPECT_FALSE(client->eof());
  EXPECT_EQ(server_->connectionCount(), 1u);
}

TEST_F(HttpServerTest, ObserverSeesRoutePatternsNotPaths) {
  start();
  std::vector<std::string> seen;
  server_->setObserver([&seen](const RequestRecord& r) {
    seen.push_back(std::string(r.method) + " " + std::string(r.route) + " " +
                   std::to_string(r.status));
  });
  auto client = connect();
  exchange(*client, "GET /jobs/abc HTTP/1.1\r\n\r\n");
  exchange(*client, "PUT /jobs/xyz HTTP/1.1\r\n\r\n");
  exchange(*client, "GET /nowhere/at/all HTTP/1.1\r\n\r\n");
  exchange(*client, "GET /throw HTTP/1.1\r\n\r\n");
  expectErrorAndClose("GET /hello HTTP/1.1\r\nBad Header\r\n\r\n", 400, "");
  EXPECT_EQ(seen,
            (std::vector<std::string>{"GET /jobs/{id} 200", "PUT /jobs/{id} 405",
                                      "GET unmatched 404", "GET /throw 500", " unmatched 400"}));
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  auto client = connect();
  ASSERT_TRUE(
      client->send("GET /jobs/first HTTP/1.1\r\n\r\n"
                   "POST /echo HTTP/1.1\r\nContent-Length: 6\r\n\r\nsecond"
                   "GET /jobs/third HTTP/1.1\r\n\r\n"));
  for (const char* expected : {"first", "second", "third"}) {
    std::optional<ParsedResponse> r = client->readResponse();
    ASSERT_TRUE(r.has_value()) << expected;
    EXPECT_EQ(r->body, expected);
  }
}

TEST_F(HttpServerTest, RequestArrivingByteByByteIsJoined) {
  start();
  auto client = connect();
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nsplit\r\n0\r\n\r\n";
  for (char c : request) {
    ASSERT_TRUE(client->send(std::string_view(&c, 1)));
    client->pump();
  }
  std::optional<ParsedResponse> r = client->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "split");
}

TEST_F(HttpServerTest, ContentLengthAndChunkedBodies) {
  start();
  auto client = connect();
  EXPECT_EQ(exchange(*client, "POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world").body,
            "hello world");
  EXPECT_EQ(exchange(*client,
                     "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n")
                .body,
            "hello world");
  const std::string large(size_t{200} * 1024, 'L');
  EXPECT_EQ(exchange(*client, "POST /echo HTTP/1.1\r\nContent-Length: " +
                                  std::to_string(large.size()) + "\r\n\r\n" + large)
                .body,
            large);
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimResponse) {
  start();
  auto client = connect();
  ASSERT_TRUE(
      client->send("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  std::optional<ParsedResponse> interim = client->readResponse();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status_line, "HTTP/1.1 100 Continue");
  ASSERT_TRUE(client->send("body"));
  std::optional<ParsedResponse> r = client->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "body");
}

TEST_F(HttpServerTest, OversizedHeadIs431) {
  options_.max_header_bytes = 1024;
  start();
  expectErrorAndClose("GET /hello HTTP/1.1\r\nX-Big: " + std::string(2000, 'h') + "\r\n\r\n", 431,
                      "HEADERS_TOO_LARGE");
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  options_.max_body_bytes = 100;
  start();
  // Refused from Content-Length alone, before the body is sent.
  expectErrorAndClose("POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413,
                      "PAYLOAD_TOO_LARGE");
  std::string chunked = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 11; ++i) chunked += "a\r\n0123456789\r\n";
  expectErrorAndClose(chunked, 413, "PAYLOAD_TOO_LARGE");
}

TEST_F(HttpServerTest, ContentLengthWithTransferEncodingIs400) {
  start();
  expectErrorAndClose(
      "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      400, "BAD_REQUEST");
}

TEST_F(HttpServerTest, MalformedRequestIs400WithParserReason) {
  start();
  auto client = connect();
  ParsedResponse r = exchange(*client, "GET /hello HTTP/1.1\r\nContent-Length: x\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("BAD_REQUEST"), std::string::npos);
  EXPECT_NE(r.body.find("Content-Length"), std::string::npos) << r.body;
  EXPECT_TRUE(client->waitClosed());
}

TEST_F(HttpServerTest, RoutingErrorsKeepTheConnection) {
  start();
  auto client = connect();
  ParsedResponse not_found = exchange(*client, "GET /nope HTTP/1.1\r\n\r\n");
  EXPECT_EQ(not_found.status_line, "HTTP/1.1 404 Not Found");
  EXPECT_NE(not_found.body.find("NOT_FOUND"), std::string::npos);
  ParsedResponse wrong = exchange(*client, "PUT /jobs/7 HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(wrong.status_line, "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(wrong.body.find("METHOD_NOT_ALLOWED"), std::string::npos);
  EXPECT_EQ(wrong.headerOr("Allow"), "GET, DELETE");
  ParsedResponse bad = exchange(*client, "GET /jobs/%zz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(exchange(*client, "GET /jobs/a%2Fb HTTP/1.1\r\n\r\n").body, "a/b");
  EXPECT_FALSE(client->eof());
}

TEST_F(HttpServerTest, OptionsIsACorsPreflight) {
  start();
  auto client = connect();
  ParsedResponse r = exchange(*client, "OPTIONS /jobs/1 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.1 204 No Content");
  EXPECT_EQ(r.headerOr("Access-Control-Allow-Methods"), "GET, DELETE, OPTIONS");
  EXPECT_EQ(r.headerOr("Access-Control-Allow-Headers"), "Content-Type, Authorization");
  EXPECT_EQ(r.headerOr("Access-Control-Max-Age"), "600");
  EXPECT_EQ(r.headerOr("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r.header("Content-Length"), nullptr);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(exchange(*client, "OPTIONS /unknown HTTP/1.1\r\n\r\n").status, 404);
  EXPECT_EQ(exchange(*client, "OPTIONS * HTTP/1.1\r\n\r\n").status, 404);
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndConnectionSurvives) {
  start();
  auto client = connect();
  ParsedResponse r = exchange(*client, "GET /throw HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("INTERNAL_ERROR"), std::string::npos);
  EXPECT_EQ(exchange(*client, "GET /hello HTTP/1.1\r\n\r\n").status, 200);
}

TEST_F(HttpServerTest, Http10AndConnectionCloseCloseAfterTheResponse) {
  start();
  {
    auto client = connect();
    ParsedResponse r = exchange(*client, "GET /hello HTTP/1.0\r\n\r\n");
    EXPECT_EQ(r.status_line, "HTTP/1.0 200 OK");
    EXPECT_EQ(r.headerOr("Connection"), "close");
    EXPECT_TRUE(client->waitClosed());
  }
  {
    auto client = connect();
    ParsedResponse r = exchange(*client, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(r.headerOr("Connection"), "keep-alive");
    EXPECT_EQ(exchange(*client, "GET /hello HTTP/1.0\r\n\r\n").status, 200);
    EXPECT_TRUE(client->waitClosed());
  }
  {
    auto client = connect();
    // The request after "Connection: close" is never answered.
    ASSERT_TRUE(
        client->send("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n"
                     "GET /hello HTTP/1.1\r\n\r\n"));
    ASSERT_TRUE(client->waitClosed());
    ASSERT_TRUE(client->takeResponse().has_value());
    EXPECT_FALSE(client->takeResponse().has_value());
  }
  EXPECT_TRUE(waitForConnections(0));
}

TEST_F(HttpServerTest, HeadTimeoutIs408) {
  options_.header_timeout = core::Millis(50);
  start();
  auto partial = connect();
  ASSERT_TRUE(partial->send("GET /hello HTTP/1.1\r\nHost:"));
  auto silent = connect();
  ASSERT_TRUE(waitForConnections(2));
  partial->pump();
  EXPECT_FALSE(partial->eof());
  clock_.advance(core::Millis(49));
  partial->pump();
  EXPECT_FALSE(partial->eof());
  EXPECT_TRUE(partial->buffer().empty());
  clock_.advance(core::Millis(2));
  for (auto* client : {partial.get(), silent.get()}) {
    std::optional<ParsedResponse> r = client->readResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 408);
    EXPECT_NE(r->body.find("REQUEST_TIMEOUT"), std::string::npos);
    EXPECT_TRUE(client->waitClosed());
  }
}

TEST_F(HttpServerTest, TricklingHeadDoesNotPushTheDeadlineBack) {
  options_.header_timeout = core::Millis(50);
  start();
  auto client = connect();
  for (char c : std::string("GET /hello HTTP/1.1\r\n")) {
    ASSERT_TRUE(client->send(std::string_view(&c, 1)));
    client->pump();
    clock_.advance(core::Millis(3));
  }
  std::optional<ParsedResponse> r = client->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
}

TEST_F(HttpServerTest, StalledBodyIs408) {
  options_.idle_timeout = core::Millis(100);
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  ASSERT_TRUE(waitForConnections(1));
  client->pump();
  clock_.advance(core::Millis(101));
  std::optional<ParsedResponse> r = client->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
}

TEST_F(HttpServerTest, TricklingBodyFallsBehindTheMinimumRateAnd408s) {
  options_.idle_timeout = core::Millis(1000);
  options_.body_timeout = core::Millis(100);
  options_.min_body_rate = 1000;  // a byte a millisecond
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"));
  ASSERT_TRUE(waitForConnections(1));
  client->pump();
  // 10 bytes every 50 ms, a byte every 5 ms: each piece resets no deadline, and the
  // allowance (100 ms + 1 ms a byte) is used up after 125 ms.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client->send(std::string(10, 'b')));
    client->pump();
    clock_.advance(core::Millis(50));
    client->pump();
    EXPECT_TRUE(client->buffer().empty()) << i;
  }
  ASSERT_TRUE(client->send(std::string(10, 'b')));
  client->pump();
  clock_.advance(core::Millis(30));
  std::optional<ParsedResponse> r = client->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_NE(r->body.find("request body not received in time"), std::string::npos) << r->body;
}

TEST_F(HttpServerTest, BodyKeepingToTheMinimumRateIsServed) {
  options_.idle_timeout = core::Millis(1000);
  options_.body_timeout = core::Millis(100);
  options_.min_body_rate = 1000;
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nContent-Length: 2000\r\n\r\n"));
  ASSERT_TRUE(waitForConnections(1));
  client->pump();
  // 100 bytes every 50 ms: twice the minimum, for a whole second, well past body_timeout.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client->send(std::string(100, 'b')));
    client->pump();
    clock_.advance(core::Millis(50));
  }
  std::optional<ParsedResponse> r = client->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body.size(), 2000u);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedSilently) {
  options_.idle_timeout = core::Millis(100);
  options_.header_timeout = core::Millis(1000);
  start();
  auto client = connect();
  EXPECT_EQ(exchange(*client, "GET /hello HTTP/1.1\r\n\r\n").status, 200);
  clock_.advance(core::Millis(99));
  client->pump();
  EXPECT_FALSE(client->eof());
  clock_.advance(core::Millis(2));
  EXPECT_TRUE(client->waitClosed());
  EXPECT_TRUE(client->buffer().empty());
  EXPECT_TRUE(waitForConnections(0));
}

TEST_F(HttpServerTest, ConnectionsOverTheCapGet503) {
  options_.max_connections = 1;
  start();
  auto first = connect();
  ASSERT_TRUE(waitForConnections(1));
  auto second = connect();
  std::optional<ParsedResponse> r = second->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_NE(r->body.find("TOO_MANY_CONNECTIONS"), std::string::npos);
  EXPECT_EQ(r->headerOr("Connection"), "close");
  EXPECT_TRUE(second->waitClosed());
  EXPECT_EQ(exchange(*first, "GET /hello HTTP/1.1\r\n\r\n").status, 200);
  EXPECT_EQ(server_->connectionCount(), 1u);
}

TEST_F(HttpServerTest, ClientThatDoesNotReadStopsTheServerReading) {
  start();
  auto client = connect();
  const std::string pad(4000, 'p');
  auto request = [&](int i) {
    return "GET /big?" + std::to_string(i) + " HTTP/1.1\r\nX-Pad: " + pad + "\r\n\r\n";
  };
  // Send without reading until the socket stays full: the server must have stopped
  // reading, or it would keep consuming requests and queueing responses.
  int sent = 0;
  std::string pending = request(0);
  bool blocked = false;
  while (!blocked && sent < 20'000) {
    pending.erase(0, client->trySend(pending));
    if (pending.empty()) {
      pending = request(++sent);
      continue;
    }
    blocked = true;
    for (int i = 0; i < 20 && blocked; ++i) {
      loop_.runOnce(1);
      const size_t n = client->trySend(pending);
      pending.erase(0, n);
      blocked = n == 0;
    }
  }
  ASSERT_TRUE(blocked) << "server kept reading after " << sent << " requests";
  // Finish the partly sent request, then every response arrives, in order.
  ASSERT_TRUE(client->send(pending));
  for (int i = 0; i <= sent; ++i) {
    std::optional<ParsedResponse> r = client->readResponse();
    ASSERT_TRUE(r.has_value()) << i;
    ASSERT_EQ(r->body.substr(0, r->body.find(':')), std::to_string(i));
    ASSERT_EQ(r->body.size(), std::to_string(i).size() + 1 + kBigBody);
  }
}

TEST_F(HttpServerTest, ClientThatNeverReadsIsClosedAtTheWriteDeadline) {
  options_.idle_timeout = core::Millis(1000);
  start();
  auto client = connect();
  const int small = 4096;
  ::setsockopt(client->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string many;
  // 2000 answers of 16 KiB: far more than the socket buffers between them hold.
  for (int i = 0; i < 2000; ++i) many += "GET /big HTTP/1.1\r\n\r\n";
  ASSERT_EQ(client->trySend(many), many.size());
  ASSERT_TRUE(waitForConnections(1));
  // Let the server write until the socket is full; the client reads nothing.
  for (int i = 0; i < 20; ++i) loop_.runOnce(1);
  clock_.advance(core::Millis(999));
  for (int i = 0; i < 5; ++i) loop_.runOnce(1);
  EXPECT_EQ(server_->connectionCount(), 1u);
  // No write progress for idle_timeout: the connection goes, with what it had queued.
  clock_.advance(core::Millis(2));
  EXPECT_TRUE(waitForConnections(0));
}

TEST_F(HttpServerTest, ClientVanishingMidRequestOrMidResponseIsCleanedUp) {
  start();
  {
    auto client = connect();
    ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial"));
    ASSERT_TRUE(waitForConnections(1));
    client->pump();
  }
  EXPECT_TRUE(waitForConnections(0));
  {
    auto client = connect();
    const int small = 4096;
    ::setsockopt(client->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::string many;
    for (int i = 0; i < 50; ++i) many += "GET /big HTTP/1.1\r\n\r\n";
    ASSERT_TRUE(client->send(many));
    for (int i = 0; i < 10; ++i) loop_.runOnce(1);
    // Closing with unread data resets the connection: the server's next send fails with
    // EPIPE/ECONNRESET, which must neither raise SIGPIPE nor leak the connection.
    client->close();
  }
  EXPECT_TRUE(waitForConnections(0));
}

TEST_F(HttpServerTest, HeadResponseHasLengthButNoBody) {
  router_.add("HEAD", "/hello", [](const HttpRequest&, const RouteParams&) {
    return HttpResponse::json(200, "{\"hello\":true}");
  });
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(
      client->pumpUntil([&] { return client->buffer().find("\r\n\r\n{") != std::string::npos; }));
  const size_t head_end = client->buffer().find("\r\n\r\n");
  EXPECT_NE(client->buffer().find("Content-Length: 14\r\n"), std::string::npos);
  EXPECT_EQ(client->buffer().compare(head_end + 4, 8, "HTTP/1.1"), 0) << client->buffer();
}

// Lowers the soft RLIMIT_NOFILE for one scope; the hard limit stays.
class LoweredDescriptorLimit {
 public:
  explicit LoweredDescriptorLimit(rlim_t soft) {
    EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  ~LoweredDescriptorLimit() { restore(); }
  void restore() {
    if (restored_) return;
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &saved_), 0);
    restored_ = true;
  }

 private:
  rlimit saved_{};
  bool restored_ = false;
};

// The lowest descriptor number free now: a soft limit there makes the next accept4
// fail with EMFILE.
rlim_t lowestFreeDescriptor() {
  const int fd = ::dup(0);
  EXPECT_GE(fd, 0);
  ::close(fd);
  return static_cast<rlim_t>(fd);
}

std::vector<std::string> g_warnings;
void keepWarnings(core::LogLevel level, std::string_view message, const core::LogFields&) {
  if (level >= core::LogLevel::kWarning) g_warnings.emplace_back(message);
}

TEST_F(HttpServerTest, DescriptorExhaustionIsAnswered503WithTheSpareDescriptor) {
#ifdef WA_SANITIZED
  // UBSan opens a pipe to probe memory during its checks; with no descriptor left it
  // reports every checked access as invalid, so this test cannot run under it.
  GTEST_SKIP() << "needs every file descriptor, which the sanitizer runtime uses too";
#endif
  start();
  // Loopback connects complete in the listen backlog, before the server accepts.
  std::vector<std::unique_ptr<LoopbackClient>> waiting;
  waiting.reserve(3);
  for (int i = 0; i < 3; ++i) waiting.push_back(connect());
  g_warnings.clear();
  core::Log::setSink(&keepWarnings);
  {
    LoweredDescriptorLimit limit(lowestFreeDescriptor());
    for (auto& client : waiting) {
      std::optional<ParsedResponse> r = client->readResponse();
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, 503);
      EXPECT_NE(r->body.find("TOO_MANY_CONNECTIONS"), std::string::npos) << r->body;
      EXPECT_NE(r->body.find("file descriptors"), std::string::npos) << r->body;
      EXPECT_TRUE(client->waitClosed());
    }
    EXPECT_EQ(server_->connectionCount(), 0u);
  }
  core::Log::setSink(nullptr);
  // One warning for the episode, not one per connection or per retry.
  EXPECT_EQ(g_warnings.size(), 1u) << (g_warnings.empty() ? "" : g_warnings.back());
  // With descriptors back (after at most one pause), connections are served again.
  clock_.advance(core::Millis(100));
  auto later = connect();
  EXPECT_EQ(exchange(*later, "GET /hello HTTP/1.1\r\n\r\n").status, 200);
}

TEST_F(HttpServerTest, DescriptorExhaustionWithoutASparePausesAcceptingInsteadOfSpinning) {
#ifdef WA_SANITIZED
  GTEST_SKIP() << "needs every file descriptor, which the sanitizer runtime uses too";
#endif
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) GTEST_SKIP() << "descriptor " << fd << " is not open";
  }
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("GET /hello HTTP/1.1\r\n\r\n"));
  {
    // Below every descriptor the server holds: releasing the spare frees nothing usable.
    LoweredDescriptorLimit limit(3);
    for (int i = 0; i < 5; ++i) loop_.runOnce(1);
    limit.restore();
  }
  EXPECT_EQ(server_->connectionCount(), 0u);
  // Still paused: the listening socket is not watched until the pause is over.
  for (int i = 0; i < 5; ++i) client->pump();
  EXPECT_EQ(server_->connectionCount(), 0u);
  EXPECT_TRUE(client->buffer().empty());
  clock_.advance(core::Millis(100));
  std::optional<ParsedResponse> r = client->readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  // The spare was taken back when accepting resumed: the next exhaustion gets a 503.
  auto next = connect();
  {
    LoweredDescriptorLimit limit(lowestFreeDescriptor());
    std::optional<ParsedResponse> refused = next->readResponse();
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 503);
  }
}

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
  server_ = std::make_unique<HttpServer>(loop_, router_, options_, renderFlatError);
  const std::string error = server_->listen("::1", 0);
  if (!error.empty()) GTEST_SKIP() << "no IPv6 loopback here: " << error;
  LoopbackClient client(loop_, server_->port(), AF_INET6);
  ParsedResponse r = exchange(client, "GET /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpServerTest, ListenReportsBadAddressesAndPortsInUse) {
  server_ = std::make_unique<HttpServer>(loop_, router_, options_, renderFlatError);
  EXPECT_NE(server_->listen("not-an-address", 0).find("not-an-address"), std::string::npos);
  EXPECT_NE(server_->listen("127.0.0.1:80", 0), "");
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  EXPECT_NE(server_->listen("127.0.0.1", 0), "");  // already listening
  HttpServer other(loop_, router_, options_, renderFlatError);
  const std::string in_use = other.listen("127.0.0.1", server_->port());
  EXPECT_NE(in_use.find("bind"), std::string::npos) << in_use;
  EXPECT_NE(in_use.find(std::to_string(server_->port())), std::string::npos) << in_use;
}

TEST_F(HttpServerTest, StopListeningKeepsOpenConnections) {
  start();
  auto client = connect();
  ASSERT_TRUE(waitForConnections(1));
  const uint16_t port = server_->port();
  server_->stopListening();
  LoopbackClient refused(loop_, port);
  EXPECT_EQ(refused.connectErrno(), ECONNREFUSED);
  EXPECT_EQ(exchange(*client, "GET /hello HTTP/1.1\r\n\r\n").status, 200);
}

TEST(HttpServerSerializeTest, AddsFramingCorsAndConnectionHeaders) {
  HttpResponse response = HttpResponse::json(201, "{\"id\":\"a\"}");
  response.headers.emplace_back("Location", "/jobs/a");
  EXPECT_EQ(serializeResponse(response, true, 1),
            "HTTP/1.1 201 Created\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 10\r\n"
            "Cache-Control: no-store\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Connection: keep-alive\r\n"
            "Location: /jobs/a\r\n"
            "\r\n"
            "{\"id\":\"a\"}");
}

TEST(HttpServerSerializeTest, HttpOneZeroAndClose) {
  const std::string out = serializeResponse(HttpResponse::json(404, "{}"), false, 0);
  EXPECT_EQ(out.rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(HttpServerSerializeTest, NoContentHasNoBodyOrFraming) {
  const std::string out = serializeResponse(HttpResponse{204, {}, "ignored"}, true, 1);
  EXPECT_EQ(out,
            "HTTP/1.1 204 No Content\r\n"
            "Cache-Control: no-store\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Connection: keep-alive\r\n\r\n");
}

TEST(HttpServerSerializeTest, EmptyBodyStillDeclaresTypeAndLength) {
  const std::string out = serializeResponse(HttpResponse::json(200, ""), true, 1);
  EXPECT_NE(out.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Length: 0\r\n"), std::string::npos);
}

TEST(HttpServerSerializeTest, HandlerHeadersCannotBreakFraming) {
  HttpResponse response = HttpResponse::json(200, "ok");
  response.headers = {{"Content-Type", "text/plain"},
                      {"Cache-Control", "max-age=5"},
                      {"Content-Length", "999"},
                      {"Connection", "keep-alive"},
                      {"X-Injected", "a\r\nSet-Cookie: x"},
                      {"Bad Name", "v"},
                      {"X-Fine", "yes"}};
  const std::string out = serializeResponse(response, false, 1);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Content-Length: 2\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Connection: close\r\n"
            "Content-Type: text/plain\r\n"
            "Cache-Control: max-age=5\r\n"
            "X-Fine: yes\r\n"
            "\r\n"
            "ok");
}

TEST(HttpServerSerializeTest, UnknownAndInvalidStatuses) {
  EXPECT_EQ(serializeResponse(HttpResponse::json(299, "{}"), true, 1)
                .rfind("HTTP/1.1 299 Unknown\r\n", 0),
            0u);
  EXPECT_EQ(serializeResponse(HttpResponse::json(42, "{}"), true, 1)
                .rfind("HTTP/1.1 500 Internal Server Error\r\n", 0),
            0u);
}

}  // namespace
}  // namespace wa::http

namespace wa::http {
namespace {

// HttpResponse::later: the answer comes from a later event; requests pipelined behind it
// wait for it, in order; a client that leaves first makes respond() a no-op.
class DeferredResponseTest : public HttpServerTest {
 protected:
  DeferredResponseTest() {
    router_.add("POST", "/later", [this](const HttpRequest& request, const RouteParams&) {
      return HttpResponse::later(202, [this, body = request.body](const ResponderPtr& responder) {
        waiting_.emplace_back(responder, body);
      });
    });
  }
  std::vector<std::pair<ResponderPtr, std::string>> waiting_;
};

TEST_F(DeferredResponseTest, TheAnswerWaitsForTheResponderAndPipelinedRequestsWaitToo) {
  start();
  auto client = connect();
  ASSERT_TRUE(
      client->send("POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
                   "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (int i = 0; i < 20 && waiting_.empty(); ++i) loop_.runOnce(10);
  ASSERT_EQ(waiting_.size(), 1u);
  EXPECT_TRUE(waiting_[0].first->isOpen());
  // Nothing is answered meanwhile, not even the request behind it.
  EXPECT_FALSE(client->readResponse(std::chrono::milliseconds(100)));
  waiting_[0].first->respond(HttpResponse::json(202, "{\"body\":\"" + waiting_[0].second + "\"}"));
  EXPECT_FALSE(waiting_[0].first->isOpen());
  std::optional<ParsedResponse> first = client->readResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 202);
  EXPECT_EQ(first->body, "{\"body\":\"A\"}");
  std::optional<ParsedResponse> second = client->readResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "{\"hello\":true}");
}

TEST_F(DeferredResponseTest, AResponderWhoseClientLeftDoesNothing) {
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nB"));
  for (int i = 0; i < 20 && waiting_.empty(); ++i) loop_.runOnce(10);
  ASSERT_EQ(waiting_.size(), 1u);
  client.reset();
  for (int i = 0; i < 20 && server_->connectionCount() > 0; ++i) loop_.runOnce(10);
  EXPECT_EQ(server_->connectionCount(), 0u);
  EXPECT_FALSE(waiting_[0].first->isOpen());
  waiting_[0].first->respond(HttpResponse::json(202, "{}"));  // no effect, no crash
  server_.reset();
  waiting_[0].first->respond(HttpResponse::json(202, "{}"));  // the server is gone too
}

}  // namespace
}  // namespace wa::http
