#include "docker/engine_json.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "docker/engine_endpoint.h"
#include "docker/hijacked_attach.h"
#include "docker/recorded_info.h"

namespace wa::docker {
namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

TEST(EngineJson, CreateBodyCarriesTheWholeSpec) {
  ContainerSpec spec;
  spec.image = "python:3.12";
  spec.cmd = {"python", "-c", "print(\"hi\")"};
  spec.env = {"A=1", "B=two words"};
  spec.labels = {{"worker-agent.worker_id", "w1"}, {"worker-agent.job_id", "j\"1"}};
  spec.memory_bytes = 64 << 20;
  spec.network_mode = "none";
  spec.open_stdin = true;
  auto doc = parse(buildCreateContainerBody(spec));
  EXPECT_STREQ(doc["Image"].GetString(), "python:3.12");
  ASSERT_EQ(doc["Cmd"].Size(), 3u);
  EXPECT_STREQ(doc["Cmd"][2].GetString(), "print(\"hi\")");
  ASSERT_EQ(doc["Env"].Size(), 2u);
  EXPECT_STREQ(doc["Env"][1].GetString(), "B=two words");
  EXPECT_STREQ(doc["Labels"]["worker-agent.job_id"].GetString(), "j\"1");
  EXPECT_STREQ(doc["Labels"]["worker-agent.worker_id"].GetString(), "w1");
  EXPECT_TRUE(doc["AttachStdin"].GetBool());
  EXPECT_TRUE(doc["AttachStdout"].GetBool());
  EXPECT_TRUE(doc["AttachStderr"].GetBool());
  EXPECT_TRUE(doc["OpenStdin"].GetBool());
  EXPECT_TRUE(doc["StdinOnce"].GetBool());
  EXPECT_FALSE(doc["Tty"].GetBool());
  EXPECT_EQ(doc["HostConfig"]["Memory"].GetInt64(), 64 << 20);
  EXPECT_EQ(doc["HostConfig"]["MemorySwap"].GetInt64(), 64 << 20);
  EXPECT_STREQ(doc["HostConfig"]["NetworkMode"].GetString(), "none");
}

TEST(EngineJson, CreateBodyLeavesOutEmptyCmdAndZeroMemory) {
  ContainerSpec spec;
  spec.image = "busybox";
  spec.open_stdin = false;
  auto doc = parse(buildCreateContainerBody(spec));
  EXPECT_FALSE(doc.HasMember("Cmd"));
  EXPECT_TRUE(doc["Env"].IsArray());
  EXPECT_TRUE(doc["Labels"].IsObject());
  EXPECT_FALSE(doc["HostConfig"].HasMember("Memory"));
  EXPECT_FALSE(doc["HostConfig"].HasMember("MemorySwap"));
  EXPECT_FALSE(doc["AttachStdin"].GetBool());
  EXPECT_FALSE(doc["OpenStdin"].GetBool());
  EXPECT_FALSE(doc["StdinOnce"].GetBool());
  EXPECT_TRUE(doc["AttachStdout"].GetBool());
}

TEST(EngineJson, CreateBodyWithoutIsolationIsUnchanged) {
  // The exact bytes a spec without the isolation fields gave before they existed.
  ContainerSpec spec;
  spec.image = "busybox";
  spec.cmd = {"true"};
  spec.env = {"A=1"};
  spec.labels = {{"k", "v"}};
  spec.memory_bytes = 1024;
  EXPECT_EQ(buildCreateContainerBody(spec),
            R"({"Image":"busybox","Cmd":["true"],"Env":["A=1"],"Labels":{"k":"v"},)"
            R"("AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"OpenStdin":true,)"
            R"("StdinOnce":true,"Tty":false,"HostConfig":{"Memory":1024,"MemorySwap":1024,)"
            R"("NetworkMode":"none"}})");
}

