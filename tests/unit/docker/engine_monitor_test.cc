#include "docker/engine_monitor.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "docker/fake_engine.h"
#include "docker/recorded_info.h"

namespace wa::docker {
namespace {

using namespace std::chrono_literals;
using testing::FakeEngine;
using testing::FakeReply;
using testing::FakeRequest;
using testing::runFor;
using testing::runUntil;

// The monitor against a fake engine whose pings succeed while `up` is true (otherwise the
// engine answers 500, which a ping takes as unreachable too). Every change is recorded.
class EngineMonitorTest : public ::testing::Test {
 protected:
  EngineMonitorTest() {
    engine.setHandler([this](const FakeRequest& r) {
      if (r.target == "/_ping") return up ? FakeReply{200, "OK"} : FakeReply{500, "{}"};
      if (r.target == "/version") return FakeReply{200, R"({"Version":"20.10.24"})"};
      if (r.target == "/v1.41/info") return FakeReply{200, info};
      return FakeReply{404, R"({"message":"page not found"})"};
    });
    monitor.setOnChange([this](const EngineStatus& s) { changes.push_back(s.reachable); });
  }

  size_t pings() const {
    size_t n = 0;
    for (const FakeRequest& r : engine.requests) n += r.target == "/_ping" ? 1 : 0;
    return n;
  }

  core::SystemClock clock;
  core::EventLoop loop{clock};
  FakeEngine engine{loop};
  DockerClient docker{loop, engine.dockerHost()};
  EngineMonitor monitor{loop, docker, 100ms};
  bool up = true;
  std::string info = R"({"DockerRootDir":"/data"})";
  std::vector<bool> changes;
};

TEST_F(EngineMonitorTest, FollowsThePings) {
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().reachable; }));
  ASSERT_TRUE(runUntil(loop, [&] {
    return monitor.status().docker_root_dir == "/data" && monitor.status().version;
  }));
  EXPECT_FALSE(monitor.status().version->podman);
  up = false;
  ASSERT_TRUE(runUntil(loop, [&] { return !monitor.status().reachable; }));
  EXPECT_TRUE(monitor.status().checked);
  EXPECT_FALSE(monitor.status().ping_ms);
  EXPECT_FALSE(monitor.status().last_error.empty());
  up = true;
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().reachable; }));
  // reachable, version and root directory known, unreachable, reachable (and its version
  // and root directory again).
  ASSERT_GE(changes.size(), 5u);
  EXPECT_TRUE(changes[0]);
  EXPECT_TRUE(changes[1]);
  EXPECT_TRUE(changes[2]);
  EXPECT_FALSE(changes[3]);
  EXPECT_TRUE(changes[4]);
}

TEST_F(EngineMonitorTest, AFailedConnectElsewhereMakesItUnreachableAtOnce) {
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().docker_root_dir == "/data"; }));
  changes.clear();
  const size_t pings_before = pings();
  // A ping may be under way already (every 100 ms; a ping can take longer than that on a
  // slow or emulated machine, as under qemu-user): the call must add no request to it.
  const size_t in_flight_before = docker.inFlight();
  monitor.reportConnectFailed("Docker engine at unix:///x: Couldn't connect to server");
  // At once, inside the call, and without a request of its own.
  EXPECT_FALSE(monitor.status().reachable);
  EXPECT_EQ(monitor.status().last_error, "Docker engine at unix:///x: Couldn't connect to server");
  EXPECT_EQ(changes, (std::vector<bool>{false}));
  EXPECT_EQ(docker.inFlight(), in_flight_before);
  // Said once: a second failure changes nothing.
  monitor.reportConnectFailed("again");
  EXPECT_EQ(changes.size(), 1u);
  EXPECT_EQ(monitor.status().last_error, "Docker engine at unix:///x: Couldn't connect to server");
  // The next ping finds the engine there and says so.
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().reachable; }));
  EXPECT_GT(pings(), pings_before);
  EXPECT_TRUE(changes.at(1));
}

TEST_F(EngineMonitorTest, AFailedConnectBeforeTheFirstPingCounts) {
  up = false;
  monitor.reportConnectFailed("nothing there");
  EXPECT_TRUE(monitor.status().checked);
  EXPECT_FALSE(monitor.status().reachable);
  EXPECT_EQ(changes, (std::vector<bool>{false}));
  monitor.start();
  runFor(loop, 250ms);
  EXPECT_EQ(changes.size(), 1u) << "failed pings of an engine known to be away are no change";
}

// An engine that cannot enforce limits is reported as such, and asked again after it
// came back: here it returns as a root engine and the reason goes.
TEST_F(EngineMonitorTest, RootlessCgroupV1EngineIsReportedUntilItComesBackAsRoot) {
  info = testing::kPodmanRootlessInfo;
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().info_known; }));
  EXPECT_NE(monitor.status().limits_unenforced.find("rootless on cgroup v1"), std::string::npos)
      << monitor.status().limits_unenforced;
  up = false;
  ASSERT_TRUE(runUntil(loop, [&] { return !monitor.status().reachable; }));
  EXPECT_FALSE(monitor.status().info_known);
  info = testing::kPodmanRootInfo;
  up = true;
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().info_known; }));
  EXPECT_EQ(monitor.status().limits_unenforced, "");
  EXPECT_EQ(monitor.status().docker_root_dir, "/var/lib/containers/storage");
}

// A fake engine that speaks Engine API min..max, as Docker does: every versioned request
// outside that range gets Docker's 400 (the exact text of Docker 29.0's refusal below its
// minimum), and its /_ping and /version say its range.
class NegotiationTest : public ::testing::Test {
 protected:
  NegotiationTest() {
    engine.setHandler([this](const FakeRequest& r) {
      FakeReply reply = answer(r);
      reply.api_version = max;
      return reply;
    });
  }

