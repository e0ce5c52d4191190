#include "docker/docker_client.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "docker/fake_engine.h"
#include "docker/tar_archive.h"

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
  testing::HeldRequests held;
};

TEST_F(DockerClientTest, PingVersionInfo) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target == "/_ping") return FakeReply{200, "OK"};
    if (r.target == "/version")
      return FakeReply{200,
                       R"({"Version":"20.10.24","ApiVersion":"1.41","Os":"linux","Arch":"amd64"})"};
    if (r.target == "/v1.41/info") return FakeReply{200, R"({"DockerRootDir":"/data/docker"})"};
    return FakeReply{404, R"({"message":"page not found"})"};
  });
  std::optional<Result<Unit>> ping;
  std::optional<Result<EngineVersion>> version;
  std::optional<Result<EngineInfo>> info;
  held += docker->ping(into(ping));
  held += docker->version(into(version));
  held += docker->info(into(info));
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
  held += docker->createContainer(spec, "job 1/x", into(done));
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
  held += docker->createContainer(ContainerSpec{.image = "x"}, "", into(done));
  ASSERT_TRUE(await(done).ok());
  EXPECT_EQ(onlyRequest().target, "/v1.41/containers/create");
}

TEST_F(DockerClientTest, EngineErrorsCarryStatusAndMessage) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{404, "{\"message\":\"No such image: x\"}\n"};
  });
  std::optional<Result<std::string>> done;
  held += docker->createContainer(ContainerSpec{.image = "x"}, "", into(done));
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 404);
  EXPECT_EQ(r.error().message, "No such image: x");
}

TEST_F(DockerClientTest, MalformedBodyIsStatusZero) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{201, "<html>oops</html>"}; });
  std::optional<Result<std::string>> done;
  held += docker->createContainer(ContainerSpec{.image = "x"}, "", into(done));
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
  held += docker->start("abc", into(first));
  EXPECT_TRUE(await(first).ok());
  held += docker->start("abc", into(second));
  EXPECT_TRUE(await(second).ok());
  held += docker->start("abc", into(third));
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
  held += docker->wait("abc", into(done));
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
  held += docker->inspect("abc", true, into(done));
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
  held += docker->kill("abc", into(a));
  EXPECT_TRUE(await(a).ok());
  held += docker->kill("abc", into(b));
  EXPECT_TRUE(await(b).ok());
  held += docker->kill("abc", into(c));
  EXPECT_EQ(await(c).error().http_status, 409);
  held += docker->kill("abc", into(d));
  EXPECT_EQ(await(d).error().http_status, 404);
  EXPECT_EQ(engine.requests[0].target, "/v1.41/containers/abc/kill");
}

TEST_F(DockerClientTest, ErrorObserverCountsFailuresByEndpoint) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target == "/_ping") return FakeReply{500, R"({"message":"engine sad"})"};
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
  held += docker->ping(into(ping));
  EXPECT_FALSE(await(ping).ok());
  held += docker->kill("abc", into(kill));
  EXPECT_TRUE(await(kill).ok());  // not running: what kill wants, so no error
  held += docker->remove("abc", into(remove));
  EXPECT_TRUE(await(remove).ok());  // already gone: no error
  held += docker->inspect("abc", true, into(inspect));
  EXPECT_FALSE(await(inspect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"ping 500", "inspect 404"}));
  // The engine answered: it is there, however sad.
  EXPECT_FALSE(ping->error().connect_failed);
  EXPECT_FALSE(inspect->error().connect_failed);
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
  held += docker->remove("abc", into(a));
  EXPECT_TRUE(await(a).ok());
  held += docker->remove("abc", into(b));
  EXPECT_TRUE(await(b).ok());
  held += docker->remove("abc", into(c));
  EXPECT_EQ(await(c).error().http_status, 409);
  EXPECT_EQ(engine.requests[0].method, "DELETE");
  EXPECT_EQ(engine.requests[0].target, "/v1.41/containers/abc?force=1&v=1");
}

TEST_F(DockerClientTest, RemoveImageNeverForcesAndAMissingOneIsNotAnError) {
  int n = 0;
  engine.setHandler([&](const FakeRequest&) {
    switch (n++) {
      case 0:
        return FakeReply{200, R"([{"Untagged":"app:1"},{"Deleted":"sha256:a"}])"};
      case 1:
        return FakeReply{404, R"({"message":"No such image: sha256:a"})"};
      default:
        return FakeReply{
            409, R"({"message":"conflict: unable to delete sha256:a, image is being used"})"};
    }
  });
  std::optional<Result<Unit>> a, b, c;
  held += docker->removeImage("sha256:a", into(a));
  EXPECT_TRUE(await(a).ok());
  held += docker->removeImage("sha256:a", into(b));
  EXPECT_TRUE(await(b).ok());
  held += docker->removeImage("sha256:a", into(c));
  EXPECT_EQ(await(c).error().http_status, 409);
  EXPECT_EQ(engine.requests[0].method, "DELETE");
  EXPECT_EQ(engine.requests[0].target, "/v1.41/images/sha256%3Aa?force=0&noprune=0");
}

