// The verdicts of `worker-agent ctl check`, each from facts given by hand.
#include "ctl/checks.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace wa::ctl {
namespace {

SocketFacts dockerSocket(mode_t mode = 0660, std::string group = "docker", gid_t gid = 998) {
  SocketFacts s;
  s.path = "/var/run/docker.sock";
  s.is_socket = true;
  s.uid = 0;
  s.owner = "root";
  s.gid = gid;
  s.group = std::move(group);
  s.mode = mode;
  return s;
}

ServiceUser serviceUser(std::vector<std::string> groups = {"worker-agent"},
                        std::vector<std::string> unit_groups = {}) {
  ServiceUser u;
  u.name = "worker-agent";
  u.uid = 990;
  u.groups = std::move(groups);
  u.unit_groups = std::move(unit_groups);
  return u;
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ChecksTest, Configuration) {
  EXPECT_EQ(checkConfiguration("/etc/w.yaml", "").level, CheckLevel::kOk);
  EXPECT_EQ(checkConfiguration("", "").detail,
            "no file read: the defaults and WORKER_AGENT_* variables apply");
  const CheckItem bad = checkConfiguration("/etc/w.yaml", "/etc/w.yaml:3:1: port: bad");
  EXPECT_EQ(bad.level, CheckLevel::kFail);
  EXPECT_EQ(bad.detail, "/etc/w.yaml:3:1: port: bad");
  EXPECT_TRUE(mentions(bad.fix, "worker-agent --config /etc/w.yaml --check-config")) << bad.fix;
}

TEST(ChecksTest, TheEngineSocketAndWhoReachesIt) {
  // Through the group the unit adds, as packaged.
  CheckItem c = checkEngineSocket(dockerSocket(), serviceUser({"worker-agent"}, {"docker"}));
  EXPECT_EQ(c.level, CheckLevel::kOk);
  EXPECT_TRUE(mentions(c.detail, "(root:docker 0660)")) << c.detail;
  EXPECT_TRUE(mentions(c.detail, "SupplementaryGroups=")) << c.detail;
  // Through a group of its own.
  EXPECT_EQ(checkEngineSocket(dockerSocket(), serviceUser({"worker-agent", "docker"})).level,
            CheckLevel::kOk);
  // Neither: the drop-in that gives the group.
  c = checkEngineSocket(dockerSocket(), serviceUser());
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_TRUE(mentions(c.fix, "SupplementaryGroups=docker")) << c.fix;
  // Podman's socket as it comes: root:root 0660. Nothing but a group on the socket helps.
  c = checkEngineSocket(dockerSocket(0660, "root", 0), serviceUser({}, {"docker"}));
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_TRUE(mentions(c.fix, "SocketGroup=docker")) << c.fix;
  // The group without write permission is no way in.
  EXPECT_EQ(checkEngineSocket(dockerSocket(0640), serviceUser({"docker"})).level,
            CheckLevel::kFail);
  // Open to everyone: root for every local user.
  c = checkEngineSocket(dockerSocket(0666), serviceUser());
  EXPECT_EQ(c.level, CheckLevel::kWarn);
  EXPECT_TRUE(mentions(c.fix, "chmod 0660")) << c.fix;
  // Owner, and root.
  SocketFacts owned = dockerSocket(0600);
  owned.uid = 990;
  owned.owner = "worker-agent";
  EXPECT_EQ(checkEngineSocket(owned, serviceUser()).level, CheckLevel::kOk);
  ServiceUser root = serviceUser();
  root.uid = 0;
  EXPECT_EQ(checkEngineSocket(dockerSocket(0600), root).level, CheckLevel::kOk);
  // No such user: not known.
  ServiceUser nobody = serviceUser();
  nobody.known = false;
  EXPECT_EQ(checkEngineSocket(dockerSocket(), nobody).level, CheckLevel::kWarn);
  // No socket, or something else.
  SocketFacts missing = dockerSocket();
  missing.stat_errno = ENOENT;
  c = checkEngineSocket(missing, serviceUser());
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_EQ(c.detail, "no socket at /var/run/docker.sock");
  EXPECT_TRUE(mentions(c.fix, "systemctl start docker")) << c.fix;
  SocketFacts file = dockerSocket();
  file.is_socket = false;
  EXPECT_EQ(checkEngineSocket(file, serviceUser()).detail, "/var/run/docker.sock is not a socket");
}

TEST(ChecksTest, TcpEngines) {
  EXPECT_EQ(checkTcpEngine("tcp://127.0.0.1:2375").level, CheckLevel::kOk);
  EXPECT_EQ(checkTcpEngine("tcp://localhost:2375").level, CheckLevel::kOk);
  EXPECT_EQ(checkTcpEngine("tcp://[::1]:2375").level, CheckLevel::kOk);
  EXPECT_EQ(checkTcpEngine("tcp://10.0.0.5:2375").level, CheckLevel::kWarn);
}

constexpr const char* kDocker2010 =
    R"({"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux",
        "Arch":"amd64","Components":[{"Name":"Engine","Version":"20.10.24+dfsg1"}]})";

