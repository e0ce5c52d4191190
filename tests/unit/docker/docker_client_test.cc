#include "docker/docker_client.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

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

class DockerClientTest : public ::testing::Test {
 protected:
  // Runs until done holds a value.
  template <typename T>
  Result<T> await(std::optional<Result<T>>& done) {
    EXPECT_TRUE(runUntil(loop, [&] { return done.has_value(); }));
    if (!done) return DockerError{-1, "test timed out"};
    return *done;
  }
  template <typename T>
  Callback<T> into(std::optional<Result<T>>& slot) {
    return [&slot](Result<T> r) { slot.emplace(std::move(r)); };
  }
  const FakeRequest& onlyRequest() {
    EXPECT_EQ(engine.requests.size(), 1u);
    return engine.requests.back();
  }

  core::SystemClock clock;
  core::EventLoop loop{clock};
  FakeEngine engine{loop};
  std::unique_ptr<DockerClient> docker = std::make_unique<DockerClient>(loop, engine.dockerHost());
};

TEST_F(DockerClientTest, PingVersionInfo) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target == "/v1.41/_ping") return FakeReply{200, "OK"};
    if (r.target == "/v1.41/version")
      return FakeReply{200,
                       R"({"Version":"20.10.24","ApiVersion":"1.41","Os":"linux","Arch":"amd64"})"};
    if (r.target == "/v1.41/info") return FakeReply{200, R"({"DockerRootDir":"/data/docker"})"};
    return FakeReply{404, R"({"message":"page not found"})"};
  });
  std::optional<Result<Unit>> ping;
  std::optional<Result<EngineVersion>> version;
  std::optional<Result<EngineInfo>> info;
  docker->ping(into(ping));
  docker->version(into(version));
  docker->info(into(info));
  EXPECT_FALSE(ping || version || info);  // never synchronous
  EXPECT_EQ(docker->inFlight(), 3u);
  EXPECT_TRUE(await(ping).ok());
  auto v = await(version);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value().version, "20.10.24");
  EXPECT_EQ(v.value().arch, "amd64");
  auto i = await(info);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i.value().docker_root_dir, "/data/docker");
  EXPECT_EQ(docker->inFlight(), 0u);
}

TEST_F(DockerClientTest, CreateSendsTheSpecAndYieldsTheId) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{201, R"({"Id":"abc","Warnings":[]})"};
  });
  ContainerSpec spec;
  spec.image = "wa-test-busybox:1";
  spec.cmd = {"cat"};
  spec.env = {"A=1"};
  spec.labels = {{"worker-agent.job_id", "j1"}};
  spec.memory_bytes = 64 << 20;
  std::optional<Result<std::string>> done;
  docker->createContainer(spec, "job 1/x", into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), "abc");
  const FakeRequest& request = onlyRequest();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1.41/containers/create?name=job%201%2Fx");
  EXPECT_EQ(request.headers.at("content-type"), "application/json");
  rapidjson::Document body;
  body.Parse(request.body.c_str());
  ASSERT_FALSE(body.HasParseError());
  EXPECT_STREQ(body["Image"].GetString(), "wa-test-busybox:1");
  EXPECT_STREQ(body["Cmd"][0].GetString(), "cat");
  EXPECT_TRUE(body["OpenStdin"].GetBool());
  EXPECT_TRUE(body["StdinOnce"].GetBool());
  EXPECT_EQ(body["HostConfig"]["MemorySwap"].GetInt64(), 64 << 20);
  EXPECT_STREQ(body["HostConfig"]["NetworkMode"].GetString(), "none");
}

TEST_F(DockerClientTest, CreateWithoutNameHasNoQuery) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{201, R"({"Id":"abc"})"}; });
  std::optional<Result<std::string>> done;
  docker->createContainer(ContainerSpec{.image = "x"}, "", into(done));
  ASSERT_TRUE(await(done).ok());
  EXPECT_EQ(onlyRequest().target, "/v1.41/containers/create");
}

TEST_F(DockerClientTest, EngineErrorsCarryStatusAndMessage) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{404, "{\"message\":\"No such image: x\"}\n"};
  });
  std::optional<Result<std::string>> done;
  docker->createContainer(ContainerSpec{.image = "x"}, "", into(done));
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 404);
  EXPECT_EQ(r.error().message, "No such image: x");
}