TEST(EngineJson, CreateBodyCarriesIsolation) {
  ContainerSpec spec;
  spec.image = "busybox";
  spec.nano_cpus = 1'500'000'000;
  spec.pids_limit = 128;
  spec.cap_drop_all = true;
  spec.no_new_privileges = true;
  spec.read_only_rootfs = true;
  spec.tmpfs = {{"/tmp", "rw,noexec,size=64m"}, {"/run", ""}};
  spec.anonymous_volumes = {"/workspace", "/cache"};
  spec.user = "65534:65534";
  spec.working_dir = "/workspace";
  spec.runtime = "runsc";
  spec.log_driver = "none";
  auto doc = parse(buildCreateContainerBody(spec));
  EXPECT_STREQ(doc["User"].GetString(), "65534:65534");
  EXPECT_STREQ(doc["WorkingDir"].GetString(), "/workspace");
  const auto& host = doc["HostConfig"];
  EXPECT_EQ(host["NanoCpus"].GetInt64(), 1'500'000'000);
  EXPECT_EQ(host["PidsLimit"].GetInt64(), 128);
  ASSERT_EQ(host["CapDrop"].Size(), 1u);
  EXPECT_STREQ(host["CapDrop"][0].GetString(), "ALL");
  ASSERT_EQ(host["SecurityOpt"].Size(), 1u);
  EXPECT_STREQ(host["SecurityOpt"][0].GetString(), "no-new-privileges");
  EXPECT_TRUE(host["ReadonlyRootfs"].GetBool());
  EXPECT_STREQ(host["Tmpfs"]["/tmp"].GetString(), "rw,noexec,size=64m");
  EXPECT_STREQ(host["Tmpfs"]["/run"].GetString(), "");
  ASSERT_EQ(host["Mounts"].Size(), 2u);
  EXPECT_STREQ(host["Mounts"][0]["Type"].GetString(), "volume");
  EXPECT_STREQ(host["Mounts"][0]["Target"].GetString(), "/workspace");
  EXPECT_FALSE(host["Mounts"][0].HasMember("Source"));
  EXPECT_STREQ(host["Mounts"][1]["Target"].GetString(), "/cache");
  EXPECT_STREQ(host["Runtime"].GetString(), "runsc");
  EXPECT_STREQ(host["LogConfig"]["Type"].GetString(), "none");
  EXPECT_TRUE(host["LogConfig"]["Config"].IsObject());
  EXPECT_EQ(host["LogConfig"]["Config"].MemberCount(), 0u);
  EXPECT_STREQ(host["NetworkMode"].GetString(), "none");
}

TEST(EngineJson, CreateBodyCarriesTheLogSizeCap) {
  ContainerSpec spec{.image = "x"};
  spec.log_driver = "k8s-file";
  spec.log_max_size = "8388608";
  auto doc = parse(buildCreateContainerBody(spec));
  const auto& log = doc["HostConfig"]["LogConfig"];
  EXPECT_STREQ(log["Type"].GetString(), "k8s-file");
  EXPECT_STREQ(log["Config"]["max-size"].GetString(), "8388608");
}

TEST(EngineJson, CreateBodyLeavesOutUnsetIsolation) {
  auto doc = parse(buildCreateContainerBody(ContainerSpec{.image = "x"}));
  for (const char* name : {"User", "WorkingDir"}) EXPECT_FALSE(doc.HasMember(name)) << name;
  for (const char* name : {"NanoCpus", "PidsLimit", "CapDrop", "SecurityOpt", "ReadonlyRootfs",
                           "Tmpfs", "Mounts", "Runtime", "LogConfig"}) {
    EXPECT_FALSE(doc["HostConfig"].HasMember(name)) << name;
  }
}

TEST(EngineJson, SplitPullReference) {
  auto split = [](std::string_view reference) {
    PullArguments a = splitPullReference(reference);
    return a.from_image + " " + a.tag;
  };
  EXPECT_EQ(split("busybox"), "busybox latest");
  EXPECT_EQ(split("busybox:1.36"), "busybox 1.36");
  EXPECT_EQ(split("library/python:3.12-slim"), "library/python 3.12-slim");
  EXPECT_EQ(split("localhost:5000/app"), "localhost:5000/app latest");
  EXPECT_EQ(split("127.0.0.1:5999/nothing:1"), "127.0.0.1:5999/nothing 1");
  EXPECT_EQ(split("registry.example:443/team/app:v2"), "registry.example:443/team/app v2");
  EXPECT_EQ(split("app:"), "app latest");
  const std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(split("busybox@" + digest), "busybox@" + digest + " ");
  EXPECT_EQ(split("localhost:5000/app:1@" + digest), "localhost:5000/app:1@" + digest + " ");
}

TEST(EngineJson, LabelFilterAndUrlEncoding) {
  EXPECT_EQ(buildLabelFilter("worker-agent.worker_id=w 1"),
            R"({"label":["worker-agent.worker_id=w 1"]})");
  EXPECT_EQ(urlEncode(R"({"label":["a=b"]})"), "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
  EXPECT_EQ(urlEncode("job-1_a.b~c"), "job-1_a.b~c");
  EXPECT_EQ(urlEncode("a b/c?d&e"), "a%20b%2Fc%3Fd%26e");
  EXPECT_EQ(urlEncode("\xC3\xA9"), "%C3%A9");
}

TEST(EngineJson, ErrorMessageFromBody) {
  EXPECT_EQ(errorMessageFromBody(R"({"message":"No such image: x"})"
                                 "\n",
                                 404),
            "No such image: x");
  EXPECT_EQ(errorMessageFromBody("page not found\n", 404), "page not found");
  EXPECT_EQ(errorMessageFromBody("", 502), "HTTP 502");
  EXPECT_EQ(errorMessageFromBody(R"({"other":1})", 500), R"({"other":1})");
  EXPECT_EQ(errorMessageFromBody(std::string(500, 'x'), 500).size(), 203u);
}

TEST(EngineJson, ParseCreate) {
  auto ok = parseCreateResponse(R"({"Id":"abc","Warnings":[]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), "abc");
  auto missing = parseCreateResponse(R"({"Warnings":[]})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().http_status, 0);
  auto garbage = parseCreateResponse("{\"Id\":");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().http_status, 0);
  EXPECT_NE(garbage.error().message.find("malformed create response"), std::string::npos)
      << garbage.error().message;
}

TEST(EngineJson, VersionCarriesTheEnginesApiRange) {
  // Docker 29.0's unversioned /version (trimmed): the newest and the oldest it speaks.
  auto docker29 = parseVersionResponse(
      R"({"Components":[{"Name":"Engine","Version":"29.0.0","Details":{"ApiVersion":"1.52",)"
      R"("MinAPIVersion":"1.44"}}],"Version":"29.0.0","ApiVersion":"1.52",)"
      R"("MinAPIVersion":"1.44","Os":"linux","Arch":"amd64"})");
  ASSERT_TRUE(docker29.ok());
  EXPECT_EQ(docker29.value().api_version, "1.52");
  EXPECT_EQ(docker29.value().min_api_version, "1.44");
  auto silent = parseVersionResponse(R"({"Version":"1.9.1"})");
  ASSERT_TRUE(silent.ok());
  EXPECT_EQ(silent.value().min_api_version, "");
  EXPECT_FALSE(parseVersionResponse(R"({"MinAPIVersion":1.44})").ok());
}

TEST(EngineJson, ParseVersionAndInfo) {
  auto v = parseVersionResponse(
      R"({"Version":"20.10.24+dfsg1","ApiVersion":"1.41","Os":"linux","Arch":"amd64","X":1})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value().version, "20.10.24+dfsg1");
  EXPECT_EQ(v.value().api_version, "1.41");
  EXPECT_EQ(v.value().os, "linux");
  EXPECT_EQ(v.value().arch, "amd64");
  EXPECT_FALSE(v.value().podman);
  // Podman 4.3's answer (trimmed): the same fields, and its engine among the components.
  auto podman = parseVersionResponse(
      R"({"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine",)"
      R"("Version":"4.3.1"},{"Name":"Conmon","Version":"2.1.6"}],"Version":"4.3.1",)"
      R"("ApiVersion":"1.41","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"})");
  ASSERT_TRUE(podman.ok());
  EXPECT_TRUE(podman.value().podman);
  EXPECT_EQ(podman.value().api_version, "1.41");
  EXPECT_FALSE(parseVersionResponse(R"({"Version":5})").ok());
  EXPECT_FALSE(parseVersionResponse("[]").ok());
  auto i = parseInfoResponse(R"({"DockerRootDir":"/var/lib/docker","Containers":3})");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i.value().docker_root_dir, "/var/lib/docker");
  EXPECT_FALSE(parseInfoResponse("not json").ok());
}

// The recorded answers: only rootless Podman on these cgroup v1 hosts cannot enforce limits.
TEST(EngineJson, RootlessOnCgroupV1IsFoundInRecordedInfo) {
  auto rootless = parseInfoResponse(testing::kPodmanRootlessInfo);
  ASSERT_TRUE(rootless.ok()) << rootless.error().message;
  EXPECT_TRUE(rootless.value().rootless);
  EXPECT_EQ(rootless.value().cgroup_version, "1");
  EXPECT_EQ(rootless.value().docker_root_dir, "/home/wa-rootless/.local/share/containers/storage");
  const std::string reason = limitsUnenforcedReason(rootless.value());
  EXPECT_NE(reason.find("rootless on cgroup v1"), std::string::npos) << reason;
  EXPECT_NE(reason.find("memory, CPU and pids limits"), std::string::npos) << reason;

  for (const char* body : {testing::kPodmanRootInfo, testing::kDockerRootInfo}) {
    auto root = parseInfoResponse(body);
    ASSERT_TRUE(root.ok()) << root.error().message;
    EXPECT_FALSE(root.value().rootless);
    EXPECT_EQ(root.value().cgroup_version, "1");
    EXPECT_EQ(limitsUnenforcedReason(root.value()), "");
  }
}

// Rootless Docker says so among its SecurityOptions; on cgroup v2 limits work for both.
TEST(EngineJson, RootlessDockerAndCgroupV2) {
  auto docker_v1 =
      parseInfoResponse(R"({"DockerRootDir":"/home/u/.local/share/docker","CgroupVersion":"1",)"
                        R"("SecurityOptions":["name=seccomp,profile=default","name=rootless"]})");
  ASSERT_TRUE(docker_v1.ok());
  EXPECT_TRUE(docker_v1.value().rootless);
  EXPECT_NE(limitsUnenforcedReason(docker_v1.value()), "");
  auto docker_v2 = parseInfoResponse(
      R"({"DockerRootDir":"/d","CgroupVersion":"2",)"
      R"("SecurityOptions":["name=seccomp,profile=default","name=rootless","name=cgroupns"]})");
  ASSERT_TRUE(docker_v2.ok());
  EXPECT_TRUE(docker_v2.value().rootless);
  EXPECT_EQ(limitsUnenforcedReason(docker_v2.value()), "");
  auto podman_v2 =
      parseInfoResponse(R"({"DockerRootDir":"/d","CgroupVersion":"2","Rootless":true})");
  ASSERT_TRUE(podman_v2.ok());
  EXPECT_EQ(limitsUnenforcedReason(podman_v2.value()), "");
  // Only the option itself counts, not a name that begins with it.
  auto other = parseInfoResponse(
      R"({"DockerRootDir":"/d","CgroupVersion":"1","SecurityOptions":["name=rootlessish"]})");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other.value().rootless);
  // An engine that does not say (older Docker) is taken as able to enforce them.
  auto silent = parseInfoResponse(R"({"DockerRootDir":"/d"})");
  ASSERT_TRUE(silent.ok());
  EXPECT_EQ(limitsUnenforcedReason(silent.value()), "");
  EXPECT_FALSE(parseInfoResponse(R"({"DockerRootDir":"/d","CgroupVersion":1})").ok());
}

TEST(EngineJson, PodmanAttachErrorIsRecognisedExactly) {
  EXPECT_TRUE(isPodmanAttachError(
      "Error: read unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer\n"));
  // A job's own line that merely mentions it, or more than that one line, is output.
  EXPECT_FALSE(isPodmanAttachError(
      "Error: read unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer"));
  EXPECT_FALSE(isPodmanAttachError(
      "job: Error: read unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer\n"));
  EXPECT_FALSE(
      isPodmanAttachError("x\nError: read unixpacket @->/proc/self/fd/14/attach: read: "
                          "connection reset by peer\n"));
  EXPECT_FALSE(isPodmanAttachError("failing\n"));
  // Its failed write of the stdin ends the stream the same way.
  EXPECT_TRUE(isPodmanAttachError(
      "Error: write unixpacket @->/proc/self/fd/14/attach: write: broken pipe\n"));
  EXPECT_FALSE(isPodmanAttachError(
      "Error: write unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer\n"));
  EXPECT_FALSE(isPodmanAttachError("Error: write unixpacket @->/x/attach: write: broken pipe"));
}

TEST(EngineJson, ParseWait) {
  auto ok = parseWaitResponse(R"({"Error":null,"StatusCode":137})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), 137);
  auto failed = parseWaitResponse(R"({"Error":{"Message":"boom"},"StatusCode":-1})");
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("boom"), std::string::npos);
  EXPECT_FALSE(parseWaitResponse(R"({"StatusCode":"0"})").ok());
}

TEST(EngineJson, ParseInspect) {
  auto exited = parseInspectResponse(
      R"({"Id":"abc","Image":"sha256:feed","State":{"Status":"exited","Running":false,)"
      R"("OOMKilled":true,"ExitCode":137,"Error":""}})");
  ASSERT_TRUE(exited.ok());
  EXPECT_FALSE(exited.value().running);
  EXPECT_EQ(exited.value().exit_code, 137);
  EXPECT_TRUE(exited.value().oom_killed);
  EXPECT_EQ(exited.value().image_id, "sha256:feed");
  EXPECT_EQ(exited.value().error, "");

  auto running = parseInspectResponse(
      R"({"Image":"sha256:feed","State":{"Status":"running","Running":true,"ExitCode":0}})");
  ASSERT_TRUE(running.ok());
  EXPECT_TRUE(running.value().running);
  EXPECT_FALSE(running.value().exit_code.has_value());

  auto never_started = parseInspectResponse(
      R"({"Image":"sha256:feed","State":{"Status":"created","Running":false,"ExitCode":0,)"
      R"("Error":"OCI runtime create failed"}})");
  ASSERT_TRUE(never_started.ok());
  EXPECT_FALSE(never_started.value().exit_code.has_value());
  EXPECT_EQ(never_started.value().error, "OCI runtime create failed");

  EXPECT_FALSE(parseInspectResponse(R"({"Image":"x"})").ok());
  EXPECT_FALSE(parseInspectResponse(R"({"State":{"Running":"yes"}})").ok());
}

TEST(EngineJson, ParseContainerList) {
  auto ids = parseContainerListResponse(R"([{"Id":"a","Names":["/x"]},{"Id":"b"}])");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids.value(), (std::vector<std::string>{"a", "b"}));
  auto empty = parseContainerListResponse("[]");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value().empty());
  EXPECT_FALSE(parseContainerListResponse(R"({"Id":"a"})").ok());
  EXPECT_FALSE(parseContainerListResponse(R"([{"Names":[]}])").ok());
}