  FakeReply answer(const FakeRequest& r) const {
    if (r.target == "/_ping") return FakeReply{200, "OK"};
    if (r.target == "/version") {
      return FakeReply{200, R"({"Version":")" + server + R"(","ApiVersion":")" + max +
                                R"(","MinAPIVersion":")" + min + R"("})"};
    }
    // "/v1.41/info" -> "1.41"
    const size_t slash = r.target.find('/', 1);
    const std::string version = r.target.substr(2, slash - 2);
    const std::optional<ApiVersion> asked = ApiVersion::parse(version);
    if (!asked) return FakeReply{404, R"({"message":"page not found"})"};
    if (*asked < *ApiVersion::parse(min)) {
      return FakeReply{400, R"({"message":"client version )" + version +
                                " is too old. Minimum supported API version is " + min +
                                R"(, please upgrade your client to a newer version"})"};
    }
    if (*asked > *ApiVersion::parse(max)) {
      return FakeReply{400, R"({"message":"client version )" + version +
                                " is too new. Maximum supported API version is " + max + R"("})"};
    }
    if (r.target.substr(slash) == "/info") return FakeReply{200, R"({"DockerRootDir":"/d"})"};
    return FakeReply{404, R"({"message":"page not found"})"};
  }

  // Requests this engine refused for their version.
  size_t refused() const {
    size_t n = 0;
    for (const FakeRequest& r : engine.requests) {
      if (r.target.starts_with("/v") && answer(r).status == 400) ++n;
    }
    return n;
  }
  bool asked(const std::string& target) const {
    for (const FakeRequest& r : engine.requests) {
      if (r.target == target) return true;
    }
    return false;
  }

  core::SystemClock clock;
  core::EventLoop loop{clock};
  FakeEngine engine{loop};
  DockerClient docker{loop, engine.dockerHost()};
  EngineMonitor monitor{loop, docker, 100ms};
  std::string server = "29.0.0";
  std::string min = "1.44";
  std::string max = "1.52";
};

TEST_F(NegotiationTest, Docker29IsSpokenToInItsNewestVersion) {
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().info_known; }));
  EXPECT_EQ(monitor.status().api_version, (ApiVersion{1, 52}));
  EXPECT_EQ(monitor.status().api_unsupported, "");
  EXPECT_EQ(monitor.status().api_range.min, (ApiVersion{1, 44}));
  EXPECT_EQ(monitor.status().api_range.max, (ApiVersion{1, 52}));
  EXPECT_EQ(docker.apiVersion(), "1.52");
  EXPECT_TRUE(asked("/v1.52/info"));
  EXPECT_EQ(monitor.status().docker_root_dir, "/d");
  // Nothing was sent in a version the engine refuses.
  EXPECT_EQ(refused(), 0u);
}

TEST_F(NegotiationTest, Debian12EngineKeeps141) {
  server = "20.10.24+dfsg1";
  min = "1.12";
  max = "1.41";
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().info_known; }));
  EXPECT_EQ(docker.apiVersion(), "1.41");
  EXPECT_TRUE(asked("/v1.41/info"));
}

TEST_F(NegotiationTest, AnEngineOutOfRangeIsReportedAndNeverAskedInAVersionItRefuses) {
  min = "1.53";
  max = "1.60";
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return !monitor.status().api_unsupported.empty(); }));
  runFor(loop, 350ms);  // a few pings more
  EXPECT_TRUE(monitor.status().reachable);
  EXPECT_FALSE(monitor.status().api_version);
  EXPECT_FALSE(monitor.status().info_known);
  EXPECT_NE(monitor.status().api_unsupported.find("1.53 to 1.60"), std::string::npos)
      << monitor.status().api_unsupported;
  EXPECT_EQ(refused(), 0u);
}

TEST_F(NegotiationTest, AnEngineUpgradedBetweenTwoPingsIsNegotiatedAgain) {
  server = "20.10.24+dfsg1";
  min = "1.12";
  max = "1.41";
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().info_known; }));
  EXPECT_EQ(docker.apiVersion(), "1.41");
  // The pings never fail: only their Api-Version header tells.
  server = "29.0.0";
  min = "1.44";
  max = "1.52";
  ASSERT_TRUE(runUntil(loop, [&] {
    return monitor.status().api_version == ApiVersion{1, 52} && monitor.status().info_known;
  }));
  EXPECT_TRUE(monitor.status().reachable);
  EXPECT_EQ(monitor.status().version->version, "29.0.0");
  EXPECT_EQ(docker.apiVersion(), "1.52");
  EXPECT_TRUE(asked("/v1.52/info"));
}

TEST_F(NegotiationTest, APinIsSpokenAndCanBeLifted) {
  monitor.setPinnedApiVersion(ApiVersion{1, 44});
  monitor.start();
  ASSERT_TRUE(runUntil(loop, [&] { return monitor.status().info_known; }));
  EXPECT_EQ(docker.apiVersion(), "1.44");
  EXPECT_TRUE(asked("/v1.44/info"));
  // Lifted (a reload): negotiated at once from the range already known.
  monitor.setPinnedApiVersion(std::nullopt);
  EXPECT_EQ(monitor.status().api_version, (ApiVersion{1, 52}));
  EXPECT_EQ(docker.apiVersion(), "1.52");
  // A pin the engine refuses: no version, and the reason names the pin.
  monitor.setPinnedApiVersion(ApiVersion{1, 41});
  EXPECT_FALSE(monitor.status().api_version);
  EXPECT_NE(monitor.status().api_unsupported.find("pins Engine API 1.41"), std::string::npos)
      << monitor.status().api_unsupported;
  EXPECT_EQ(refused(), 0u);
}

}  // namespace
}  // namespace wa::docker