TEST_F(DockerClientTest, MalformedBodyIsStatusZero) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{201, "<html>oops</html>"}; });
  std::optional<Result<std::string>> done;
  docker->createContainer(ContainerSpec{.image = "x"}, "", into(done));
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_NE(r.error().message.find("malformed"), std::string::npos) << r.error().message;
}

TEST_F(DockerClientTest, StartAcceptsNoContentAndNotModified) {
  int n = 0;
  engine.setHandler([&](const FakeRequest&) {
    switch (n++) {
      case 0:
        return FakeReply{204};
      case 1:
        return FakeReply{304};
      default:
        return FakeReply{500, R"({"message":"OCI runtime create failed"})"};
    }
  });
  std::optional<Result<Unit>> first, second, third;
  docker->start("abc", into(first));
  EXPECT_TRUE(await(first).ok());
  docker->start("abc", into(second));
  EXPECT_TRUE(await(second).ok());
  docker->start("abc", into(third));
  auto r = await(third);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 500);
  EXPECT_EQ(r.error().message, "OCI runtime create failed");
  EXPECT_EQ(engine.requests[0].method, "POST");
  EXPECT_EQ(engine.requests[0].target, "/v1.41/containers/abc/start");
  EXPECT_EQ(engine.requests[0].headers.at("content-length"), "0");
}

TEST_F(DockerClientTest, WaitYieldsTheStatusCodeAndHasNoTimeout) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200, R"({"Error":null,"StatusCode":3})"};
  });
  std::optional<Result<int64_t>> done;
  docker->wait("abc", into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 3);
  EXPECT_EQ(onlyRequest().method, "POST");
  EXPECT_EQ(onlyRequest().target, "/v1.41/containers/abc/wait");
}

TEST_F(DockerClientTest, InspectParsesState) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200, R"({"Image":"sha256:1","State":{"Status":"exited","Running":false,)"
                          R"("ExitCode":137,"OOMKilled":true,"Error":""}})"};
  });
  std::optional<Result<ContainerState>> done;
  docker->inspect("abc", into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().exit_code, 137);
  EXPECT_TRUE(r.value().oom_killed);
  EXPECT_EQ(r.value().image_id, "sha256:1");
  EXPECT_EQ(onlyRequest().method, "GET");
  EXPECT_EQ(onlyRequest().target, "/v1.41/containers/abc/json");
}

TEST_F(DockerClientTest, KillOfAStoppedContainerIsNotAnError) {
  int n = 0;
  engine.setHandler([&](const FakeRequest&) {
    switch (n++) {
      case 0:
        return FakeReply{204};
      case 1:
        return FakeReply{
            409, R"({"message":"Cannot kill container: abc: Container abc is not running"})"};
      case 2:
        return FakeReply{409, R"({"message":"Container abc is paused"})"};
      default:
        return FakeReply{404, R"({"message":"No such container: abc"})"};
    }
  });
  std::optional<Result<Unit>> a, b, c, d;
  docker->kill("abc", into(a));
  EXPECT_TRUE(await(a).ok());
  docker->kill("abc", into(b));
  EXPECT_TRUE(await(b).ok());
  docker->kill("abc", into(c));
  EXPECT_EQ(await(c).error().http_status, 409);
  docker->kill("abc", into(d));
  EXPECT_EQ(await(d).error().http_status, 404);
  EXPECT_EQ(engine.requests[0].target, "/v1.41/containers/abc/kill");
}

TEST_F(DockerClientTest, ErrorObserverCountsFailuresByEndpoint) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target == "/v1.41/_ping") return FakeReply{500, R"({"message":"engine sad"})"};
    if (r.target.find("/kill") != std::string::npos) {
      return FakeReply{409, R"({"message":"Container abc is not running"})"};
    }
    return FakeReply{404, R"({"message":"No such container: abc"})"};
  });
  std::vector<std::string> seen;
  docker->setErrorObserver([&seen](std::string_view endpoint, const DockerError& e) {
    seen.push_back(std::string(endpoint) + " " + std::to_string(e.http_status));
  });
  std::optional<Result<Unit>> ping, kill, remove;
  std::optional<Result<ContainerState>> inspect;
  docker->ping(into(ping));
  EXPECT_FALSE(await(ping).ok());
  docker->kill("abc", into(kill));
  EXPECT_TRUE(await(kill).ok());  // not running: what kill wants, so no error
  docker->remove("abc", into(remove));
  EXPECT_TRUE(await(remove).ok());  // already gone: no error
  docker->inspect("abc", into(inspect));
  EXPECT_FALSE(await(inspect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"ping 500", "inspect 404"}));
}