TEST(EngineJson, ParseImageInspect) {
  auto ok = parseImageInspectResponse(
      R"({"Id":"sha256:abc","RepoTags":["x:1"],"RepoDigests":["x@sha256:def"],"Size":5})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().id, "sha256:abc");
  EXPECT_EQ(ok.value().repo_digests, (std::vector<std::string>{"x@sha256:def"}));
  auto built = parseImageInspectResponse(R"({"Id":"sha256:abc","RepoDigests":null})");
  ASSERT_TRUE(built.ok());
  EXPECT_TRUE(built.value().repo_digests.empty());
  EXPECT_TRUE(parseImageInspectResponse(R"({"Id":"sha256:abc"})").ok());
  EXPECT_FALSE(parseImageInspectResponse(R"({"RepoDigests":[]})").ok());
  EXPECT_FALSE(parseImageInspectResponse(R"({"Id":"sha256:abc","RepoDigests":[1]})").ok());
  EXPECT_FALSE(parseImageInspectResponse(R"({"Id":"sha256:abc","RepoDigests":"x"})").ok());
  auto garbage = parseImageInspectResponse("[");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().http_status, 0);
}

TEST(EngineJson, ParseImageList) {
  // As engine 20.10 answers GET /images/json: an untagged image has "<none>" names.
  auto ok = parseImageList(
      R"([{"Id":"sha256:a","RepoTags":["app:1","app:latest"],"RepoDigests":["app@sha256:d"],)"
      R"("Size":1048576,"Created":1700000000,"Containers":-1},)"
      R"({"Id":"sha256:b","RepoTags":["<none>:<none>"],"RepoDigests":["<none>@<none>"],"Size":7},)"
      R"({"Id":"sha256:c","RepoTags":null,"Size":0}])");
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok.value().size(), 3u);
  EXPECT_EQ(ok.value()[0].id, "sha256:a");
  EXPECT_EQ(ok.value()[0].repo_tags, (std::vector<std::string>{"app:1", "app:latest"}));
  EXPECT_EQ(ok.value()[0].repo_digests, (std::vector<std::string>{"app@sha256:d"}));
  EXPECT_EQ(ok.value()[0].size, 1048576);
  EXPECT_TRUE(ok.value()[1].repo_tags.empty());
  EXPECT_TRUE(ok.value()[1].repo_digests.empty());
  EXPECT_EQ(ok.value()[1].size, 7);
  EXPECT_TRUE(ok.value()[2].repo_tags.empty());
  EXPECT_FALSE(parseImageList(R"({"Id":"a"})").ok());
  EXPECT_FALSE(parseImageList(R"([{"RepoTags":[]}])").ok());
  EXPECT_FALSE(parseImageList(R"([{"Id":"a","RepoTags":[1]}])").ok());
  EXPECT_FALSE(parseImageList(R"([{"Id":"a","Size":"big"}])").ok());
}

