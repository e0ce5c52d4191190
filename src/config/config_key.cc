#include "config/config_key.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <type_traits>

#include "core/log.h"
#include "docker/image_reference.h"

namespace wa::config {
namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
constexpr size_t kMaxWorkerIdBytes = 256;
// Sizes in MiB the daemon multiplies into bytes: 1 TiB keeps that far from overflow.
constexpr int64_t kMaxMegabytes = 1 << 20;
// Linux's largest pid_max; a pids limit above it limits nothing.
constexpr int64_t kMaxPids = 1 << 22;
// Seconds a single pull or build may take.
constexpr int64_t kMaxStepSeconds = 86400;
// CPUs a job may be given; far above any host, low enough for nano-CPU arithmetic.
constexpr int64_t kMaxCpus = 4096;
constexpr size_t kMaxContainerRuntimeBytes = 128;
// Open HTTP connections: Linux's default fs.nr_open (1048576) bounds one process's
// descriptors, and the daemon keeps some for itself.
constexpr int64_t kMaxConnections = 1'000'000;
// A shared token shorter than this is guessable; longer than the other bound is a
// mistake (the whole request head may be 16 KiB).
constexpr size_t kMinAuthTokenBytes = 16;
constexpr size_t kMaxAuthTokenBytes = 4096;
// sockaddr_un's sun_path holds 108 bytes with the terminating NUL.
constexpr size_t kMaxUnixPathBytes = 107;
// The routes auth_open_paths may name: those that only report. The job routes are what
// the token protects; a worker that wants them open sets no token.
constexpr std::string_view kOpenablePaths[] = {"/health", "/info", "/metrics"};

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string rangeMessage(int64_t min, int64_t max, int64_t got) {
  if (max == kNoMax)
    return "must be at least " + std::to_string(min) + ", got " + std::to_string(got);
  return "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
         std::to_string(got);
}

// Stores an integer key after a range check; the member type may be int or int64_t, and
// the bounds are chosen so that the narrowing cast never loses anything.
template <auto Member, int64_t Min, int64_t Max>
std::string applyInteger(const ConfigValue& value, Config* config) {
  using Field = std::remove_reference_t<decltype(config->*Member)>;
  static_assert(Min >= std::numeric_limits<Field>::min() &&
                Max <= std::numeric_limits<Field>::max());
  if (value.integer < Min || value.integer > Max) return rangeMessage(Min, Max, value.integer);
  config->*Member = static_cast<Field>(value.integer);
  return "";
}

template <auto Member>
std::string applyBoolean(const ConfigValue& value, Config* config) {
  config->*Member = value.boolean;
  return "";
}

// Stores a decimal key from 0 to Max; parseDecimal has already refused nan, infinities
// and more than two decimal places.
template <auto Member, int64_t Max>
std::string applyDecimal(const ConfigValue& value, Config* config) {
  if (!(value.decimal >= 0 && value.decimal <= static_cast<double>(Max))) {
    return "must be between 0 and " + std::to_string(Max) + ", got " + formatDecimal(value.decimal);
  }
  config->*Member = value.decimal;
  return "";
}

template <auto Member>
std::string applyList(const ConfigValue& value, Config* config) {
  config->*Member = value.list;
  return "";
}

template <auto Member>
bool differs(const Config& a, const Config& b) {
  return a.*Member != b.*Member;
}

template <auto Member>
void copy(const Config& from, Config* to) {
  to->*Member = from.*Member;
}

template <auto Member>
std::string show(const Config& config) {
  const auto& value = config.*Member;
  using Field = std::remove_cvref_t<decltype(value)>;
  if constexpr (std::is_same_v<Field, std::string>) {
    return quoted(value);
  } else if constexpr (std::is_same_v<Field, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<Field, double>) {
    return formatDecimal(value);
  } else if constexpr (std::is_same_v<Field, std::vector<std::string>>) {
    std::string text = "[";
    for (const std::string& item : value) text += (text.size() > 1 ? ", " : "") + quoted(item);
    return text + "]";
  } else {
    return std::to_string(value);
  }
}

// One table entry: the key's name, kind and rules, and what is derived from its member.
template <auto Member>
ConfigKey key(std::string_view name, ValueKind kind, std::string (*check_item)(std::string_view),
              std::string (*apply)(const ConfigValue&, Config*), bool reloadable = false) {
  return ConfigKey{name,          kind,         check_item, apply, reloadable, &differs<Member>,
                   &copy<Member>, &show<Member>};
}

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

std::string applyListenUnix(const ConfigValue& value, Config* config) {
  const std::string& path = value.text;
  if (path.empty()) {
    config->listen_unix.clear();
    return "";
  }
  if (path.front() != '/') return "must be empty or an absolute path, got " + quoted(path);
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

std::string applyAuthTokenFile(const ConfigValue& value, Config* config) {
  if (!value.text.empty() && value.text.front() != '/') {
    return "must be empty or an absolute path, got " + quoted(value.text);
  }
  config->auth_token_file = value.text;
  return "";
}

std::string openablePathItem(std::string_view item) {
  for (std::string_view path : kOpenablePaths) {
    if (item == path) return "";
  }
  return "must be one of /health, /info, /metrics, got " + quoted(item);
}

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

std::string applyJobsPath(const ConfigValue& value, Config* config) {
  if (value.text.empty() || value.text.front() != '/') {
    return "must be an absolute path, got " + quoted(value.text);
  }
  config->jobs_path = value.text;
  return "";
}

std::string applyMetricsRoot(const ConfigValue& value, Config* config) {
  if (value.text.empty() || value.text.front() != '/') {
    return "must be an absolute path, got " + quoted(value.text);
  }
  config->metrics_root = value.text;
  return "";
}

std::string applyStopAction(const ConfigValue& value, Config* config) {
  if (value.text != "keep" && value.text != "drain") {
    return "must be keep or drain, got " + quoted(value.text);
  }
  config->stop_action = value.text;
  return "";
}

std::string applyJournalPath(const ConfigValue& value, Config* config) {
  if (!value.text.empty() && value.text.front() != '/') {
    return "must be empty or an absolute path, got " + quoted(value.text);
  }
  config->journal_path = value.text;
  return "";
}

std::string applyJournalSync(const ConfigValue& value, Config* config) {
  if (value.text != "normal" && value.text != "full") {
    return "must be normal or full, got " + quoted(value.text);
  }
  config->journal_sync = value.text;
  return "";
}

std::string applyPullPolicy(const ConfigValue& value, Config* config) {
  if (value.text != "never" && value.text != "missing" && value.text != "always") {
    return "must be one of never, missing, always, got " + quoted(value.text);
  }
  config->pull_policy = value.text;
  return "";
}

std::string applyRegistryAuthFile(const ConfigValue& value, Config* config) {
  if (!value.text.empty() && value.text.front() != '/') {
    return "must be empty or an absolute path, got " + quoted(value.text);
  }
  config->registry_auth_file = value.text;
  return "";
}

// The workspace is mounted into every job's container and is its working directory.
// Stored normalized ("//a/./b/" -> "/a/b") so that the runner and the record see one
// spelling.
std::string applyWorkspacePath(const ConfigValue& value, Config* config) {
  const std::string& text = value.text;
  if (text.empty() || text.front() != '/') {
    return "must be an absolute path, got " + quoted(text);
  }
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

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

// A key named as its Config member, so that the two cannot differ.
#define WA_KEY(member, ...) key<&Config::member>(#member, __VA_ARGS__)

const std::vector<ConfigKey>& configKeys() {
  using K = ValueKind;
  constexpr bool kLive = true;  // applied by a SIGHUP reload
  static const std::vector<ConfigKey> keys = {
      WA_KEY(worker_id, K::kString, nullptr, applyWorkerId),
      WA_KEY(listen, K::kString, nullptr, applyListen),
      // 0 asks the kernel for any free port, which tests use.
      WA_KEY(port, K::kInteger, nullptr, applyInteger<&Config::port, 0, 65535>),
      WA_KEY(listen_unix, K::kString, nullptr, applyListenUnix),
      WA_KEY(auth_token, K::kString, nullptr, applyAuthToken, kLive),
      WA_KEY(auth_token_file, K::kString, nullptr, applyAuthTokenFile, kLive),
      WA_KEY(auth_open_paths, K::kStringList, openablePathItem, applyList<&Config::auth_open_paths>,
             kLive),
      WA_KEY(max_concurrent_jobs, K::kInteger, nullptr,
             applyInteger<&Config::max_concurrent_jobs, 1, 1024>, kLive),
      WA_KEY(max_queued_jobs, K::kInteger, nullptr,
             applyInteger<&Config::max_queued_jobs, 1, 1000000>, kLive),
      WA_KEY(labels, K::kStringList, nonEmptyItem, applyList<&Config::labels>, kLive),
      WA_KEY(allowed_images, K::kStringList, imagePatternItem, applyList<&Config::allowed_images>,
             kLive),
      WA_KEY(allowed_runtime_modes, K::kStringList, runtimeModeItem,
             applyList<&Config::allowed_runtime_modes>, kLive),
      WA_KEY(docker_host, K::kString, nullptr, applyDockerHost),
      WA_KEY(docker_api_version, K::kString, nullptr, applyDockerApiVersion, kLive),
      WA_KEY(default_memory_mb, K::kInteger, nullptr,
             applyInteger<&Config::default_memory_mb, 6, kNoMax>, kLive),
      WA_KEY(default_max_runtime_seconds, K::kInteger, nullptr,
             applyInteger<&Config::default_max_runtime_seconds, 1, kNoMax>, kLive),
      WA_KEY(max_memory_mb, K::kInteger, nullptr, applyInteger<&Config::max_memory_mb, 6, kNoMax>,
             kLive),
      WA_KEY(max_runtime_seconds, K::kInteger, nullptr,
             applyInteger<&Config::max_runtime_seconds, 1, kNoMax>, kLive),
      WA_KEY(output_limit_bytes, K::kInteger, nullptr,
             applyInteger<&Config::output_limit_bytes, 1024, kNoMax>, kLive),
      WA_KEY(finished_job_retention_seconds, K::kInteger, nullptr,
             applyInteger<&Config::finished_job_retention_seconds, 0, kNoMax>, kLive),
      WA_KEY(max_finished_jobs, K::kInteger, nullptr,
             applyInteger<&Config::max_finished_jobs, 0, kNoMax>, kLive),
      WA_KEY(max_body_bytes, K::kInteger, nullptr,
             applyInteger<&Config::max_body_bytes, 1024, kNoMax>),
      WA_KEY(max_connections, K::kInteger, nullptr,
             applyInteger<&Config::max_connections, 1, kMaxConnections>),
      WA_KEY(jobs_path, K::kString, nullptr, applyJobsPath, kLive),
      WA_KEY(log_level, K::kString, nullptr, applyLogLevel, kLive),
      WA_KEY(shutdown_drain_seconds, K::kInteger, nullptr,
             applyInteger<&Config::shutdown_drain_seconds, 0, 86400>, kLive),
      WA_KEY(stop_action, K::kString, nullptr, applyStopAction, kLive),
      WA_KEY(journal, K::kBoolean, nullptr, applyBoolean<&Config::journal>),
      WA_KEY(journal_path, K::kString, nullptr, applyJournalPath),
      WA_KEY(journal_sync, K::kString, nullptr, applyJournalSync),
      WA_KEY(metrics_root, K::kString, nullptr, applyMetricsRoot),
      WA_KEY(sample_interval_ms, K::kInteger, nullptr,
             applyInteger<&Config::sample_interval_ms, 100, 3'600'000>),
      WA_KEY(thermal_limit_c, K::kInteger, nullptr, applyInteger<&Config::thermal_limit_c, 0, 150>,
             kLive),
      WA_KEY(disk_min_free_percent, K::kInteger, nullptr,
             applyInteger<&Config::disk_min_free_percent, 0, 100>, kLive),
      WA_KEY(memory_budget_mb, K::kInteger, nullptr,
             applyInteger<&Config::memory_budget_mb, 0, kMaxMegabytes>, kLive),
      WA_KEY(memory_reserve_mb, K::kInteger, nullptr,
             applyInteger<&Config::memory_reserve_mb, 0, kMaxMegabytes>, kLive),
      // The execution backend: every key shapes jobs submitted or started afterwards.
      WA_KEY(pull_policy, K::kString, nullptr, applyPullPolicy, kLive),
      WA_KEY(pull_timeout_seconds, K::kInteger, nullptr,
             applyInteger<&Config::pull_timeout_seconds, 1, kMaxStepSeconds>, kLive),
      WA_KEY(registry_auth_file, K::kString, nullptr, applyRegistryAuthFile, kLive),
      WA_KEY(build_timeout_seconds, K::kInteger, nullptr,
             applyInteger<&Config::build_timeout_seconds, 1, kMaxStepSeconds>, kLive),
      WA_KEY(max_build_context_bytes, K::kInteger, nullptr,
             applyInteger<&Config::max_build_context_bytes, 1024, kNoMax>, kLive),
      WA_KEY(image_gc_interval_seconds, K::kInteger, nullptr,
             applyInteger<&Config::image_gc_interval_seconds, 0, 86400>, kLive),
      WA_KEY(image_gc_max_mb, K::kInteger, nullptr,
             applyInteger<&Config::image_gc_max_mb, 0, kMaxMegabytes>, kLive),
      WA_KEY(image_gc_min_free_percent, K::kInteger, nullptr,
             applyInteger<&Config::image_gc_min_free_percent, 0, 100>, kLive),
      WA_KEY(image_gc_keep, K::kStringList, imagePatternItem, applyList<&Config::image_gc_keep>,
             kLive),
      WA_KEY(workspace_path, K::kString, nullptr, applyWorkspacePath, kLive),
      WA_KEY(workspace_size_mb, K::kInteger, nullptr,
             applyInteger<&Config::workspace_size_mb, 1, kMaxMegabytes>, kLive),
      WA_KEY(max_job_files_bytes, K::kInteger, nullptr,
             applyInteger<&Config::max_job_files_bytes, 0, kNoMax>, kLive),
      WA_KEY(output_file_limit_bytes, K::kInteger, nullptr,
             applyInteger<&Config::output_file_limit_bytes, 0, kNoMax>, kLive),
      WA_KEY(allow_network, K::kBoolean, nullptr, applyBoolean<&Config::allow_network>, kLive),
      WA_KEY(pids_limit, K::kInteger, nullptr, applyInteger<&Config::pids_limit, 0, kMaxPids>,
             kLive),
      WA_KEY(default_cpus, K::kDecimal, nullptr, applyDecimal<&Config::default_cpus, kMaxCpus>,
             kLive),
      WA_KEY(max_cpus, K::kDecimal, nullptr, applyDecimal<&Config::max_cpus, kMaxCpus>, kLive),
      WA_KEY(read_only_rootfs, K::kBoolean, nullptr, applyBoolean<&Config::read_only_rootfs>,
             kLive),
      WA_KEY(tmp_size_mb, K::kInteger, nullptr,
             applyInteger<&Config::tmp_size_mb, 1, kMaxMegabytes>, kLive),
      WA_KEY(job_user, K::kString, nullptr, applyJobUser, kLive),
      WA_KEY(container_runtime, K::kString, nullptr, applyContainerRuntime, kLive),
  };
  return keys;
}

#undef WA_KEY

const ConfigKey* findConfigKey(std::string_view name) {
  for (const ConfigKey& key : configKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string suggestConfigKey(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return c == '-' ? '_' : std::tolower(c); });
  // A third of the length catches a dropped or doubled letter or two without suggesting
  // "port" for "host"-like short words that are simply different.
  const size_t limit = std::max<size_t>(1, lower.size() / 3);
  std::string_view best;
  size_t best_distance = limit + 1;
  for (const ConfigKey& key : configKeys()) {
    const size_t d = editDistance(lower, key.name);
    if (d < best_distance) {
      best_distance = d;
      best = key.name;
    }
  }
  return std::string(best);
}

std::string authTokenProblem(std::string_view token) {
  if (token.size() < kMinAuthTokenBytes || token.size() > kMaxAuthTokenBytes) {
    return "must be " + std::to_string(kMinAuthTokenBytes) + " to " +
           std::to_string(kMaxAuthTokenBytes) + " bytes, got " + std::to_string(token.size());
  }
  // unsigned char: the bytes 0x80-0xff must fail the same test whatever char's signedness
  // (signed on x86, unsigned on arm64).
  if (!std::all_of(token.begin(), token.end(),
                   [](unsigned char c) { return c > 0x20 && c < 0x7f; })) {
    return "must be visible ASCII characters only (no spaces, tabs, control characters or "
           "non-ASCII bytes)";
  }
  return "";
}

std::vector<std::string_view> changedKeys(const Config& a, const Config& b) {
  std::vector<std::string_view> changed;
  for (const ConfigKey& key : configKeys()) {
    if (key.differs(a, b)) changed.push_back(key.name);
  }
  return changed;
}

void keepRestartOnlyKeys(const Config& running, Config* next) {
  for (const ConfigKey& key : configKeys()) {
    if (!key.reloadable) key.copy(running, next);
  }
}

std::vector<std::string> describeConfig(const Config& config) {
  std::vector<std::string> lines;
  for (const ConfigKey& key : configKeys())
    lines.push_back(std::string(key.name) + "=" + key.show(config));
  return lines;
}

bool operator==(const Config& a, const Config& b) {
  for (const ConfigKey& key : configKeys()) {
    if (key.differs(a, b)) return false;
  }
  return true;
}

IntegerParse parseInteger(std::string_view text, int64_t* out) {
  const size_t digits_from = !text.empty() && text.front() == '-' ? 1 : 0;
  if (text.size() == digits_from) return IntegerParse::kNotAnInteger;
  for (size_t i = digits_from; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return IntegerParse::kNotAnInteger;
  }
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) return IntegerParse::kOutOfRange;
  if (ec != std::errc() || end != text.data() + text.size()) return IntegerParse::kNotAnInteger;
  *out = value;
  return IntegerParse::kOk;
}

DecimalParse parseDecimal(std::string_view text, double* out) {
  const bool negative = !text.empty() && text.front() == '-';
  const std::string_view digits = text.substr(negative ? 1 : 0);
  const size_t dot = digits.find('.');
  const std::string_view whole = digits.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : digits.substr(dot + 1);
  const auto decimalDigits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!decimalDigits(whole) || (dot != std::string_view::npos && !decimalDigits(fraction))) {
    return DecimalParse::kNotADecimal;
  }
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (fraction.size() > 2) return DecimalParse::kTooPrecise;
  int64_t units = 0;
  // Up to 10^15 whole units keeps units * 100 exact in an int64 and in a double's mantissa.
  if (parseInteger(whole, &units) != IntegerParse::kOk || units > 1'000'000'000'000'000) {
    return DecimalParse::kOutOfRange;
  }
  int64_t hundredths = 0;
  for (size_t i = 0; i < 2; ++i)
    hundredths = hundredths * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  const double value = static_cast<double>(units * 100 + hundredths) / 100;
  *out = negative && value != 0 ? -value : value;  // "-0" is 0, not -0.0
  return DecimalParse::kOk;
}

std::string formatDecimal(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return std::to_string(value);
  return std::string(buffer, end);
}

}  // namespace wa::config