TEST_F(DockerClientTest, ListImagesAsksForTheTopLevelOnes) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200, R"([{"Id":"sha256:a","RepoTags":["app:1"],"Size":3}])"};
  });
  std::optional<Result<std::vector<docker::ImageSummary>>> listed;
  held += docker->listImages(into(listed));
  ASSERT_TRUE(await(listed).ok());
  EXPECT_EQ(listed->value().at(0).repo_tags, (std::vector<std::string>{"app:1"}));
  EXPECT_EQ(engine.requests[0].method, "GET");
  EXPECT_EQ(engine.requests[0].target, "/v1.41/images/json");
}

TEST_F(DockerClientTest, ListContainersFiltersByLabel) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200, R"([{"Id":"a1","Labels":{}},{"Id":"b2"}])"};
  });
  std::optional<Result<std::vector<std::string>>> done;
  held += docker->listContainers("worker-agent.worker_id=w1", into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (std::vector<std::string>{"a1", "b2"}));
  EXPECT_EQ(
      onlyRequest().target,
      "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22worker-agent.worker_id%3Dw1"
      "%22%5D%7D");
}

TEST_F(DockerClientTest, InspectImageEncodesTheReference) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target == "/v1.41/images/busybox%3A1/json")
      return FakeReply{200, R"({"Id":"sha256:abc","RepoDigests":["busybox@sha256:def"]})"};
    return FakeReply{404, R"({"message":"No such image: 127.0.0.1:5999/nothing:1"})"};
  });
  std::vector<std::string> seen;
  docker->setErrorObserver([&seen](std::string_view endpoint, const DockerError& e) {
    seen.push_back(std::string(endpoint) + " " + std::to_string(e.http_status));
  });
  std::optional<Result<ImageInfo>> found, missing;
  held += docker->inspectImage("busybox:1", into(found));
  auto r = await(found);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().id, "sha256:abc");
  EXPECT_EQ(r.value().repo_digests, (std::vector<std::string>{"busybox@sha256:def"}));
  held += docker->inspectImage("127.0.0.1:5999/nothing:1", into(missing));
  auto m = await(missing);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().http_status, 404);
  EXPECT_EQ(m.error().message, "No such image: 127.0.0.1:5999/nothing:1");
  ASSERT_EQ(engine.requests.size(), 2u);
  EXPECT_EQ(engine.requests[1].method, "GET");
  EXPECT_EQ(engine.requests[1].target, "/v1.41/images/127.0.0.1%3A5999%2Fnothing%3A1/json");
  EXPECT_EQ(seen, (std::vector<std::string>{"image_inspect 404"}));
}

TEST_F(DockerClientTest, PullSendsFromImageTagAndAuthOnlyWhenGiven) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200,
                     "{\"status\":\"Pulling from team/app\",\"id\":\"1.2\"}\r\n"
                     "{\"status\":\"Status: Downloaded newer image for app:1.2\"}\r\n"};
  });
  std::optional<Result<StreamedResult>> plain, authed, by_digest;
  held += docker->pullImage("127.0.0.1:5999/team/app:1.2", "", 0, into(plain));
  auto r = await(plain);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().log_tail,
            "1.2: Pulling from team/app\nStatus: Downloaded newer image for app:1.2");
  EXPECT_EQ(r.value().image_id, "");
  held += docker->pullImage("app", "eyJ1c2VybmFtZSI6ImEifQ", 60'000, into(authed));
  ASSERT_TRUE(await(authed).ok());
  const std::string digest = "sha256:" + std::string(64, 'b');
  held += docker->pullImage("app@" + digest, "", 0, into(by_digest));
  ASSERT_TRUE(await(by_digest).ok());

  ASSERT_EQ(engine.requests.size(), 3u);
  const FakeRequest& first = engine.requests[0];
  EXPECT_EQ(first.method, "POST");
  EXPECT_EQ(first.target, "/v1.41/images/create?fromImage=127.0.0.1%3A5999%2Fteam%2Fapp&tag=1.2");
  EXPECT_EQ(first.headers.count("x-registry-auth"), 0u);
  EXPECT_EQ(first.headers.at("content-length"), "0");
  EXPECT_EQ(first.headers.count("content-type"), 0u);
  EXPECT_EQ(engine.requests[1].target, "/v1.41/images/create?fromImage=app&tag=latest");
  EXPECT_EQ(engine.requests[1].headers.at("x-registry-auth"), "eyJ1c2VybmFtZSI6ImEifQ");
  EXPECT_EQ(engine.requests[2].target,
            "/v1.41/images/create?fromImage=app%40sha256%3A" + std::string(64, 'b'));
}