// What engine 20.10's classic builder streams for a two-step build.
const char* const kBuildStream = R"({"stream":"Step 1/2 : FROM worker-agent-busybox:1"})"
                                 "\r\n"
                                 R"({"stream":"\n"})"
                                 "\r\n"
                                 R"({"stream":" ---\u003e ca6fa914dedb\n"})"
                                 "\r\n"
                                 R"({"stream":"Step 2/2 : COPY hello.txt /hello.txt\n"})"
                                 "\r\n"
                                 R"({"stream":" ---\u003e 5f3c2a1b9d8e\n"})"
                                 "\r\n"
                                 R"({"aux":{"ID":"sha256:5f3c2a1b9d8e"}})"
                                 "\r\n"
                                 R"({"stream":"Successfully built 5f3c2a1b9d8e\n"})"
                                 "\r\n"
                                 R"({"stream":"Successfully tagged wa-build:1\n"})"
                                 "\r\n";

TEST(EngineJson, ProgressStreamOfASuccessfulBuild) {
  auto r = parseProgressStream(kBuildStream, true);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().image_id, "sha256:5f3c2a1b9d8e");
  EXPECT_EQ(r.value().log_tail,
            "Step 1/2 : FROM worker-agent-busybox:1\n"
            " ---> ca6fa914dedb\n"
            "Step 2/2 : COPY hello.txt /hello.txt\n"
            " ---> 5f3c2a1b9d8e\n"
            "Successfully built 5f3c2a1b9d8e\n"
            "Successfully tagged wa-build:1");
  // A pull reads no aux ID.
  auto as_pull = parseProgressStream(kBuildStream, false);
  ASSERT_TRUE(as_pull.ok());
  EXPECT_EQ(as_pull.value().image_id, "");
}

