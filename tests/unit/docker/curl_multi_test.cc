#include "docker/curl_multi.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "docker/fake_engine.h"

namespace wa::docker {
namespace {

using namespace std::chrono_literals;
using testing::FakeEngine;
using testing::FakeReply;
using testing::FakeRequest;
using testing::runFor;
using testing::runUntil;

class CurlMultiTest : public ::testing::Test {
 protected:
  CurlMulti::Request get(const std::string& path) {
    CurlMulti::Request r;
    r.url = "http://localhost" + path;
    r.unix_socket_path = engine.socketPath();
    return r;
  }

  core::SystemClock clock;
  core::EventLoop loop{clock};
  FakeEngine engine{loop};
  std::unique_ptr<CurlMulti> multi = std::make_unique<CurlMulti>(loop);
  testing::HeldRequests held;
};

TEST_F(CurlMultiTest, GetReturnsStatusAndBodyLater) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{200, R"({"ok":true})"}; });
  std::optional<CurlMulti::Response> response;
  held +=
      multi->start(get("/v1.41/_ping"), [&](CurlMulti::Response r) { response = std::move(r); });
  EXPECT_FALSE(response);  // never inside start()
  EXPECT_EQ(multi->inFlight(), 1u);
  ASSERT_TRUE(runUntil(loop, [&] { return response.has_value(); }));
  EXPECT_EQ(response->result, CURLE_OK);
  EXPECT_EQ(response->http_status, 200);
  EXPECT_EQ(response->body, R"({"ok":true})");
  EXPECT_EQ(multi->inFlight(), 0u);
  ASSERT_EQ(engine.requests.size(), 1u);
  EXPECT_EQ(engine.requests[0].method, "GET");
  EXPECT_EQ(engine.requests[0].target, "/v1.41/_ping");
}

TEST_F(CurlMultiTest, PostSendsTheBodyAsJsonAndEmptyPostsWithContentLengthZero) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{201, "{}"}; });
  int done = 0;
  auto post = get("/create");
  post.method = "POST";
  post.body = R"({"Image":"x"})";
  held += multi->start(post, [&](const CurlMulti::Response& r) {
    EXPECT_EQ(r.http_status, 201);
    ++done;
  });
  auto empty = get("/start");
  empty.method = "POST";
  held += multi->start(empty, [&](const CurlMulti::Response&) { ++done; });
  auto del = get("/containers/x?force=1");
  del.method = "DELETE";
  held += multi->start(del, [&](const CurlMulti::Response&) { ++done; });
  ASSERT_TRUE(runUntil(loop, [&] { return done == 3; }));
  ASSERT_EQ(engine.requests.size(), 3u);
  for (const FakeRequest& r : engine.requests) {
    if (r.target == "/create") {
      EXPECT_EQ(r.method, "POST");
      EXPECT_EQ(r.body, R"({"Image":"x"})");
      EXPECT_EQ(r.headers.at("content-type"), "application/json");
      EXPECT_EQ(r.headers.count("expect"), 0u);
    } else if (r.target == "/start") {
      EXPECT_EQ(r.method, "POST");
      EXPECT_EQ(r.headers.at("content-length"), "0");
      EXPECT_EQ(r.headers.count("content-type"), 0u);
    } else {
      EXPECT_EQ(r.method, "DELETE");
      EXPECT_EQ(r.target, "/containers/x?force=1");
    }
  }
}

TEST_F(CurlMultiTest, PutAndPostSendBinaryBodiesWithTheirTypeAndExtraHeaders) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{200, "{}"}; });
  // NULs throughout, and large enough that curl would otherwise ask for 100-continue.
  std::string tar(3 << 20, '\0');
  for (size_t i = 0; i < tar.size(); i += 7) tar[i] = static_cast<char>(i & 0xff);
  int done = 0;
  auto put = get("/containers/x/archive?path=%2Fw");
  put.method = "PUT";
  put.body = tar;
  put.content_type = "application/x-tar";
  held += multi->start(put, [&](const CurlMulti::Response& r) {
    EXPECT_EQ(r.http_status, 200) << r.error;
    ++done;
  });
  auto post = get("/images/create?fromImage=x");
  post.method = "POST";
  post.body = std::string("a\0b", 3);
  post.content_type = "application/x-tar";
  post.headers = {"X-Registry-Auth: e30"};
  held += multi->start(post, [&](const CurlMulti::Response&) { ++done; });
  ASSERT_TRUE(runUntil(
      loop, [&] { return done == 2; }, 10s));
  ASSERT_EQ(engine.requests.size(), 2u);
  for (const FakeRequest& r : engine.requests) {
    if (r.method == "PUT") {
      EXPECT_EQ(r.target, "/containers/x/archive?path=%2Fw");
      EXPECT_TRUE(r.body == tar) << "PUT body differs; size " << r.body.size();
      EXPECT_EQ(r.headers.at("content-type"), "application/x-tar");
      EXPECT_EQ(r.headers.count("expect"), 0u);
      EXPECT_EQ(r.headers.count("x-registry-auth"), 0u);
    } else {
      EXPECT_EQ(r.method, "POST");
      EXPECT_EQ(r.body, std::string("a\0b", 3));
      EXPECT_EQ(r.headers.at("content-type"), "application/x-tar");
      EXPECT_EQ(r.headers.at("x-registry-auth"), "e30");
    }
  }
}

