#include "jobs/registry_auth.h"

#include <gtest/gtest.h>

#include "core/text.h"

namespace wa::jobs {
namespace {

// The header the engine receives, decoded back to its JSON.
std::string decodeHeader(const std::string& header) {
  return core::base64Decode(header, core::Base64Alphabet::kUrl).value_or("<not base64>");
}

TEST(RegistryOf, FollowsTheEnginesRule) {
  EXPECT_EQ(registryOf("busybox"), "docker.io");
  EXPECT_EQ(registryOf("library/busybox:1"), "docker.io");
  EXPECT_EQ(registryOf("team/app"), "docker.io");
  EXPECT_EQ(registryOf("docker.io/library/busybox"), "docker.io");
  EXPECT_EQ(registryOf("index.docker.io/library/busybox"), "docker.io");
  EXPECT_EQ(registryOf("127.0.0.1:5000/team/app:1"), "127.0.0.1:5000");
  EXPECT_EQ(registryOf("localhost/app"), "localhost");
  EXPECT_EQ(registryOf("registry.example/app@sha256:00"), "registry.example");
}

TEST(RegistryAuth, AuthFieldAndUsernamePassword) {
  std::string error;
  auto auth = RegistryAuth::parse(R"({"auths": {
      "https://index.docker.io/v1/": {"auth": ")" +
                                      core::base64Encode("hub:pa:ss") + R"("},
      "127.0.0.1:5001": {"username": "ci", "password": "s3cret"}}})",
                                  &error);
  ASSERT_TRUE(auth) << error;
  EXPECT_EQ(auth->registries(), 2u);
  const std::string hub = decodeHeader(auth->headerFor("busybox:1"));
  EXPECT_NE(hub.find(R"("username":"hub")"), std::string::npos) << hub;
  EXPECT_NE(hub.find(R"("password":"pa:ss")"), std::string::npos) << hub;
  EXPECT_NE(hub.find(R"("serveraddress":"docker.io")"), std::string::npos) << hub;
  const std::string local = decodeHeader(auth->headerFor("127.0.0.1:5001/x/y:1"));
  EXPECT_NE(local.find(R"("password":"s3cret")"), std::string::npos) << local;
  EXPECT_EQ(auth->headerFor("127.0.0.1:5000/x/y:1"), "");
  EXPECT_EQ(auth->headerFor("evil.example/busybox"), "");
}

TEST(RegistryAuth, HeaderIsUrlSafeBase64) {
  std::string error;
  // Chosen so that the standard alphabet would need '+' or '/'.
  auto auth = RegistryAuth::parse(
      R"({"auths": {"r.example": {"username": "u", "password": "???>>>~~~"}}})", &error);
  ASSERT_TRUE(auth) << error;
  const std::string header = auth->headerFor("r.example/app");
  EXPECT_EQ(header.find('+'), std::string::npos);
  EXPECT_EQ(header.find('/'), std::string::npos);
}

TEST(RegistryAuth, BadFilesAreRefusedWithoutShowingSecrets) {
  std::string error;
  EXPECT_FALSE(RegistryAuth::parse("not json", &error));
  EXPECT_FALSE(RegistryAuth::parse(R"({"credHelpers": {}})", &error));
  EXPECT_NE(error.find("auths"), std::string::npos);
  EXPECT_FALSE(RegistryAuth::parse(R"({"auths": {"r": {"auth": "!!!"}}})", &error));
  EXPECT_FALSE(RegistryAuth::parse(
      R"({"auths": {"r": {"auth": ")" + core::base64Encode("no-colon-secret") + R"("}}})", &error));
  EXPECT_EQ(error.find("no-colon-secret"), std::string::npos);
  EXPECT_FALSE(RegistryAuth::parse(R"({"auths": {"r": {"username": "u"}}})", &error));
  EXPECT_FALSE(RegistryAuth::load("/nonexistent/auth.json", &error));
  EXPECT_NE(error.find("/nonexistent/auth.json"), std::string::npos);
}

}  // namespace
}  // namespace wa::jobs
