#include "ctl/checks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "ctl/views.h"
#include "docker/engine_json.h"

namespace wa::ctl {
namespace {

std::string octalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// "127.0.0.1:9000", "[::1]:9000".
std::string hostPort(const std::string& address, int port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

bool isLoopback(const std::string& address) {
  in_addr v4{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  return ::inet_pton(AF_INET6, address.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

CheckItem item(std::string name, CheckLevel level, std::string detail, std::string fix = "") {
  return CheckItem{std::move(name), level, std::move(detail), std::move(fix)};
}

}  // namespace

std::string_view levelName(CheckLevel level) {
  switch (level) {
    case CheckLevel::kOk:
      return "ok";
    case CheckLevel::kWarn:
      return "warn";
    case CheckLevel::kFail:
      return "FAIL";
  }
  return "?";
}

CheckItem checkConfiguration(const std::string& path, const std::string& error) {
  if (!error.empty()) {
    return item("configuration", CheckLevel::kFail, error,
                "correct the value at the position named; `worker-agent" +
                    (path.empty() ? std::string() : " --config " + path) +
                    " --check-config` checks it again without starting anything; the checks "
                    "below use the built-in defaults");
  }
  if (path.empty()) {
    return item("configuration", CheckLevel::kOk,
                "no file read: the defaults and WORKER_AGENT_* variables apply");
  }
  return item("configuration", CheckLevel::kOk, path + " is valid");
}

CheckItem checkEngineSocket(const SocketFacts& socket, const ServiceUser& user) {
  const std::string name = "engine socket";
  if (socket.stat_errno == ENOENT) {
    return item(name, CheckLevel::kFail, "no socket at " + socket.path,
                "start the engine (systemctl start docker; Podman: systemctl enable --now "
                "podman.socket), or point docker_host at the socket it listens on");
  }
  if (socket.stat_errno != 0) {
    return item(name, CheckLevel::kFail,
                "cannot look at " + socket.path + ": " + std::strerror(socket.stat_errno),
                "check the path and the permissions of the directories above it");
  }
  if (!socket.is_socket) {
    return item(name, CheckLevel::kFail, socket.path + " is not a socket",
                "point docker_host at the engine's socket");
  }
  const std::string owned =
      socket.path + " (" + socket.owner + ":" + socket.group + " " + octalMode(socket.mode) + ")";
  if ((socket.mode & 0006) == 0006) {
    return item(name, CheckLevel::kWarn, owned + " can be used by every local user",
                "every local user is root through it: chmod 0660 " + socket.path +
                    " and give it a group (docker)");
  }
  if (!user.known) {
    return item(name, CheckLevel::kWarn,
                owned + "; there is no user " + user.name +
                    " here, so whether the service reaches it is not known",
                "install the package, which creates the user worker-agent, or name the "
                "service's user with --user");
  }
  if (user.uid == 0) return item(name, CheckLevel::kOk, owned + ", used as root");
  if (user.uid == socket.uid && (socket.mode & 0600) == 0600) {
    return item(name, CheckLevel::kOk, owned + ", reached by " + user.name + " as its owner");
  }
  if ((socket.mode & 0060) == 0060) {
    if (contains(user.groups, socket.group)) {
      return item(name, CheckLevel::kOk,
                  owned + ", reached by " + user.name + " through the group " + socket.group);
    }
    if (contains(user.unit_groups, socket.group)) {
      return item(name, CheckLevel::kOk,
                  owned + ", reached by " + user.name + " through the group " + socket.group +
                      " the unit adds (SupplementaryGroups=)");
    }
  }
  std::string fix;
  if (socket.gid == 0) {
    fix =
        "give the socket a group the service has: for Podman, `systemctl edit podman.socket` "
        "with [Socket] SocketGroup=docker and SocketMode=0660, then `systemctl restart "
        "podman.socket`; Docker's own socket has the group docker";
  } else {
    fix =
        "give the service the socket's group with a drop-in (`systemctl edit worker-agent`): "
        "[Service] SupplementaryGroups=" +
        socket.group;
  }
  return item(name, CheckLevel::kFail, owned + " cannot be used by " + user.name, fix);
}

CheckItem checkTcpEngine(const std::string& docker_host) {
  std::string host = docker_host.substr(std::strlen("tcp://"));
  host = host.substr(0, host.rfind(':'));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || isLoopback(host)) {
    return item("engine endpoint", CheckLevel::kOk,
                docker_host + ": loopback, reached from this host only");
  }
  return item("engine endpoint", CheckLevel::kWarn,
              docker_host + ": plain, unauthenticated HTTP to an engine, which is root on its host",
              "whoever reaches that address controls the engine: keep it on loopback, a unix "
              "socket, or a network only this worker reaches");
}

CheckItem checkEngine(const EngineFacts& facts, std::optional<docker::ApiVersion> pinned) {
  const std::string name = "engine";
  if (!facts.error.empty()) {
    return item(name, CheckLevel::kFail, "no answer at " + facts.docker_host + ": " + facts.error,
                "is the engine running? `systemctl status docker` (Podman: `systemctl status "
                "podman.socket`); docker_host says where the worker looks for it");
  }
  auto version = docker::parseVersionResponse(facts.version_body);
  if (facts.version_body.empty() || !version.ok()) {
    return item(name, CheckLevel::kWarn,
                facts.docker_host + " answers /_ping but not /version as an engine would",
                "check that docker_host names a Docker or Podman engine");
  }
  const docker::EngineVersion& v = version.value();
  const docker::EngineApiRange range{docker::ApiVersion::parse(v.api_version),
                                     docker::ApiVersion::parse(v.min_api_version)};
  const docker::ApiNegotiation negotiated = docker::negotiateApiVersion(range, pinned);
  std::string detail = std::string(v.podman ? "Podman " : "Docker Engine ") + v.version +
                       ", Engine API " + docker::describeEngineApiRange(range);
  if (!negotiated.version) return item(name, CheckLevel::kFail, detail, negotiated.problem);
  detail += "; the worker speaks " + negotiated.version->text() +
            (pinned ? " (pinned by docker_api_version)" : "") + " to it";
  return item(name, CheckLevel::kOk, detail);
}

std::optional<CheckItem> checkEngineLimits(const EngineFacts& facts) {
  if (facts.info_body.empty()) return std::nullopt;
  auto info = docker::parseInfoResponse(facts.info_body);
  if (!info.ok()) return std::nullopt;
  const std::string reason = docker::limitsUnenforcedReason(info.value());
  if (reason.empty()) return std::nullopt;
  return item("engine limits", CheckLevel::kFail, reason,
              "run the engine as root, or on a host with cgroup v2; until then the worker "
              "refuses jobs (503 ENGINE_CANNOT_ENFORCE_LIMITS)");
}

CheckItem checkListen(const config::Config& config, const ListenFacts& facts) {
  const std::string name = "listen address";
  const std::string where = hostPort(config.listen, config.port);
  if (config.port == 0) {
    return item(name, CheckLevel::kWarn,
                "port 0: the kernel picks another port at every start, which masters cannot know",
                "set a fixed port (9000 is the protocol's)");
  }
  if (facts.answers) return item(name, CheckLevel::kOk, "the worker answers on " + where);
  if (config.port < 1024) {
    return item(name, CheckLevel::kFail,
                "port " + std::to_string(config.port) + " needs a privilege to bind",
                "the packaged service has no capabilities: choose a port from 1024 up");
  }
  switch (facts.bind_errno) {
    case 0:
      return item(name, CheckLevel::kWarn,
                  "nothing answers on " + where + ", and it is free: the worker is not running",
                  "`systemctl start worker-agent`; `journalctl -u worker-agent` says why it "
                  "stopped");
    case EADDRINUSE:
      return item(name, CheckLevel::kFail,
                  where + " is held by something that does not answer as this worker" +
                      (facts.answer_error.empty() ? "" : " (" + facts.answer_error + ")"),
                  "`ss -ltnp 'sport = :" + std::to_string(config.port) +
                      "'` names it; stop it, or choose another port");
    case EADDRNOTAVAIL:
      return item(name, CheckLevel::kFail, config.listen + " is not an address of this host",
                  "listen on one of its addresses (`ip -brief address`), 127.0.0.1, or 0.0.0.0 "
                  "for all");
    case EACCES:
      return item(name, CheckLevel::kFail,
                  "port " + std::to_string(config.port) + " needs a privilege to bind",
                  "the packaged service has no capabilities: choose a port from 1024 up");
    default:
      return item(name, CheckLevel::kFail,
                  "cannot bind " + where + ": " + std::strerror(facts.bind_errno),
                  "check listen and port");
  }
}

CheckItem checkExposure(const config::Config& config) {
  const std::string name = "exposure";
  const std::string where = hostPort(config.listen, config.port);
  if (isLoopback(config.listen)) {
    return item(name, CheckLevel::kOk, where + ": loopback only, reached from this host alone");
  }
  if (!config.auth_token.empty()) {
    return item(name, CheckLevel::kOk,
                where +
                    ": every job route needs the bearer token (plain HTTP: keep it on "
                    "networks you trust)");
  }
  return item(name, CheckLevel::kWarn,
              where +
                  " takes jobs from anyone who reaches it, and a job's engine access is "
                  "as good as root on this host",
              "set auth_token_file, and let only masters connect: IPAddressAllow= in a "
              "drop-in, or a firewall (docs/OPERATIONS.md, \"Secure it\")");
}

CheckItem checkOperatorSocket(const config::Config& config, bool answers,
                              const std::string& error) {
  const std::string name = "operator socket";
  if (config.listen_unix.empty()) {
    return item(name, CheckLevel::kWarn,
                "listen_unix is not set: drain, resume, cancel --all and reload need the "
                "worker's unix socket",
                "listen_unix: /run/worker-agent/api.sock, with RuntimeDirectory=worker-agent "
                "under systemd (the package sets both)");
  }
  if (answers) return item(name, CheckLevel::kOk, "the worker answers on " + config.listen_unix);
  return item(name, CheckLevel::kWarn,
              "nothing answers on " + config.listen_unix + (error.empty() ? "" : ": " + error),
              "is the worker running? `systemctl status worker-agent`");
}

std::vector<CheckItem> checkWorkerHealth(const rapidjson::Value& health) {
  std::vector<CheckItem> items;
  const std::string status = memberString(health, "status");
  const auto reasons = health.IsObject() ? health.FindMember("reasons") : health.MemberEnd();
  if (health.IsObject() && reasons != health.MemberEnd() && reasons->value.IsArray()) {
    for (const auto& reason : reasons->value.GetArray()) {
      if (!reason.IsString()) continue;
      const std::string text = reason.GetString();
      std::string fix;
      if (text.starts_with("docker engine unreachable")) {
        fix = "see the engine check; `systemctl status docker`";
      } else if (text.starts_with("disk nearly full")) {
        fix =
            "free space on that file system (unused images: `docker image prune`), or lower "
            "disk_min_free_percent";
      } else if (text.starts_with("temperature")) {
        fix = "cool the host or lower max_concurrent_jobs; thermal_limit_c sets the threshold";
      } else if (text.starts_with("docker engine cannot enforce job limits")) {
        fix = "run the engine as root, or on a host with cgroup v2 (docs/ENGINES.md)";
      }
      items.push_back(item("worker health", CheckLevel::kWarn, text, fix));
    }
  }
  if (health.IsObject() && health.HasMember("draining") && health["draining"].IsBool() &&
      health["draining"].GetBool()) {
    items.push_back(item("worker health", CheckLevel::kWarn,
                         "draining: new jobs are refused with 503 DRAINING",
                         "`worker-agent ctl resume` once the maintenance is over"));
  }
  if (items.empty()) {
    items.push_back(item("worker health", CheckLevel::kOk,
                         (status.empty() ? "?" : status) + ": " +
                             std::to_string(memberInt(health, "running_jobs")) + " running, " +
                             std::to_string(memberInt(health, "queued_jobs")) + " queued, " +
                             std::to_string(memberInt(health, "max_concurrent_jobs")) + " slots"));
  }
  return items;
}

std::vector<std::string> unitSupplementaryGroups(const std::vector<std::string>& unit_texts) {
  std::vector<std::string> groups;
  for (const std::string& text : unit_texts) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string::npos) continue;
      std::string_view rest = std::string_view(line).substr(start);
      constexpr std::string_view kKey = "SupplementaryGroups";
      if (!rest.starts_with(kKey)) continue;
      rest.remove_prefix(kKey.size());
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      if (rest.empty() || rest.front() != '=') continue;
      rest.remove_prefix(1);
      std::istringstream words{std::string(rest)};
      std::string word;
      bool any = false;
      while (words >> word) {
        any = true;
        if (!contains(groups, word)) groups.push_back(word);
      }
      if (!any) groups.clear();  // "SupplementaryGroups=" resets the list
    }
  }
  return groups;
}

}  // namespace wa::ctl