TEST_F(CurlMultiTest, ARecycledHandleForgetsThePreviousMethod) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{200, "{}"}; });
  std::vector<std::string> methods = {"PUT", "GET", "DELETE", "POST", "GET"};
  size_t done = 0;
  std::function<void(CurlMulti::Response)> next = [&](const CurlMulti::Response&) {
    if (++done == methods.size()) return;
    auto request = get("/r");
    request.method = methods[done];
    held += multi->start(request, next);
  };
  auto first = get("/r");
  first.method = methods[0];
  first.body = "x";
  held += multi->start(first, next);
  ASSERT_TRUE(runUntil(loop, [&] { return done == methods.size(); }));
  ASSERT_EQ(engine.requests.size(), methods.size());
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_EQ(engine.requests[i].method, methods[i]);
    if (i > 0) {
      EXPECT_EQ(engine.requests[i].body, "");
    }
  }
}

TEST_F(CurlMultiTest, AHeaderWithALineBreakIsNotSent) {
  auto request = get("/x");
  request.headers = {"X-Registry-Auth: a\r\nX-Evil: 1"};
  std::optional<CurlMulti::Response> response;
  held += multi->start(request, [&](CurlMulti::Response r) { response = std::move(r); });
  ASSERT_TRUE(runUntil(loop, [&] { return response.has_value(); }));
  EXPECT_NE(response->result, CURLE_OK);
  EXPECT_NE(response->error.find("line break"), std::string::npos) << response->error;
  EXPECT_TRUE(engine.requests.empty());
}

TEST_F(CurlMultiTest, SequentialRequestsReuseOneConnection) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{200, "{}"}; });
  int done = 0;
  std::function<void(CurlMulti::Response)> next = [&](const CurlMulti::Response& r) {
    EXPECT_EQ(r.result, CURLE_OK);
    if (++done < 5) held += multi->start(get("/again"), next);  // a completion may start requests
  };
  held += multi->start(get("/first"), next);
  ASSERT_TRUE(runUntil(loop, [&] { return done == 5; }));
  EXPECT_EQ(engine.accepted, 1);
  EXPECT_EQ(engine.requests.size(), 5u);
}

TEST_F(CurlMultiTest, ManyConcurrentRequestsAllComplete) {
  engine.setHandler([](const FakeRequest& r) { return FakeReply{200, r.target}; });
  std::vector<std::string> bodies;
  for (int i = 0; i < 40; ++i) {
    held += multi->start(get("/n/" + std::to_string(i)),
                         [&](const CurlMulti::Response& r) { bodies.push_back(r.body); });
  }
  EXPECT_EQ(multi->inFlight(), 40u);
  ASSERT_TRUE(runUntil(loop, [&] { return bodies.size() == 40; }));
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(std::unique(bodies.begin(), bodies.end()), bodies.end());
  EXPECT_EQ(multi->inFlight(), 0u);
}

TEST_F(CurlMultiTest, ServerClosingConnectionsMeansNewOnes) {
  // Each reply closes its connection, silently or with "Connection: close": curl drops the
  // socket (its FileEvent goes) and connects again, likely getting the same fd number.
  int n = 0;
  engine.setHandler([&](const FakeRequest&) {
    FakeReply reply{200, "{}"};
    if (++n % 2)
      reply.close_after = true;
    else
      reply.drop_after = true;
    return reply;
  });
  int done = 0;
  std::function<void(CurlMulti::Response)> next = [&](const CurlMulti::Response& r) {
    EXPECT_EQ(r.result, CURLE_OK) << r.error;
    if (++done < 6) held += multi->start(get("/again"), next);
  };
  held += multi->start(get("/first"), next);
  ASSERT_TRUE(runUntil(loop, [&] { return done == 6; }));
  EXPECT_EQ(engine.accepted, 6);
  ASSERT_TRUE(runUntil(loop, [&] { return multi->watchedSockets() == 0; }));
}

