#include "docker/engine_json.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "docker/engine_endpoint.h"
#include "docker/hijacked_attach.h"

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

TEST(EngineJson, ParseVersionAndInfo) {
  auto v = parseVersionResponse(
      R"({"Version":"20.10.24+dfsg1","ApiVersion":"1.41","Os":"linux","Arch":"amd64","X":1})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value().version, "20.10.24+dfsg1");
  EXPECT_EQ(v.value().api_version, "1.41");
  EXPECT_EQ(v.value().os, "linux");
  EXPECT_EQ(v.value().arch, "amd64");
  EXPECT_FALSE(parseVersionResponse(R"({"Version":5})").ok());
  EXPECT_FALSE(parseVersionResponse("[]").ok());
  auto i = parseInfoResponse(R"({"DockerRootDir":"/var/lib/docker","Containers":3})");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i.value().docker_root_dir, "/var/lib/docker");
  EXPECT_FALSE(parseInfoResponse("not json").ok());
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