TEST(EngineJson, ProgressStreamObjectsMayBeJoinedOrSplitAnyhow) {
  // No separators at all, or objects broken across lines: only the JSON matters.
  const std::string joined = R"({"stream":"a\n"}{"stream":"b\n"}  {"aux":{"ID":"sha256:1"}})"
                             "\n"
                             "{\"stream\":\n\"c\\n\"\n}";
  auto r = parseProgressStream(joined, true);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().log_tail, "a\nb\nc");
  EXPECT_EQ(r.value().image_id, "sha256:1");
  auto empty = parseProgressStream("", true);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value().log_tail, "");
}

TEST(EngineJson, ProgressStreamErrorOfABuildCarriesTheLogTail) {
  const std::string body =
      R"({"stream":"Step 2/2 : RUN exit 3\n"})"
      "\r\n"
      R"({"stream":" ---\u003e Running in 0123\n"})"
      "\r\n"
      R"({"stream":"oops on stdout\n"})"
      "\r\n"
      R"({"errorDetail":{"code":3,"message":"The command '/bin/sh -c exit 3' returned a )"
      R"(non-zero code: 3"},"error":"The command '/bin/sh -c exit 3' returned a non-zero )"
      R"(code: 3"})"
      "\r\n";
  auto r = parseProgressStream(body, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 200);
  EXPECT_EQ(r.error().message,
            "The command '/bin/sh -c exit 3' returned a non-zero code: 3\n"
            "Step 2/2 : RUN exit 3\n"
            " ---> Running in 0123\n"
            "oops on stdout");
  // errorDetail alone is enough; a pull's message has no log.
  auto detail_only = parseProgressStream(
      R"({"status":"Pulling from x"}{"errorDetail":{"message":"manifest unknown"}})", false);
  ASSERT_FALSE(detail_only.ok());
  EXPECT_EQ(detail_only.error().http_status, 200);
  EXPECT_EQ(detail_only.error().message, "manifest unknown");
  auto bare = parseProgressStream(R"({"error":{}})", false);
  ASSERT_FALSE(bare.ok());
  EXPECT_EQ(bare.error().http_status, 200);
  EXPECT_FALSE(bare.error().message.empty());
}