TEST_F(CurlMultiTest, ConnectFailureIsATransportError) {
  auto request = get("/x");
  request.unix_socket_path = "/nonexistent/wa-docker.sock";
  std::optional<CurlMulti::Response> response;
  held += multi->start(request, [&](CurlMulti::Response r) { response = std::move(r); });
  ASSERT_TRUE(runUntil(loop, [&] { return response.has_value(); }));
  EXPECT_EQ(response->result, CURLE_COULDNT_CONNECT);
  EXPECT_EQ(response->http_status, 0);
}

TEST_F(CurlMultiTest, RequestTimesOut) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{.hang = true}; });
  auto request = get("/slow");
  request.timeout_ms = 150;
  std::optional<CurlMulti::Response> response;
  const auto started = std::chrono::steady_clock::now();
  held += multi->start(request, [&](CurlMulti::Response r) { response = std::move(r); });
  ASSERT_TRUE(runUntil(loop, [&] { return response.has_value(); }));
  EXPECT_EQ(response->result, CURLE_OPERATION_TIMEDOUT);
  EXPECT_FALSE(response->error.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 140ms);
}

TEST_F(CurlMultiTest, NoTimeoutMeansItWaits) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{.hang = true}; });
  auto request = get("/wait");
  request.timeout_ms = 0;
  bool done = false;
  held += multi->start(request, [&](const CurlMulti::Response&) { done = true; });
  runFor(loop, 300ms);
  EXPECT_FALSE(done);
  EXPECT_EQ(multi->inFlight(), 1u);
}

TEST_F(CurlMultiTest, DestroyingInsideACompletionAbortsTheRest) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{200, "{}"}; });
  int calls = 0;
  for (int i = 0; i < 5; ++i) {
    held += multi->start(get("/x"), [&](const CurlMulti::Response&) {
      ++calls;
      multi.reset();
    });
  }
  ASSERT_TRUE(runUntil(loop, [&] { return calls > 0; }));
  runFor(loop, 100ms);
  EXPECT_EQ(calls, 1);
}

TEST_F(CurlMultiTest, DestructionAbortsInFlightWithoutCallbacks) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{.hang = true}; });
  bool called = false;
  held += multi->start(get("/hang"), [&](const CurlMulti::Response&) { called = true; });
  ASSERT_TRUE(runUntil(loop, [&] { return engine.requests.size() == 1; }));
  multi.reset();
  // The connection is closed, and nothing runs afterwards.
  ASSERT_TRUE(runUntil(loop, [&] { return engine.open_connections() == 0; }));
  EXPECT_FALSE(called);
}

TEST_F(CurlMultiTest, FailLaterCompletesFromTheLoop) {
  bool called = false;
  CurlMulti::Response failure;
  failure.result = CURLE_UNSUPPORTED_PROTOCOL;
  failure.error = "nope";
  held += multi->failLater(failure, [&](const CurlMulti::Response& r) {
    EXPECT_EQ(r.result, CURLE_UNSUPPORTED_PROTOCOL);
    EXPECT_EQ(r.error, "nope");
    called = true;
  });
  EXPECT_FALSE(called);
  EXPECT_EQ(multi->inFlight(), 1u);
  loop.runOnce(0);
  EXPECT_TRUE(called);
  EXPECT_EQ(multi->inFlight(), 0u);
}

TEST_F(CurlMultiTest, TcpEndpoint) {
  FakeEngine tcp(loop, /*tcp=*/true);
  tcp.setHandler([](const FakeRequest&) { return FakeReply{200, "tcp"}; });
  CurlMulti::Request request;
  request.url = "http://" + tcp.dockerHost().substr(6) + "/v1.41/_ping";
  std::optional<CurlMulti::Response> response;
  held += multi->start(request, [&](CurlMulti::Response r) { response = std::move(r); });
  ASSERT_TRUE(runUntil(loop, [&] { return response.has_value(); }));
  EXPECT_EQ(response->result, CURLE_OK) << response->error;
  EXPECT_EQ(response->body, "tcp");
}

}  // namespace
}  // namespace wa::docker