TEST_F(DockerClientTest, PullErrorLineIsAnErrorWithStatus200) {
  int n = 0;
  engine.setHandler([&](const FakeRequest&) {
    if (n++ == 0) {
      return FakeReply{
          200,
          "{\"status\":\"Pulling from x\",\"id\":\"1\"}\r\n"
          "{\"errorDetail\":{\"message\":\"manifest for x:1 not found: manifest unknown\"},"
          "\"error\":\"manifest for x:1 not found: manifest unknown\"}\r\n"};
    }
    return FakeReply{404, R"({"message":"pull access denied for x, repository does not exist"})"};
  });
  std::vector<std::string> seen;
  docker->setErrorObserver([&seen](std::string_view endpoint, const DockerError& e) {
    seen.push_back(std::string(endpoint) + " " + std::to_string(e.http_status));
  });
  std::optional<Result<StreamedResult>> streamed, refused;
  held += docker->pullImage("x:1", "", 0, into(streamed));
  auto r = await(streamed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 200);
  EXPECT_EQ(r.error().message, "manifest for x:1 not found: manifest unknown");
  held += docker->pullImage("x:1", "", 0, into(refused));
  auto f = await(refused);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().http_status, 404);
  EXPECT_EQ(f.error().message, "pull access denied for x, repository does not exist");
  EXPECT_EQ(seen, (std::vector<std::string>{"pull 200", "pull 404"}));
}

TEST_F(DockerClientTest, PullTimesOut) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{.hang = true}; });
  std::optional<Result<StreamedResult>> done;
  held += docker->pullImage("x:1", "", 150, into(done));
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 0);
}

TEST_F(DockerClientTest, BuildSendsTheContextTarAndYieldsTheImageId) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200,
                     "{\"stream\":\"Step 1/1 : FROM busybox\"}\r\n{\"stream\":\"\\n\"}\r\n"
                     "{\"aux\":{\"ID\":\"sha256:0123\"}}\r\n"
                     "{\"stream\":\"Successfully built 0123\\n\"}\r\n"};
  });
  TarWriter context;
  context.addFile("Dockerfile", "FROM busybox\n", 0644);
  context.addFile("data.bin", std::string("\0\1\0\2", 4), 0644);
  const std::string tar = context.finish();
  ASSERT_NE(tar.find('\0'), std::string::npos);
  std::optional<Result<StreamedResult>> done;
  held += docker->buildImage("wa-build/j1:1", tar, 0, into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().image_id, "sha256:0123");
  EXPECT_EQ(r.value().log_tail, "Step 1/1 : FROM busybox\nSuccessfully built 0123");
  const FakeRequest& request = onlyRequest();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target,
            "/v1.41/build?t=wa-build%2Fj1%3A1&dockerfile=Dockerfile&rm=1&forcerm=1");
  EXPECT_EQ(request.headers.at("content-type"), "application/x-tar");
  EXPECT_EQ(request.headers.at("content-length"), std::to_string(tar.size()));
  EXPECT_TRUE(request.body == tar) << "the body differs from the tar";
}

TEST_F(DockerClientTest, BuildErrorCarriesTheLogTail) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{200,
                     "{\"stream\":\"Step 2/2 : RUN false\\n\"}\r\n"
                     "{\"stream\":\" ---\\u003e Running in 77\\n\"}\r\n"
                     "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c false' "
                     "returned a non-zero code: 1\"},\"error\":\"The command '/bin/sh -c false' "
                     "returned a non-zero code: 1\"}\r\n"};
  });
  std::vector<std::string> seen;
  docker->setErrorObserver([&seen](std::string_view endpoint, const DockerError& e) {
    seen.push_back(std::string(endpoint) + " " + std::to_string(e.http_status));
  });
  std::optional<Result<StreamedResult>> done;
  held += docker->buildImage("t:1", TarWriter().finish(), 0, into(done));
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 200);
  EXPECT_EQ(r.error().message,
            "The command '/bin/sh -c false' returned a non-zero code: 1\n"
            "Step 2/2 : RUN false\n ---> Running in 77");
  EXPECT_EQ(seen, (std::vector<std::string>{"build 200"}));
}