TEST(EngineJson, ProgressStreamErrorOfAPullAsEngine2010SendsIt) {
  // Recorded from engine 20.10.24 pulling from a registry whose layer blob is missing:
  // the manifest was found, so the answer was 200 and the failure came at the end.
  const std::string body =
      "{\"status\":\"Pulling from nothing\",\"id\":\"1\"}\r\n"
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"222222222222\"}\r\n"
      "{\"status\":\"Downloading\",\"progressDetail\":{},\"id\":\"222222222222\"}\r\n"
      "{\"errorDetail\":{\"message\":\"unknown blob\"},\"error\":\"unknown blob\"}\r\n";
  auto r = parseProgressStream(body, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 200);
  EXPECT_EQ(r.error().message, "unknown blob");
}

TEST(EngineJson, ProgressStreamOfAPullSkipsProgressBars) {
  const std::string body = R"({"status":"Pulling from library/busybox","id":"1.36"})"
                           "\r\n"
                           R"({"status":"Pulling fs layer","progressDetail":{},"id":"a1b2"})"
                           "\r\n"
                           R"({"status":"Downloading","progressDetail":{"current":1,"total":9},)"
                           R"("progress":"[=\u003e    ]       1B/9B","id":"a1b2"})"
                           "\r\n"
                           R"({"status":"Pull complete","progressDetail":{},"id":"a1b2"})"
                           "\r\n"
                           R"({"status":"Digest: sha256:feed"})"
                           "\r\n"
                           R"({"status":"Status: Downloaded newer image for busybox:1.36"})"
                           "\r\n";
  auto r = parseProgressStream(body, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().log_tail,
            "1.36: Pulling from library/busybox\n"
            "a1b2: Pulling fs layer\n"
            "a1b2: Pull complete\n"
            "Digest: sha256:feed\n"
            "Status: Downloaded newer image for busybox:1.36");
}

