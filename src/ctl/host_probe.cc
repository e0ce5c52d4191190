#include "ctl/host_probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "core/unique_fd.h"
#include "docker/engine_endpoint.h"

namespace wa::ctl {
namespace {

constexpr const char* kServiceUser = "worker-agent";
constexpr const char* kUnitName = "worker-agent.service";

std::string userName(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? pw->pw_name : std::to_string(uid);
}

std::string groupName(gid_t gid) {
  const group* gr = ::getgrgid(gid);
  return gr != nullptr ? gr->gr_name : std::to_string(gid);
}

bool readFile(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream out;
  out << in.rdbuf();
  *text = out.str();
  return true;
}

// The unit file systemd uses (/etc overrides /lib), then its drop-ins in name order.
std::vector<std::string> unitTexts() {
  std::vector<std::string> texts;
  std::string text;
  for (const char* dir : {"/etc/systemd/system/", "/run/systemd/system/", "/lib/systemd/system/",
                          "/usr/lib/systemd/system/"}) {
    if (readFile(std::string(dir) + kUnitName, &text)) {
      texts.push_back(text);
      break;
    }
  }
  std::vector<std::string> drop_ins;
  for (const char* dir : {"/etc/systemd/system/", "/run/systemd/system/"}) {
    const std::string path = std::string(dir) + kUnitName + ".d";
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) continue;
    while (const dirent* entry = ::readdir(d)) {
      const std::string name = entry->d_name;
      if (name.size() > 5 && name.ends_with(".conf")) {
        std::string file = path;
        file += "/";
        file += name;
        drop_ins.push_back(std::move(file));
      }
    }
    ::closedir(d);
  }
  std::sort(drop_ins.begin(), drop_ins.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.rfind('/')) < b.substr(b.rfind('/'));
  });
  for (const std::string& path : drop_ins) {
    if (readFile(path, &text)) texts.push_back(text);
  }
  return texts;
}

}  // namespace

SocketFacts probeSocket(const std::string& path) {
  SocketFacts facts;
  facts.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    facts.stat_errno = errno;
    return facts;
  }
  facts.is_socket = S_ISSOCK(st.st_mode);
  facts.uid = st.st_uid;
  facts.gid = st.st_gid;
  facts.owner = userName(st.st_uid);
  facts.group = groupName(st.st_gid);
  facts.mode = st.st_mode & 07777;
  return facts;
}

ServiceUser probeServiceUser(const std::string& name) {
  ServiceUser user;
  const passwd* pw = nullptr;
  if (!name.empty()) {
    user.name = name;
    pw = ::getpwnam(name.c_str());
  } else {
    pw = ::getpwnam(kServiceUser);
    if (pw == nullptr) pw = ::getpwuid(::geteuid());
    user.name = pw != nullptr ? pw->pw_name : std::to_string(::geteuid());
  }
  if (pw == nullptr) {
    user.known = false;
    return user;
  }
  user.uid = pw->pw_uid;
  const gid_t primary = pw->pw_gid;
  int count = 64;
  std::vector<gid_t> gids(static_cast<size_t>(count));
  if (::getgrouplist(pw->pw_name, primary, gids.data(), &count) < 0) {
    gids.resize(static_cast<size_t>(count));
    ::getgrouplist(pw->pw_name, primary, gids.data(), &count);
  }
  gids.resize(static_cast<size_t>(std::max(count, 0)));
  for (gid_t gid : gids) user.groups.push_back(groupName(gid));
  // The unit's groups count only for the user the packaged unit runs.
  if (user.name == kServiceUser) user.unit_groups = unitSupplementaryGroups(unitTexts());
  return user;
}

Endpoint engineEndpoint(const std::string& docker_host) {
  const auto parsed = docker::EngineEndpoint::parse(docker_host);
  if (!parsed) return {};
  if (parsed->kind == docker::EngineEndpoint::Kind::kUnix) return {parsed->unix_path, ""};
  return {"", parsed->urlBase()};
}

EngineFacts probeEngine(const std::string& docker_host, std::chrono::seconds timeout) {
  EngineFacts facts;
  facts.docker_host = docker_host;
  const Endpoint endpoint = engineEndpoint(docker_host);
  if (endpoint.unix_path.empty() && endpoint.url_base.empty()) {
    facts.error = "docker_host cannot be parsed";
    return facts;
  }
  CurlTransport engine(endpoint, "", timeout);
  const HttpReply ping = engine.request("GET", "/_ping");
  if (!ping.error.empty()) {
    facts.error = ping.error;
    return facts;
  }
  if (ping.status != 200) {
    facts.error = "/_ping answered " + std::to_string(ping.status);
    return facts;
  }
  // Unversioned: every engine answers these whatever API versions it speaks.
  if (const HttpReply version = engine.request("GET", "/version"); version.status == 200) {
    facts.version_body = version.body;
  }
  if (const HttpReply info = engine.request("GET", "/info"); info.status == 200) {
    facts.info_body = info.body;
  }
  return facts;
}

int probeBind(const std::string& address, int port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
      ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
             ::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
    family = AF_INET6;
  } else {
    return EINVAL;
  }
  core::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno;
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) return errno;
  return 0;
}

}  // namespace wa::ctl