TEST(ChecksTest, EngineVersions) {
  EngineFacts facts{"unix:///var/run/docker.sock", "", kDocker2010, ""};
  CheckItem c = checkEngine(facts, std::nullopt);
  EXPECT_EQ(c.level, CheckLevel::kOk);
  EXPECT_EQ(c.detail,
            "Docker Engine 20.10.24+dfsg1, Engine API 1.12 to 1.41; the worker speaks 1.41 to it");
  // The version the daemon would negotiate, and a pin.
  facts.version_body = R"({"Version":"29.0.0","ApiVersion":"1.52","MinAPIVersion":"1.44"})";
  EXPECT_TRUE(checkEngine(facts, std::nullopt).detail.ends_with("the worker speaks 1.52 to it"));
  c = checkEngine(facts, docker::ApiVersion{1, 45});
  EXPECT_EQ(c.level, CheckLevel::kOk);
  EXPECT_TRUE(c.detail.ends_with("1.45 (pinned by docker_api_version) to it")) << c.detail;
  // No version fits: the negotiation's own words say what to do.
  c = checkEngine(facts, docker::ApiVersion{1, 41});
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_TRUE(mentions(c.fix, "docker_api_version pins Engine API 1.41")) << c.fix;
  facts.version_body = R"({"Version":"19.03.1","ApiVersion":"1.40","MinAPIVersion":"1.12"})";
  c = checkEngine(facts, std::nullopt);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_TRUE(mentions(c.fix, "upgrade the engine")) << c.fix;
  // Podman says so.
  facts.version_body =
      R"({"Version":"4.3.1","ApiVersion":"1.41","MinAPIVersion":"1.24",
          "Components":[{"Name":"Podman Engine","Version":"4.3.1"}]})";
  EXPECT_TRUE(checkEngine(facts, std::nullopt).detail.starts_with("Podman 4.3.1, Engine API"));
  // No answer at all.
  facts.error = "Couldn't connect to server";
  c = checkEngine(facts, std::nullopt);
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_EQ(c.detail, "no answer at unix:///var/run/docker.sock: Couldn't connect to server");
}

TEST(ChecksTest, EngineLimits) {
  EngineFacts facts{"unix:///run/podman/podman.sock", "", kDocker2010, ""};
  EXPECT_FALSE(checkEngineLimits(facts));
  facts.info_body = R"({"DockerRootDir":"/var/lib/docker","CgroupVersion":"2"})";
  EXPECT_FALSE(checkEngineLimits(facts));
  facts.info_body =
      R"({"DockerRootDir":"/x","CgroupVersion":"1","SecurityOptions":["name=rootless"]})";
  const auto c = checkEngineLimits(facts);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->level, CheckLevel::kFail);
}