TEST(EngineJson, ProgressStreamWithoutTheFieldsApi148Deprecates) {
  // API 1.48 deprecates "progress" and "error" (to be left empty or omitted): a progress
  // bar is still known by its progressDetail, and errorDetail alone is the failure.
  const std::string body = R"({"status":"Pulling fs layer","progressDetail":{},"id":"a1b2"})"
                           "\r\n"
                           R"({"status":"Downloading","progressDetail":{"current":1,"total":9},)"
                           R"("id":"a1b2"})"
                           "\r\n"
                           R"({"status":"Pull complete","progressDetail":{},"id":"a1b2"})";
  auto r = parseProgressStream(body, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().log_tail, "a1b2: Pulling fs layer\na1b2: Pull complete");
  auto failed =
      parseProgressStream(R"({"errorDetail":{"message":"manifest unknown"},"error":""})", false);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "manifest unknown");
}

TEST(EngineJson, ProgressStreamLogTailIsBounded) {
  std::string body;
  for (int i = 0; i < 1000; ++i)
    body += R"({"stream":"line )" + std::to_string(i) +
            R"(\n"})"
            "\n";
  auto many = parseProgressStream(body, true);
  ASSERT_TRUE(many.ok());
  std::string expected;
  for (size_t i = 1000 - kLogTailLines; i < 1000; ++i)
    expected += "line " + std::to_string(i) + (i == 999 ? "" : "\n");
  EXPECT_EQ(many.value().log_tail, expected);

  // Long lines: at most kLogTailBytes, starting at a line.
  const std::string long_line(3000, 'x');
  body.clear();
  for (int i = 0; i < 5; ++i) body += R"({"stream":")" + long_line + R"(\n"})";
  auto wide = parseProgressStream(body, true);
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide.value().log_tail, long_line);

  // One huge line: its end, cut at a character boundary (no stray UTF-8 continuation).
  std::string accents;
  for (int i = 0; i < 3000; ++i) accents += "\u00e9";
  // With the odd "x" the last kLogTailBytes start with a continuation byte, skipped.
  auto cut = parseProgressStream(R"({"stream":")" + accents + R"(x"})", true);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut.value().log_tail.size(), kLogTailBytes - 1);
  EXPECT_EQ(static_cast<unsigned char>(cut.value().log_tail[0]), 0xC3);
  EXPECT_EQ(cut.value().log_tail.back(), 'x');

  // An error after a long log still has a bounded message.
  body.clear();
  for (int i = 0; i < 200; ++i) body += R"({"stream":")" + long_line + R"(\n"})";
  body += R"({"error":"failed"})";
  auto failed = parseProgressStream(body, true);
  ASSERT_FALSE(failed.ok());
  EXPECT_LE(failed.error().message.size(), kLogTailBytes + 10);
  EXPECT_TRUE(failed.error().message.starts_with("failed\n"));
}

