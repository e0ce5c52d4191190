// The Engine API version negotiation against the engines the worker meets: each engine's
// range as its unversioned /version reports it (ApiVersion, MinAPIVersion).
#include "docker/api_version.h"

#include <gtest/gtest.h>

#include <string>

namespace wa::docker {
namespace {

ApiVersion v(int minor) { return ApiVersion{1, minor}; }

EngineApiRange range(int min_minor, int max_minor) { return {v(max_minor), v(min_minor)}; }

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ApiVersionTest, ParsesMajorDotMinor) {
  EXPECT_EQ(ApiVersion::parse("1.41"), v(41));
  EXPECT_EQ(ApiVersion::parse("1.9"), v(9));
  EXPECT_EQ(ApiVersion::parse("1.41.0"), v(41));  // a patch part is ignored
  EXPECT_EQ(ApiVersion::parse("2.0"), (ApiVersion{2, 0}));
  for (const char* bad : {"", "1", "1.", ".41", "v1.41", "1.41a", "1.x", "1.41.", "1.41.0.0",
                          " 1.41", "1.41 ", "12345.1", "1.-4"}) {
    EXPECT_FALSE(ApiVersion::parse(bad)) << bad;
  }
  EXPECT_EQ(v(41).text(), "1.41");
}

TEST(ApiVersionTest, OrdersNumericallyNotAsText) {
  EXPECT_LT(v(9), v(41));  // "1.9" > "1.41" as text
  EXPECT_LT(v(41), v(52));
  EXPECT_LT(v(99), (ApiVersion{2, 0}));
}

TEST(ApiNegotiationTest, Debian12DockerIo) {
  // docker.io 20.10.24+dfsg1: ApiVersion 1.41, MinAPIVersion 1.12 (this machine's engine).
  const ApiNegotiation n = negotiateApiVersion(range(12, 41));
  EXPECT_EQ(n.version, v(41));
  EXPECT_EQ(n.problem, "");
}

TEST(ApiNegotiationTest, Debian13DockerIo26) {
  // docker.io 26.1.5+dfsg1: ApiVersion 1.45, MinAPIVersion 1.24.
  EXPECT_EQ(negotiateApiVersion(range(24, 45)).version, v(45));
}

TEST(ApiNegotiationTest, Docker28) { EXPECT_EQ(negotiateApiVersion(range(24, 51)).version, v(51)); }

TEST(ApiNegotiationTest, Docker29) {
  // 29.0 and 29.1: 1.44 to 1.52 (they refuse older clients with a 400).
  EXPECT_EQ(negotiateApiVersion(range(44, 52)).version, v(52));
  // 29.2 speaks 1.53; 29.3 and later accept 1.40 again and speak 1.54, 29.6 1.55: the worker
  // stays at the newest version it is tested against.
  EXPECT_EQ(negotiateApiVersion(range(44, 53)).version, v(52));
  EXPECT_EQ(negotiateApiVersion(range(40, 55)).version, v(52));
}

TEST(ApiNegotiationTest, PodmanCompatibleApi) {
  // Podman 4.3.1's compat service (Debian 12) and Podman 5's: ApiVersion 1.41,
  // MinAPIVersion 1.24, and the same Api-Version on /_ping.
  EXPECT_EQ(negotiateApiVersion(range(24, 41)).version, v(41));
}

TEST(ApiNegotiationTest, AnEngineTooOldNamesBothRangesAndWhatToDo) {
  // Docker 19.03: 1.12 to 1.40.
  const ApiNegotiation n = negotiateApiVersion(range(12, 40));
  EXPECT_FALSE(n.version);
  EXPECT_TRUE(mentions(n.problem, "1.12 to 1.40")) << n.problem;
  EXPECT_TRUE(mentions(n.problem, "1.41 to 1.52")) << n.problem;
  EXPECT_TRUE(mentions(n.problem, "upgrade the engine")) << n.problem;
}

TEST(ApiNegotiationTest, AnEngineTooNewNamesBothRangesAndWhatToDo) {
  // An engine that no longer accepts anything the worker speaks.
  const ApiNegotiation n = negotiateApiVersion(range(53, 60));
  EXPECT_FALSE(n.version);
  EXPECT_TRUE(mentions(n.problem, "1.53 to 1.60")) << n.problem;
  EXPECT_TRUE(mentions(n.problem, "1.41 to 1.52")) << n.problem;
  EXPECT_TRUE(mentions(n.problem, "upgrade worker-agent")) << n.problem;
  EXPECT_TRUE(mentions(n.problem, "DOCKER_MIN_API_VERSION")) << n.problem;
}

TEST(ApiNegotiationTest, TheEdgesOfTheWorkersRange) {
  EXPECT_EQ(negotiateApiVersion(range(41, 41)).version, v(41));
  EXPECT_EQ(negotiateApiVersion(range(52, 60)).version, v(52));
  EXPECT_FALSE(negotiateApiVersion(range(12, 40)).version);
  EXPECT_FALSE(negotiateApiVersion(range(53, 53)).version);
}

TEST(ApiNegotiationTest, AnEngineThatSaysNoVersion) {
  const ApiNegotiation none = negotiateApiVersion(EngineApiRange{});
  EXPECT_FALSE(none.version);
  EXPECT_TRUE(mentions(none.problem, "did not say")) << none.problem;
  EXPECT_TRUE(mentions(none.problem, "docker_api_version")) << none.problem;
  // A maximum without a minimum (an engine older than API 1.25 says none): no lower bound.
  EXPECT_EQ(negotiateApiVersion(EngineApiRange{v(45), std::nullopt}).version, v(45));
}

TEST(ApiNegotiationTest, APinWithinBothRangesIsSpoken) {
  EXPECT_EQ(negotiateApiVersion(range(44, 52), v(44)).version, v(44));
  EXPECT_EQ(negotiateApiVersion(range(24, 45), v(41)).version, v(41));
  // Nothing known of the engine: the operator's word goes.
  EXPECT_EQ(negotiateApiVersion(EngineApiRange{}, v(45)).version, v(45));
}

TEST(ApiNegotiationTest, APinTheEngineRefusesIsAProblem) {
  const ApiNegotiation n = negotiateApiVersion(range(44, 52), v(41));
  EXPECT_FALSE(n.version);
  EXPECT_TRUE(mentions(n.problem, "pins Engine API 1.41")) << n.problem;
  EXPECT_TRUE(mentions(n.problem, "1.44 to 1.52")) << n.problem;
  EXPECT_TRUE(mentions(n.problem, "remove the pin")) << n.problem;
  EXPECT_FALSE(negotiateApiVersion(range(12, 41), v(45)).version);
}

TEST(ApiNegotiationTest, APinOutsideTheWorkersRangeIsAProblem) {
  const ApiNegotiation old_pin = negotiateApiVersion(range(12, 41), v(40));
  EXPECT_FALSE(old_pin.version);
  EXPECT_TRUE(mentions(old_pin.problem, "outside the versions this worker speaks (1.41 to 1.52)"))
      << old_pin.problem;
  EXPECT_FALSE(negotiateApiVersion(range(44, 55), v(53)).version);
}

TEST(ApiNegotiationTest, DescribesTheEnginesRange) {
  EXPECT_EQ(describeEngineApiRange(range(44, 52)), "1.44 to 1.52");
  EXPECT_EQ(describeEngineApiRange(EngineApiRange{v(41), std::nullopt}), "up to 1.41");
  EXPECT_EQ(describeEngineApiRange(EngineApiRange{}), "unknown versions");
}

}  // namespace
}  // namespace wa::docker