TEST_F(DockerClientTest, RemoveOfAMissingContainerIsNotAnError) {
  int n = 0;
  engine.setHandler([&](const FakeRequest&) {
    switch (n++) {
      case 0:
        return FakeReply{204};
      case 1:
        return FakeReply{404, R"({"message":"No such container: abc"})"};
      default:
        return FakeReply{409, R"({"message":"removal already in progress"})"};
    }
  });
  std::optional<Result<Unit>> a, b, c;
  docker->remove("abc", into(a));
  EXPECT_TRUE(await(a).ok());
  docker->remove("abc", into(b));
  EXPECT_TRUE(await(b).ok());
  docker->remove("abc", into(c));
  EXPECT_EQ(await(c).error().http_status, 409);
  EXPECT_EQ(engine.requests[0].method, "DELETE");
  EXPECT_EQ(engine.requests[0].target, "/v1.41/containers/abc?force=1&v=1");
}

TEST_F(DockerClientTest, ListContainersFiltersByLabel) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200, R"([{"Id":"a1","Labels":{}},{"Id":"b2"}])"};
  });
  std::optional<Result<std::vector<std::string>>> done;
  docker->listContainers("worker-agent.worker_id=w1", into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (std::vector<std::string>{"a1", "b2"}));
  EXPECT_EQ(
      onlyRequest().target,
      "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22worker-agent.worker_id%3Dw1"
      "%22%5D%7D");
}

TEST_F(DockerClientTest, UnreachableEngineNamesTheSocket) {
  DockerClient nowhere(loop, "unix:///nonexistent/wa/docker.sock");
  std::optional<Result<Unit>> done;
  nowhere.ping(into(done));
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_NE(r.error().message.find("unix:///nonexistent/wa/docker.sock"), std::string::npos);
  EXPECT_NE(r.error().message.find("connect"), std::string::npos) << r.error().message;
}

TEST_F(DockerClientTest, UnsupportedDockerHostFailsLater) {
  DockerClient bad(loop, "ssh://somewhere");
  std::optional<Result<Unit>> done;
  bad.ping(into(done));
  EXPECT_FALSE(done);
  EXPECT_EQ(bad.inFlight(), 1u);
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_NE(r.error().message.find("ssh://somewhere"), std::string::npos) << r.error().message;
}

TEST_F(DockerClientTest, DestroyingTheClientAbortsWithoutCallbacks) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target.ends_with("/wait")) return FakeReply{.hang = true};
    return FakeReply{200, "OK"};
  });
  int called = 0;
  docker->wait("abc", [&](Result<int64_t>) { ++called; });
  docker->ping([&](Result<Unit>) { ++called; });
  docker->ping([&](Result<Unit>) { ++called; });
  EXPECT_EQ(docker->inFlight(), 3u);
  docker.reset();
  runFor(loop, 100ms);
  EXPECT_EQ(called, 0);
}

TEST_F(DockerClientTest, ACallbackMayDestroyTheClient) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{200, "OK"}; });
  int called = 0;
  for (int i = 0; i < 4; ++i) {
    docker->ping([&](Result<Unit>) {
      ++called;
      docker.reset();
    });
  }
  ASSERT_TRUE(runUntil(loop, [&] { return called > 0; }));
  runFor(loop, 100ms);
  EXPECT_EQ(called, 1);
}

TEST_F(DockerClientTest, TcpDockerHost) {
  FakeEngine tcp(loop, /*tcp=*/true);
  tcp.setHandler([](const FakeRequest&) { return FakeReply{200, R"({"DockerRootDir":"/t"})"}; });
  DockerClient client(loop, tcp.dockerHost());
  std::optional<Result<EngineInfo>> done;
  client.info(into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().docker_root_dir, "/t");
  EXPECT_EQ(tcp.requests.at(0).target, "/v1.41/info");
}

}  // namespace
}  // namespace wa::docker