TEST(EngineJson, ProgressStreamThatIsNotJsonIsMalformed) {
  for (const char* body : {R"({"stream":"a"}garbage)", R"({"stream":"a"}{"stream":)", "[1]",
                           R"({"stream":"a"})"
                           "\n"
                           "<html>"}) {
    auto r = parseProgressStream(body, true);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().http_status, 0) << body;
    EXPECT_NE(r.error().message.find("malformed build response"), std::string::npos)
        << r.error().message;
  }
}

TEST(EngineEndpoint, ParsesUnixAndTcp) {
  auto unix_host = EngineEndpoint::parse("unix:///var/run/docker.sock");
  ASSERT_TRUE(unix_host);
  EXPECT_EQ(unix_host->kind, EngineEndpoint::Kind::kUnix);
  EXPECT_EQ(unix_host->unix_path, "/var/run/docker.sock");
  EXPECT_EQ(unix_host->urlBase(), "http://localhost");

  auto tcp = EngineEndpoint::parse("tcp://127.0.0.1:2375");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->kind, EngineEndpoint::Kind::kTcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 2375);
  EXPECT_EQ(tcp->urlBase(), "http://127.0.0.1:2375");

  auto v6 = EngineEndpoint::parse("tcp://[::1]:2375");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->urlBase(), "http://[::1]:2375");

  EXPECT_FALSE(EngineEndpoint::parse("/var/run/docker.sock"));
  EXPECT_FALSE(EngineEndpoint::parse("unix://relative.sock"));
  EXPECT_FALSE(EngineEndpoint::parse("tcp://host"));
  EXPECT_FALSE(EngineEndpoint::parse("tcp://host:0"));
  EXPECT_FALSE(EngineEndpoint::parse("tcp://host:99999"));
  EXPECT_FALSE(EngineEndpoint::parse("tcp://::1:2375"));
  EXPECT_FALSE(EngineEndpoint::parse("https://host:2376"));
}

TEST(ResponseHead, ParsesUpgradeAndErrors) {
  const std::string head =
      "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
      "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
  auto upgraded = parseResponseHead(head + "\x01\x02");
  EXPECT_EQ(upgraded.parse, ResponseHead::Parse::kComplete);
  EXPECT_EQ(upgraded.status, 101);
  EXPECT_EQ(upgraded.length, head.size());
  EXPECT_FALSE(upgraded.content_length);

  auto not_found = parseResponseHead("HTTP/1.1 404 Not Found\r\ncontent-LENGTH:  42 \r\n\r\n{");
  EXPECT_EQ(not_found.parse, ResponseHead::Parse::kComplete);
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.content_length, 42u);

  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\n").parse, ResponseHead::Parse::kIncomplete);
  EXPECT_EQ(parseResponseHead("HTT").parse, ResponseHead::Parse::kIncomplete);
  EXPECT_EQ(parseResponseHead("SSH-2.0").parse, ResponseHead::Parse::kInvalid);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 2x0 OK\r\n\r\n").parse, ResponseHead::Parse::kInvalid);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\nbroken\r\n\r\n").parse,
            ResponseHead::Parse::kInvalid);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200\r\n\r\n").status, 200);
}

TEST(AttachRequest, MatchesWhatTheCliSends) {
  EXPECT_EQ(HijackedAttach::buildRequest("abc123", "docker"),
            "POST /v1.41/containers/abc123/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
            "Host: docker\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 0\r\n"
            "Connection: Upgrade\r\n"
            "Upgrade: tcp\r\n"
            "\r\n");
}

}  // namespace
}  // namespace wa::docker