TEST_F(DockerClientTest, PutArchiveSendsTheTarBytes) {
  int n = 0;
  engine.setHandler([&](const FakeRequest&) {
    if (n++ == 0) return FakeReply{200, ""};
    return FakeReply{403, R"({"message":"container rootfs is marked read-only"})"};
  });
  std::vector<std::string> seen;
  docker->setErrorObserver([&seen](std::string_view endpoint, const DockerError& e) {
    seen.push_back(std::string(endpoint) + " " + std::to_string(e.http_status));
  });
  TarWriter writer;
  writer.addDirectory("", 0755, 65534, 65534);
  writer.addFile("input.bin", std::string("\0in\0put\0", 8), 0644, 65534, 65534);
  const std::string tar = writer.finish();
  std::optional<Result<Unit>> put, refused;
  held += docker->putArchive("abc", "/workspace", tar, into(put));
  ASSERT_TRUE(await(put).ok());
  held += docker->putArchive("abc", "/", tar, into(refused));
  auto r = await(refused);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 403);
  EXPECT_EQ(r.error().message, "container rootfs is marked read-only");
  ASSERT_EQ(engine.requests.size(), 2u);
  const FakeRequest& request = engine.requests[0];
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.target, "/v1.41/containers/abc/archive?path=%2Fworkspace");
  EXPECT_EQ(request.headers.at("content-type"), "application/x-tar");
  EXPECT_TRUE(request.body == tar) << "the body differs from the tar";
  EXPECT_EQ(engine.requests[1].target, "/v1.41/containers/abc/archive?path=%2F");
  EXPECT_EQ(seen, (std::vector<std::string>{"archive_put 403"}));
}

TEST_F(DockerClientTest, GetArchiveYieldsTheTarBytes) {
  TarWriter writer;
  writer.addFile("out.bin", std::string("\0out\0", 5), 0644);
  const std::string tar = writer.finish();
  engine.setHandler([&](const FakeRequest& r) {
    if (r.target.ends_with("%2Fout.bin")) return FakeReply{200, tar};
    return FakeReply{404, R"({"message":"Could not find the file /workspace/missing in )"
                          R"(container abc"})"};
  });
  std::vector<std::string> seen;
  docker->setErrorObserver([&seen](std::string_view endpoint, const DockerError& e) {
    seen.push_back(std::string(endpoint) + " " + std::to_string(e.http_status));
  });
  std::optional<Result<std::string>> found, missing;
  held += docker->getArchive("abc", "/workspace/out.bin", into(found));
  auto r = await(found);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value() == tar) << "the archive differs";
  held += docker->getArchive("abc", "/workspace/missing", into(missing));
  auto m = await(missing);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().http_status, 404);
  EXPECT_EQ(engine.requests[0].method, "GET");
  EXPECT_EQ(engine.requests[0].target, "/v1.41/containers/abc/archive?path=%2Fworkspace%2Fout.bin");
  EXPECT_EQ(seen, (std::vector<std::string>{"archive_get 404"}));
}

TEST_F(DockerClientTest, UnreachableEngineNamesTheSocket) {
  DockerClient nowhere(loop, "unix:///nonexistent/wa/docker.sock");
  std::optional<Result<Unit>> done;
  held += nowhere.ping(into(done));
  auto r = await(done);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 0);
  EXPECT_NE(r.error().message.find("unix:///nonexistent/wa/docker.sock"), std::string::npos);
  EXPECT_NE(r.error().message.find("connect"), std::string::npos) << r.error().message;
  EXPECT_TRUE(r.error().connect_failed);
}

