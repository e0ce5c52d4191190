#include "config/key_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <limits>

#include "core/log.h"
#include "docker/image_reference.h"

namespace wa::config::rules {
namespace {

constexpr size_t kMaxWorkerIdBytes = 256;
constexpr size_t kMaxContainerRuntimeBytes = 128;
// sockaddr_un's sun_path holds 108 bytes with the terminating NUL.
constexpr size_t kMaxUnixPathBytes = 107;
// The routes auth_open_paths may name: those that only report. The job routes are what
// the token protects; a worker that wants them open sets no token.
constexpr std::string_view kOpenablePaths[] = {"/health", "/info", "/metrics"};

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Why the part of a tcp:// docker_host after the scheme cannot be reached, or "". Only
// numeric addresses and localhost: the job's attach stream is connected on the event loop,
// where a name lookup would block every other client (the docker layer's
// HijackedAttach refuses other names the same way).
std::string tcpEngineProblem(std::string_view rest, std::string_view whole) {
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  std::string_view host = colon == std::string_view::npos ? rest : rest.substr(0, colon);
  const std::string_view port_text =
      colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
  int port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return "a tcp:// engine must be given as tcp://HOST:PORT with a port from 1 to 65535, got " +
           quoted(whole);
  }
  if (host == "localhost") return "";
  std::string literal(host);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    literal = std::string(host.substr(1, host.size() - 2));
    in6_addr v6{};
    if (::inet_pton(AF_INET6, literal.c_str(), &v6) == 1) return "";
  } else {
    in_addr v4{};
    if (::inet_pton(AF_INET, literal.c_str(), &v4) == 1) return "";
  }
  return "a tcp:// engine must be a numeric address (such as tcp://10.0.0.5:2375 or "
         "tcp://[fd00::5]:2375) or localhost: the worker does not look host names up, which "
         "would stall it while it connects a job's stream; got " +
         quoted(whole);
}

// Stores a value that must be one of choices: "must be a or b" for two, "must be one of
// a, b, c" for more.
std::string applyChoice(const ConfigValue& value, std::initializer_list<std::string_view> choices,
                        std::string* member) {
  if (std::find(choices.begin(), choices.end(), value.text) != choices.end()) {
    *member = value.text;
    return "";
  }
  std::string listed;
  for (std::string_view choice : choices) {
    if (!listed.empty()) listed += choices.size() == 2 ? " or " : ", ";
    listed += choice;
  }
  return (choices.size() == 2 ? "must be " : "must be one of ") + listed + ", got " +
         quoted(value.text);
}

}  // namespace

std::string nonEmptyItem(std::string_view item) {
  return item.empty() ? "must not be an empty string" : "";
}

std::string imagePatternItem(std::string_view item) {
  if (item.empty()) return nonEmptyItem(item);
  docker::ImagePattern pattern;
  std::string why;
  if (docker::parseImagePattern(item, &pattern, &why)) return "";
  return quoted(item) + " is not an image pattern: " + why;
}

std::string runtimeModeItem(std::string_view item) {
  if (item == "image" || item == "build") return "";
  return "must be \"image\" or \"build\", got " + quoted(item);
}

std::string applyWorkerId(const ConfigValue& value, Config* config) {
  const std::string& id = value.text;
  if (id.empty()) return "must not be empty";
  if (id.size() > kMaxWorkerIdBytes) {
    return "must be at most " + std::to_string(kMaxWorkerIdBytes) + " bytes, got " +
           std::to_string(id.size());
  }
  // The id goes into JSON responses and log lines, where control characters do harm.
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  config->worker_id = id;
  return "";
}

std::string applyListen(const ConfigValue& value, Config* config) {
  unsigned char buffer[sizeof(in6_addr)];
  if (inet_pton(AF_INET, value.text.c_str(), buffer) != 1 &&
      inet_pton(AF_INET6, value.text.c_str(), buffer) != 1) {
    return "must be an IPv4 or IPv6 address literal such as 0.0.0.0 or ::, got " +
           quoted(value.text);
  }
  config->listen = value.text;
  return "";
}

std::string pathProblem(std::string_view path, bool may_be_empty) {
  if (path.empty() ? may_be_empty : path.front() == '/') return "";
  return std::string(may_be_empty ? "must be empty or an absolute path"
                                  : "must be an absolute path") +
         ", got " + quoted(path);
}

