// HttpServer's access: the bearer-token gate (401, open routes, CORS preflight).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "http/bearer_auth.h"
#include "http/http_server.h"
#include "http/loopback_client.h"

namespace wa::http {
namespace {

using testing::LoopbackClient;
using testing::ParsedResponse;

constexpr const char* kToken = "test-token-0123456789";

HttpResponse renderError(int status, std::string_view code, std::string_view message) {
  return HttpResponse::json(status, "{\"error\":{\"code\":\"" + std::string(code) +
                                        "\",\"message\":\"" + std::string(message) + "\"}}");
}

class HttpServerAccessTest : public ::testing::Test {
 protected:
  HttpServerAccessTest() {
    router_.add("GET", "/health", [](const HttpRequest&, const RouteParams&) {
      return HttpResponse::json(200, "{\"status\":\"ok\"}");
    });
    router_.add("GET", "/jobs/{id}", [](const HttpRequest&, const RouteParams& params) {
      return HttpResponse::json(200, params.get("id"));
    });
    router_.add("POST", "/jobs", [](const HttpRequest& request, const RouteParams&) {
      return HttpResponse::json(202, request.body);
    });
    server_ = std::make_unique<HttpServer>(loop_, router_, options_, renderError);
  }

  ParsedResponse exchange(LoopbackClient& client, std::string_view request) {
    EXPECT_TRUE(client.send(request));
    std::optional<ParsedResponse> response = client.readResponse();
    EXPECT_TRUE(response.has_value()) << "no response to: " << request;
    return response.value_or(ParsedResponse{});
  }

  void enableAuth() {
    auth_.setToken(kToken);
    auth_.setOpenRoutes({"/health"});
    server_->setAuth(&auth_);
  }

  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
  Router router_;
  HttpServerOptions options_;
  BearerAuth auth_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerAccessTest, RequestsWithoutTheTokenGet401) {
  enableAuth();
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  std::vector<std::string> seen;
  server_->setObserver([&seen](const RequestRecord& r) {
    seen.push_back(std::string(r.route) + " " + std::to_string(r.status));
  });
  LoopbackClient client(loop_, server_->port());

  ParsedResponse missing = exchange(client, "GET /jobs/7 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(missing.status_line, "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(missing.headerOr("WWW-Authenticate"), "Bearer realm=\"worker-agent\"");
  EXPECT_NE(missing.body.find("\"code\":\"UNAUTHORIZED\""), std::string::npos) << missing.body;
  EXPECT_EQ(missing.headerOr("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(missing.headerOr("Connection"), "keep-alive");

  ParsedResponse wrong = exchange(
      client, "GET /jobs/7 HTTP/1.1\r\nAuthorization: Bearer wrong-token-0123456789\r\n\r\n");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.headerOr("WWW-Authenticate"),
            "Bearer realm=\"worker-agent\", error=\"invalid_token\"");
  EXPECT_EQ(wrong.body.find("wrong-token"), std::string::npos) << "echoes the token";

  ParsedResponse right = exchange(
      client, std::string("GET /jobs/7 HTTP/1.1\r\nAuthorization: bearer  ") + kToken + "\r\n\r\n");
  EXPECT_EQ(right.status, 200);
  EXPECT_EQ(right.body, "7");

  // The query string is not a place for the token.
  EXPECT_EQ(
      exchange(client, std::string("GET /jobs/7?access_token=") + kToken + " HTTP/1.1\r\n\r\n")
          .status,
      401);
  // Unknown paths and wrong methods are not told apart without the token.
  EXPECT_EQ(exchange(client, "GET /nope HTTP/1.1\r\n\r\n").status, 401);
  EXPECT_EQ(exchange(client, "DELETE /jobs HTTP/1.1\r\n\r\n").status, 401);
  EXPECT_FALSE(client.eof());
  EXPECT_EQ(seen, (std::vector<std::string>{"/jobs/{id} 401", "/jobs/{id} 401", "/jobs/{id} 200",
                                            "/jobs/{id} 401", "unmatched 401", "/jobs 401"}));
}

TEST_F(HttpServerAccessTest, OpenRoutesAndPreflightsNeedNoToken) {
  enableAuth();
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  LoopbackClient client(loop_, server_->port());
  EXPECT_EQ(exchange(client, "GET /health HTTP/1.1\r\n\r\n").status, 200);
  EXPECT_EQ(exchange(client, "GET /%68ealth HTTP/1.1\r\n\r\n").status, 200);  // same route
  EXPECT_EQ(exchange(client, "POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status, 405);
  ParsedResponse preflight = exchange(client,
                                      "OPTIONS /jobs HTTP/1.1\r\nOrigin: http://dash.example\r\n"
                                      "Access-Control-Request-Method: POST\r\n"
                                      "Access-Control-Request-Headers: authorization\r\n\r\n");
  EXPECT_EQ(preflight.status, 204);
  EXPECT_NE(preflight.headerOr("Access-Control-Allow-Headers").find("Authorization"),
            std::string::npos);
  EXPECT_EQ(preflight.headerOr("Access-Control-Allow-Methods"), "POST, OPTIONS");
  ParsedResponse posted =
      exchange(client, std::string("POST /jobs HTTP/1.1\r\nAuthorization: Bearer ") + kToken +
                           "\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(posted.status, 202);
}

TEST_F(HttpServerAccessTest, ReplacingTheTokenAppliesToTheNextRequest) {
  enableAuth();
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  LoopbackClient client(loop_, server_->port());
  const std::string old_request =
      std::string("GET /jobs/1 HTTP/1.1\r\nAuthorization: Bearer ") + kToken + "\r\n\r\n";
  EXPECT_EQ(exchange(client, old_request).status, 200);
  auth_.setToken("the-next-token-0123456789");
  EXPECT_EQ(exchange(client, old_request).status, 401);
  EXPECT_EQ(
      exchange(client,
               "GET /jobs/1 HTTP/1.1\r\nAuthorization: Bearer the-next-token-0123456789\r\n\r\n")
          .status,
      200);
  auth_.setToken("");
  EXPECT_EQ(exchange(client, "GET /jobs/1 HTTP/1.1\r\n\r\n").status, 200);
}

}  // namespace
}  // namespace wa::http
