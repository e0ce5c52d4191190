// HttpServer's access: the bearer-token gate (401, open routes, CORS preflight), the
// unix stream socket listener (served alike, file mode, stale sockets, removal) and the
// routes served on that socket only.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
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

constexpr const char* kAccessToken = "test-token-0123456789";

HttpResponse renderNestedError(int status, std::string_view code, std::string_view message) {
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
    char pattern[] = "/tmp/wa-http-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    dir_ = pattern;
    socket_path_ = dir_ + "/api.sock";
    server_ = std::make_unique<HttpServer>(loop_, router_, options_, renderNestedError);
  }
  ~HttpServerAccessTest() override {
    server_.reset();
    ::unlink(socket_path_.c_str());
    ::unlink((dir_ + "/file").c_str());
    ::rmdir(dir_.c_str());
  }

  ParsedResponse exchange(LoopbackClient& client, std::string_view request) {
    EXPECT_TRUE(client.send(request));
    std::optional<ParsedResponse> response = client.readResponse();
    EXPECT_TRUE(response.has_value()) << "no response to: " << request;
    return response.value_or(ParsedResponse{});
  }

  void enableAuth() {
    auth_.setToken(kAccessToken);
    auth_.setOpenRoutes({"/health"});
    server_->setAuth(&auth_);
  }

  static bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  // A unix socket bound at path by someone else; listening or not.
  static core::UniqueFd bindUnix(const std::string& path, bool listening) {
    core::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, path.size());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) std::abort();
    if (listening && ::listen(fd.get(), 4) != 0) std::abort();
    return fd;
  }

  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
  Router router_;
  HttpServerOptions options_;
  BearerAuth auth_;
  std::string dir_;
  std::string socket_path_;
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

  ParsedResponse right =
      exchange(client, std::string("GET /jobs/7 HTTP/1.1\r\nAuthorization: bearer  ") +
                           kAccessToken + "\r\n\r\n");
  EXPECT_EQ(right.status, 200);
  EXPECT_EQ(right.body, "7");

  // The query string is not a place for the token.
  EXPECT_EQ(exchange(client,
                     std::string("GET /jobs/7?access_token=") + kAccessToken + " HTTP/1.1\r\n\r\n")
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
      exchange(client, std::string("POST /jobs HTTP/1.1\r\nAuthorization: Bearer ") + kAccessToken +
                           "\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(posted.status, 202);
}

TEST_F(HttpServerAccessTest, ReplacingTheTokenAppliesToTheNextRequest) {
  enableAuth();
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  LoopbackClient client(loop_, server_->port());
  const std::string old_request =
      std::string("GET /jobs/1 HTTP/1.1\r\nAuthorization: Bearer ") + kAccessToken + "\r\n\r\n";
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

TEST_F(HttpServerAccessTest, UnixSocketServesTheSameRoutesWithItsMode) {
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  const mode_t old_umask = ::umask(0077);  // the mode must not depend on it
  const std::string error = server_->listenUnix(socket_path_, 0660);
  ::umask(old_umask);
  ASSERT_EQ(error, "");
  struct stat st {};
  ASSERT_EQ(::lstat(socket_path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_NE(server_->listenUnix(socket_path_, 0660), "");  // already listening

  LoopbackClient unix_client(loop_, socket_path_);
  ASSERT_EQ(unix_client.connectErrno(), 0);
  ParsedResponse r = exchange(unix_client, "GET /jobs/abc HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(exchange(unix_client, "POST /jobs HTTP/1.1\r\nContent-Length: 4\r\n\r\n{\"a\"").status,
            202);
  // TCP goes on alike.
  LoopbackClient tcp_client(loop_, server_->port());
  EXPECT_EQ(exchange(tcp_client, "GET /health HTTP/1.1\r\n\r\n").status, 200);
}

TEST_F(HttpServerAccessTest, TheTokenIsRequiredOnTheUnixSocketToo) {
  enableAuth();
  ASSERT_EQ(server_->listenUnix(socket_path_, 0660), "");
  LoopbackClient client(loop_, socket_path_);
  EXPECT_EQ(exchange(client, "GET /jobs/1 HTTP/1.1\r\n\r\n").status, 401);
  EXPECT_EQ(exchange(client, std::string("GET /jobs/1 HTTP/1.1\r\nAuthorization: Bearer ") +
                                 kAccessToken + "\r\n\r\n")
                .status,
            200);
}

TEST_F(HttpServerAccessTest, UnixOnlyRoutesAreRefusedOnTcp) {
  router_.add("POST", "/operator/drain", [](const HttpRequest& request, const RouteParams&) {
    return HttpResponse::json(200, request.transport == Transport::kUnix ? "unix" : "tcp");
  });
  server_->setUnixOnlyRoutes({"/operator/drain"});
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  ASSERT_EQ(server_->listenUnix(socket_path_, 0660), "");
  std::vector<std::string> seen;
  server_->setObserver([&seen](const RequestRecord& r) {
    seen.push_back(std::string(r.route) + " " + std::to_string(r.status));
  });

  LoopbackClient tcp_client(loop_, server_->port());
  ParsedResponse refused =
      exchange(tcp_client, "POST /operator/drain HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("\"code\":\"UNIX_SOCKET_ONLY\""), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("listen_unix"), std::string::npos) << refused.body;
  // Any method on the path, so that TCP does not learn which one is served.
  EXPECT_EQ(exchange(tcp_client, "GET /operator/drain HTTP/1.1\r\n\r\n").status, 403);
  EXPECT_FALSE(tcp_client.eof());
  // Other routes are served on TCP as before.
  EXPECT_EQ(exchange(tcp_client, "GET /health HTTP/1.1\r\n\r\n").status, 200);

  LoopbackClient unix_client(loop_, socket_path_);
  ParsedResponse served =
      exchange(unix_client, "POST /operator/drain HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(served.status, 200);
  EXPECT_EQ(served.body, "unix");
  EXPECT_EQ(exchange(unix_client, "GET /operator/drain HTTP/1.1\r\n\r\n").status, 405);
  EXPECT_EQ(seen,
            (std::vector<std::string>{"/operator/drain 403", "/operator/drain 403", "/health 200",
                                      "/operator/drain 200", "/operator/drain 405"}));
}

// The socket's file mode is their access control: no token on the socket, none that helps
// on TCP. The other routes keep the token on both.
TEST_F(HttpServerAccessTest, UnixOnlyRoutesNeedNoTokenOnTheSocketAndAreRefusedOnTcp) {
  enableAuth();
  router_.add("POST", "/operator/drain",
              [](const HttpRequest&, const RouteParams&) { return HttpResponse::json(200, "{}"); });
  server_->setUnixOnlyRoutes({"/operator/drain"});
  ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  ASSERT_EQ(server_->listenUnix(socket_path_, 0660), "");
  LoopbackClient tcp_client(loop_, server_->port());
  EXPECT_EQ(
      exchange(tcp_client, "POST /operator/drain HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status,
      403);
  EXPECT_EQ(exchange(tcp_client, std::string("POST /operator/drain HTTP/1.1\r\nAuthorization: "
                                             "Bearer ") +
                                     kAccessToken + "\r\nContent-Length: 0\r\n\r\n")
                .status,
            403);
  LoopbackClient unix_client(loop_, socket_path_);
  EXPECT_EQ(
      exchange(unix_client, "POST /operator/drain HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status,
      200);
  EXPECT_EQ(exchange(unix_client, "GET /jobs/1 HTTP/1.1\r\n\r\n").status, 401);
}

TEST_F(HttpServerAccessTest, StopListeningRemovesTheSocketAndKeepsConnections) {
  ASSERT_EQ(server_->listenUnix(socket_path_, 0660), "");
  LoopbackClient client(loop_, socket_path_);
  ASSERT_EQ(client.connectErrno(), 0);
  EXPECT_EQ(exchange(client, "GET /health HTTP/1.1\r\n\r\n").status, 200);
  server_->stopListening();
  EXPECT_FALSE(exists(socket_path_));
  EXPECT_EQ(exchange(client, "GET /health HTTP/1.1\r\n\r\n").status, 200);
  LoopbackClient refused(loop_, socket_path_);
  EXPECT_EQ(refused.connectErrno(), ENOENT);
}

TEST_F(HttpServerAccessTest, DestroyingTheServerRemovesTheSocket) {
  ASSERT_EQ(server_->listenUnix(socket_path_, 0660), "");
  EXPECT_TRUE(exists(socket_path_));
  server_.reset();
  EXPECT_FALSE(exists(socket_path_));
}

TEST_F(HttpServerAccessTest, AStaleSocketIsReplaced) {
  bindUnix(socket_path_, false);  // bound, never listened on, closed: what a crash leaves
  ASSERT_TRUE(exists(socket_path_));
  ASSERT_EQ(server_->listenUnix(socket_path_, 0660), "");
  LoopbackClient client(loop_, socket_path_);
  EXPECT_EQ(exchange(client, "GET /health HTTP/1.1\r\n\r\n").status, 200);
}

TEST_F(HttpServerAccessTest, ASocketSomeoneAnswersOnIsLeftAlone) {
  core::UniqueFd other = bindUnix(socket_path_, true);
  const std::string error = server_->listenUnix(socket_path_, 0660);
  EXPECT_NE(error.find("another process is listening on it"), std::string::npos) << error;
  EXPECT_NE(error.find(socket_path_), std::string::npos) << error;
  EXPECT_TRUE(exists(socket_path_));
  // Its owner can still be reached there.
  LoopbackClient client(loop_, socket_path_);
  EXPECT_EQ(client.connectErrno(), 0);
}

TEST_F(HttpServerAccessTest, AnythingButASocketIsLeftAlone) {
  const std::string file = dir_ + "/file";
  std::ofstream(file) << "precious";
  const std::string error = server_->listenUnix(file, 0660);
  EXPECT_NE(error.find("is not a socket"), std::string::npos) << error;
  std::ifstream in(file);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(HttpServerAccessTest, ASocketReboundByAnotherProcessIsNotRemoved) {
  ASSERT_EQ(server_->listenUnix(socket_path_, 0660), "");
  // Someone removed ours and bound their own at the same path.
  ASSERT_EQ(::unlink(socket_path_.c_str()), 0);
  core::UniqueFd other = bindUnix(socket_path_, true);
  server_->stopListening();
  EXPECT_TRUE(exists(socket_path_));
}

TEST_F(HttpServerAccessTest, BadUnixPaths) {
  EXPECT_NE(server_->listenUnix("", 0660), "");
  EXPECT_NE(server_->listenUnix("/" + std::string(108, 'a'), 0660).find("1 to 107 bytes"),
            std::string::npos);
  const std::string no_dir = server_->listenUnix(dir_ + "/missing/api.sock", 0660);
  EXPECT_NE(no_dir.find("bind: No such file or directory"), std::string::npos) << no_dir;
}

}  // namespace
}  // namespace wa::http