TEST(ChecksTest, ListenAddress) {
  config::Config config;
  config.listen = "127.0.0.1";
  EXPECT_EQ(checkListen(config, {true, "", 0}).detail, "the worker answers on 127.0.0.1:9000");
  CheckItem c = checkListen(config, {false, "connection refused", 0});
  EXPECT_EQ(c.level, CheckLevel::kWarn);
  EXPECT_TRUE(mentions(c.fix, "systemctl start worker-agent")) << c.fix;
  c = checkListen(config, {false, "answered 404", EADDRINUSE});
  EXPECT_EQ(c.level, CheckLevel::kFail);
  EXPECT_TRUE(mentions(c.fix, "ss -ltnp 'sport = :9000'")) << c.fix;
  config.listen = "10.9.9.9";
  c = checkListen(config, {false, "", EADDRNOTAVAIL});
  EXPECT_EQ(c.detail, "10.9.9.9 is not an address of this host");
  config.listen = "::1";
  EXPECT_EQ(checkListen(config, {true, "", 0}).detail, "the worker answers on [::1]:9000");
  config.port = 80;
  EXPECT_EQ(checkListen(config, {false, "", 0}).level, CheckLevel::kFail);
  config.port = 0;
  EXPECT_EQ(checkListen(config, {false, "", 0}).level, CheckLevel::kWarn);
}

TEST(ChecksTest, Exposure) {
  config::Config config;
  config.listen = "127.0.0.1";
  EXPECT_EQ(checkExposure(config).level, CheckLevel::kOk);
  config.listen = "::1";
  EXPECT_EQ(checkExposure(config).level, CheckLevel::kOk);
  config.listen = "0.0.0.0";
  const CheckItem open = checkExposure(config);
  EXPECT_EQ(open.level, CheckLevel::kWarn);
  EXPECT_TRUE(mentions(open.fix, "IPAddressAllow=")) << open.fix;
  config.auth_token = "0123456789abcdef0123";
  EXPECT_EQ(checkExposure(config).level, CheckLevel::kOk);
  EXPECT_FALSE(mentions(checkExposure(config).detail, config.auth_token));
}

TEST(ChecksTest, OperatorSocket) {
  config::Config config;
  EXPECT_EQ(checkOperatorSocket(config, false, "").level, CheckLevel::kWarn);
  config.listen_unix = "/run/worker-agent/api.sock";
  EXPECT_EQ(checkOperatorSocket(config, true, "").level, CheckLevel::kOk);
  EXPECT_EQ(checkOperatorSocket(config, false, "No such file or directory").detail,
            "nothing answers on /run/worker-agent/api.sock: No such file or directory");
}

TEST(ChecksTest, WorkerHealth) {
  rapidjson::Document ok;
  ok.Parse(R"({"status":"ok","running_jobs":1,"queued_jobs":2,"max_concurrent_jobs":4,
               "draining":false})");
  auto items = checkWorkerHealth(ok);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].detail, "ok: 1 running, 2 queued, 4 slots");
  rapidjson::Document degraded;
  degraded.Parse(R"json({"status":"degraded","draining":true,"reasons":[
      "docker engine unreachable: refused",
      "disk nearly full: jobs_path /x has 3.2% free (minimum 5%)",
      "temperature 95.5 C is above thermal_limit_c 90 (thermal_zone1 x86_pkg_temp)"]})json");
  items = checkWorkerHealth(degraded);
  ASSERT_EQ(items.size(), 4u);
  for (const CheckItem& item : items) {
    EXPECT_EQ(item.level, CheckLevel::kWarn);
    EXPECT_FALSE(item.fix.empty()) << item.detail;
  }
  EXPECT_TRUE(mentions(items[3].fix, "worker-agent ctl resume"));
}

TEST(ChecksTest, UnitSupplementaryGroups) {
  EXPECT_EQ(unitSupplementaryGroups({"[Service]\nUser=w\nSupplementaryGroups=docker\n"}),
            std::vector<std::string>{"docker"});
  // Drop-ins add to the list; an empty assignment resets it.
  EXPECT_EQ(unitSupplementaryGroups({"SupplementaryGroups=docker\n",
                                     "[Service]\nSupplementaryGroups = podman  extra\n"}),
            (std::vector<std::string>{"docker", "podman", "extra"}));
  EXPECT_EQ(unitSupplementaryGroups({"SupplementaryGroups=docker\n",
                                     "SupplementaryGroups=\nSupplementaryGroups=podman\n"}),
            std::vector<std::string>{"podman"});
  EXPECT_TRUE(unitSupplementaryGroups({"# SupplementaryGroups=docker\n"}).empty());
}

}  // namespace
}  // namespace wa::ctl