std::string applyListenUnix(const ConfigValue& value, Config* config) {
  const std::string& path = value.text;
  if (path.empty()) {
    config->listen_unix.clear();
    return "";
  }
  if (std::string why = pathProblem(path, /*may_be_empty=*/true); !why.empty()) return why;
  if (path.size() > kMaxUnixPathBytes) {
    return "must be at most " + std::to_string(kMaxUnixPathBytes) +
           " bytes (the limit of a unix socket address), got " + std::to_string(path.size());
  }
  if (std::any_of(path.begin(), path.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return "must not contain control characters";
  }
  config->listen_unix = path;
  return "";
}

std::string applyAuthToken(const ConfigValue& value, Config* config) {
  if (!value.text.empty()) {
    if (std::string why = authTokenProblem(value.text); !why.empty()) return why;
  }
  config->auth_token = value.text;
  return "";
}

std::string openablePathItem(std::string_view item) {
  for (std::string_view path : kOpenablePaths) {
    if (item == path) return "";
  }
  return "must be one of /health, /info, /metrics, got " + quoted(item);
}

std::string applyDockerHost(const ConfigValue& value, Config* config) {
  const std::string& host = value.text;
  // Only the transports the docker client speaks; ssh:// and npipe:// are not supported.
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kTcp = "tcp://";
  const std::string_view text(host);
  if (text.size() > kUnix.size() && text.starts_with(kUnix)) {
    if (text[kUnix.size()] != '/') {
      return "a unix:// engine must name an absolute socket path (unix:///var/run/docker.sock), "
             "got " +
             quoted(host);
    }
  } else if (text.size() > kTcp.size() && text.starts_with(kTcp)) {
    if (std::string why = tcpEngineProblem(text.substr(kTcp.size()), text); !why.empty()) {
      return why;
    }
  } else {
    return "must start with unix:// or tcp:// and name a socket or address, got " + quoted(host);
  }
  config->docker_host = host;
  return "";
}

// "" or "<major>.<minor>" in digits ("1.45"); the range the worker speaks is checked when
// it negotiates (docker/api_version.h), where the engine's own range is known too.
std::string applyDockerApiVersion(const ConfigValue& value, Config* config) {
  const std::string& text = value.text;
  const size_t dot = text.find('.');
  const auto digits = [](std::string_view part) {
    return !part.empty() && part.size() <= 4 &&
           part.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (!text.empty() &&
      (dot == std::string::npos || !digits(std::string_view(text).substr(0, dot)) ||
       !digits(std::string_view(text).substr(dot + 1)))) {
    return "must be an Engine API version such as 1.45 (or \"\" to negotiate one), got " +
           quoted(text);
  }
  config->docker_api_version = text;
  return "";
}

std::string applyStopAction(const ConfigValue& value, Config* config) {
  return applyChoice(value, {"keep", "drain"}, &config->stop_action);
}

std::string applyJournalSync(const ConfigValue& value, Config* config) {
  return applyChoice(value, {"normal", "full"}, &config->journal_sync);
}

std::string applyPullPolicy(const ConfigValue& value, Config* config) {
  return applyChoice(value, {"never", "missing", "always"}, &config->pull_policy);
}

// The workspace is mounted into every job's container and is its working directory.
// Stored normalized ("//a/./b/" -> "/a/b") so that the runner and the record see one
// spelling.
std::string applyWorkspacePath(const ConfigValue& value, Config* config) {
  const std::string& text = value.text;
  if (std::string why = pathProblem(text, /*may_be_empty=*/false); !why.empty()) return why;
  // ':' separates fields in the engine's mount specifications.
  if (std::any_of(text.begin(), text.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f || c == ':'; })) {
    return "must not contain control characters or ':', got " + quoted(text);
  }
  std::string normalized;
  for (size_t start = 1; start <= text.size();) {
    size_t slash = text.find('/', start);
    if (slash == std::string::npos) slash = text.size();
    const std::string_view component = std::string_view(text).substr(start, slash - start);
    start = slash + 1;
    if (component.empty() || component == ".") continue;
    if (component == "..") return "must not contain \"..\" components, got " + quoted(text);
    normalized += "/";
    normalized += component;
  }
  if (normalized.empty()) {
    return "must not be \"/\", the root of the job's file system, got " + quoted(text);
  }
  // Mounting over these breaks the container; /tmp has its own tmpfs (tmp_size_mb).
  for (std::string_view reserved : {"/proc", "/sys", "/dev"}) {
    if (normalized == reserved || normalized.starts_with(std::string(reserved) + "/")) {
      return "must not be " + std::string(reserved) + " or under it, got " + quoted(text);
    }
  }
  if (normalized == "/tmp") return "must not be /tmp, which is a tmpfs of its own (tmp_size_mb)";
  config->workspace_path = normalized;
  return "";
}

// "uid:gid", both decimal ids from 0 to 2^31-1; stored without leading zeros.
std::string applyJobUser(const ConfigValue& value, Config* config) {
  const std::string& text = value.text;
  if (text.empty()) {
    config->job_user.clear();
    return "";
  }
  const auto id = [](std::string_view digits, int64_t* out) {
    return !digits.empty() && digits.size() <= 10 &&
           std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           parseInteger(digits, out) == IntegerParse::kOk &&
           *out <= std::numeric_limits<int32_t>::max();
  };
  const std::string_view view(text);
  const size_t colon = view.find(':');
  int64_t uid = 0, gid = 0;
  if (colon == std::string_view::npos || !id(view.substr(0, colon), &uid) ||
      !id(view.substr(colon + 1), &gid)) {
    return "must be empty or \"uid:gid\", two numbers from 0 to 2147483647, got " + quoted(text);
  }
  config->job_user = std::to_string(uid) + ":" + std::to_string(gid);
  return "";
}

std::string applyContainerRuntime(const ConfigValue& value, Config* config) {
  const std::string& name = value.text;
  const bool valid =
      name.size() <= kMaxContainerRuntimeBytes && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
      });
  if (!valid) {
    return "must be empty or a runtime name of at most 128 letters, digits, '.', '_' and '-', "
           "got " +
           quoted(name);
  }
  config->container_runtime = name;
  return "";
}

std::string applyLogLevel(const ConfigValue& value, Config* config) {
  core::LogLevel level;
  if (!core::Log::parseLevel(value.text, &level)) {
    return "must be one of debug, info, warning, error, got " + quoted(value.text);
  }
  config->log_level = value.text;
  return "";
}

}  // namespace wa::config::rules
