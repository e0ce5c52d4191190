// The verdicts of `worker-agent ctl check`: pure functions from facts (gathered by
// host_probe) to one line each, with what to fix when something is wrong. Nothing here
// touches the system, so the unit tests give every case by hand.
#pragma once

#include <rapidjson/document.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "docker/api_version.h"

namespace wa::ctl {

enum class CheckLevel { kOk, kWarn, kFail };

struct CheckItem {
  std::string name;  // "configuration", "engine socket", ...
  CheckLevel level = CheckLevel::kOk;
  std::string detail;  // what was found
  std::string fix;     // what to do, for kWarn and kFail
};

// "ok", "warn", "FAIL".
std::string_view levelName(CheckLevel level);

// The configuration: path ("" when none was read) and the loader's error ("" when valid).
CheckItem checkConfiguration(const std::string& path, const std::string& error);

// The engine's unix socket as stat(2) and the user and group databases see it.
struct SocketFacts {
  std::string path;
  int stat_errno = 0;  // 0: stat succeeded
  bool is_socket = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string owner;  // user name of uid, or its number
  std::string group;  // group name of gid, or its number
  mode_t mode = 0;    // permission bits
};

// The user the service runs as and the groups it holds: its own (primary and
// supplementary, from the group database) and those its unit adds (SupplementaryGroups=).
struct ServiceUser {
  std::string name;
  uid_t uid = 0;
  std::vector<std::string> groups;       // from the group database
  std::vector<std::string> unit_groups;  // from the unit's SupplementaryGroups=
  bool known = true;                     // false: no such user on this host
};

// Whether user can connect to the socket (read and write on it are what connect needs).
CheckItem checkEngineSocket(const SocketFacts& socket, const ServiceUser& user);

// A tcp:// engine: plain, unauthenticated HTTP to something that is root on its host.
CheckItem checkTcpEngine(const std::string& docker_host);

// What the engine answered: error ("" when /_ping answered), then /version's body.
struct EngineFacts {
  std::string docker_host;
  std::string error;
  std::string version_body;  // GET /version, "" when it did not answer 200
  std::string info_body;     // GET /info, "" when it did not answer 200
};

// Reached or not, who it is (Docker, Podman, version), and the Engine API version the
// worker negotiates with it as the daemon does (docker::negotiateApiVersion, with pinned
// from docker_api_version): a failure, with the negotiation's own advice, when none fits.
CheckItem checkEngine(const EngineFacts& facts, std::optional<docker::ApiVersion> pinned);
// Rootless on cgroup v1 (limits ignored, the worker runs no jobs there); nullopt when /info
// did not answer or says nothing against it.
std::optional<CheckItem> checkEngineLimits(const EngineFacts& facts);

// The listen address. answers: the worker answered GET /health there. Otherwise
// bind_errno is what binding listen:port gave (0: it could be bound, so nothing listens).
struct ListenFacts {
  bool answers = false;
  std::string answer_error;
  int bind_errno = 0;
};
CheckItem checkListen(const config::Config& config, const ListenFacts& facts);
// Who can reach the API: loopback, or further with or without a token.
CheckItem checkExposure(const config::Config& config);
// listen_unix: set or not, and whether the worker answered there (error when it did not).
CheckItem checkOperatorSocket(const config::Config& config, bool answers, const std::string& error);
// The worker's own view (GET /health): degraded reasons and the drain, each with its fix.
std::vector<CheckItem> checkWorkerHealth(const rapidjson::Value& health);

// The groups a unit's text adds with SupplementaryGroups= (space-separated, several lines
// add up, an empty assignment resets), the texts in the order systemd reads them.
std::vector<std::string> unitSupplementaryGroups(const std::vector<std::string>& unit_texts);

}  // namespace wa::ctl