TEST_F(DockerClientTest, PingAndInspectSeeAStoppingEngineThatOldConnectionsDoNot) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target == "/_ping") return FakeReply{200, "OK"};
    if (r.target == "/version") return FakeReply{200, R"({"Version":"20.10.24"})"};
    if (r.target == "/v1.41/containers/abc/json")
      return FakeReply{200, R"({"State":{"Running":false,"ExitCode":137}})"};
    return FakeReply{404, R"({"message":"page not found"})"};
  });
  std::optional<Result<EngineVersion>> version;
  held += docker->version(into(version));
  ASSERT_TRUE(await(version).ok());
  // Each ping and inspect comes on a connection of its own, closed after it.
  std::optional<Result<Unit>> ping;
  held += docker->ping(into(ping));
  ASSERT_TRUE(await(ping).ok());
  ping.reset();
  held += docker->ping(into(ping));
  ASSERT_TRUE(await(ping).ok());
  std::optional<Result<ContainerState>> inspect;
  held += docker->inspect("abc", true, into(inspect));
  ASSERT_TRUE(await(inspect).ok());
  ASSERT_EQ(engine.requests.size(), 4u);
  EXPECT_EQ(engine.requests[0].connection, 1);
  EXPECT_EQ(engine.requests[1].connection, 2);
  EXPECT_EQ(engine.requests[2].connection, 3);
  EXPECT_EQ(engine.requests[3].connection, 4);
  EXPECT_TRUE(runUntil(loop, [&] { return engine.open_connections() == 1; }))
      << "only the first, kept-alive connection stays";

  engine.stopListening();
  // The kept-alive connection is still answered, as a stopping dockerd answers it ...
  version.reset();
  held += docker->version(into(version));
  EXPECT_TRUE(await(version).ok());
  // ... but ping and inspect see that nothing listens any more.
  ping.reset();
  held += docker->ping(into(ping));
  auto p = await(ping);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().connect_failed) << p.error().message;
  inspect.reset();
  held += docker->inspect("abc", true, into(inspect));
  auto i = await(inspect);
  ASSERT_FALSE(i.ok());
  EXPECT_TRUE(i.error().connect_failed) << i.error().message;
}

// An inspect after a job that exited 0 goes on the kept-alive connection: no new one.
TEST_F(DockerClientTest, InspectWithoutFreshConnectionReusesTheKeptAliveOne) {
  engine.setHandler([](const FakeRequest& r) {
    if (r.target == "/version") return FakeReply{200, R"({"Version":"20.10.24"})"};
    if (r.target == "/v1.41/containers/abc/json")
      return FakeReply{200, R"({"State":{"Running":false,"ExitCode":0,"OOMKilled":true}})"};
    return FakeReply{404, R"({"message":"page not found"})"};
  });
  std::optional<Result<EngineVersion>> version;
  held += docker->version(into(version));
  ASSERT_TRUE(await(version).ok());
  std::optional<Result<ContainerState>> inspect;
  held += docker->inspect("abc", false, into(inspect));
  auto i = await(inspect);
  ASSERT_TRUE(i.ok());
  EXPECT_TRUE(i.value().oom_killed);
  ASSERT_EQ(engine.requests.size(), 2u);
  EXPECT_EQ(engine.requests[0].connection, engine.requests[1].connection);
}

TEST_F(DockerClientTest, AttachToAnUnreachableEngineIsAFailedConnect) {
  DockerClient nowhere(loop, "unix:///nonexistent/wa/docker.sock");
  std::vector<std::string> observed;
  nowhere.setErrorObserver([&observed](std::string_view endpoint, const DockerError& e) {
    if (e.connect_failed) observed.emplace_back(endpoint);
  });
  std::optional<std::optional<DockerError>> closed;
  AttachStream::Callbacks callbacks;
  callbacks.on_closed = [&closed](const std::optional<DockerError>& e) { closed.emplace(e); };
  auto stream = nowhere.attach("abc", std::move(callbacks));
  ASSERT_TRUE(runUntil(loop, [&] { return closed.has_value(); }));
  ASSERT_TRUE(closed->has_value());
  EXPECT_TRUE((*closed)->connect_failed) << (*closed)->message;
  EXPECT_EQ(observed, (std::vector<std::string>{"attach"}));
}

TEST_F(DockerClientTest, UnsupportedDockerHostFailsLater) {
  DockerClient bad(loop, "ssh://somewhere");
  std::optional<Result<Unit>> done;
  held += bad.ping(into(done));
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
  held += docker->wait("abc", [&](const Result<int64_t>&) { ++called; });
  held += docker->ping([&](const Result<Unit>&) { ++called; });
  held += docker->ping([&](const Result<Unit>&) { ++called; });
  EXPECT_EQ(docker->inFlight(), 3u);
  docker.reset();
  runFor(loop, 100ms);
  EXPECT_EQ(called, 0);
}

TEST_F(DockerClientTest, ACallbackMayDestroyTheClient) {
  engine.setHandler([](const FakeRequest&) { return FakeReply{200, "OK"}; });
  int called = 0;
  for (int i = 0; i < 4; ++i) {
    held += docker->ping([&](const Result<Unit>&) {
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
  held += client.info(into(done));
  auto r = await(done);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().docker_root_dir, "/t");
  EXPECT_EQ(tcp.requests.at(0).target, "/v1.41/info");
}

}  // namespace
}  // namespace wa::docker
