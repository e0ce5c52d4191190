#include "config/config_key.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <type_traits>

#include "core/log.h"

namespace wa::config {
namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
constexpr size_t kMaxWorkerIdBytes = 256;

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
std::string applyList(const ConfigValue& value, Config* config) {
  config->*Member = value.list;
  return "";
}

std::string nonEmptyItem(std::string_view item) {
  return item.empty() ? "must not be an empty string" : "";
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

std::string applyDockerHost(const ConfigValue& value, Config* config) {
  const std::string& host = value.text;
  // Only the transports the docker client speaks; ssh:// and npipe:// are not supported.
  for (std::string_view scheme : {"unix://", "tcp://"}) {
    if (host.size() > scheme.size() && host.compare(0, scheme.size(), scheme) == 0) {
      config->docker_host = host;
      return "";
    }
  }
  return "must start with unix:// or tcp:// and name a socket or address, got " + quoted(host);
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

const std::vector<ConfigKey>& configKeys() {
  using K = ValueKind;
  constexpr bool kLive = true;  // applied by a SIGHUP reload
  static const std::vector<ConfigKey> keys = {
      {"worker_id", K::kString, nullptr, applyWorkerId},
      {"listen", K::kString, nullptr, applyListen},
      // 0 asks the kernel for any free port, which tests use.
      {"port", K::kInteger, nullptr, applyInteger<&Config::port, 0, 65535>},
      {"max_concurrent_jobs", K::kInteger, nullptr,
       applyInteger<&Config::max_concurrent_jobs, 1, 1024>, kLive},
      {"max_queued_jobs", K::kInteger, nullptr, applyInteger<&Config::max_queued_jobs, 1, 1000000>,
       kLive},
      {"labels", K::kStringList, nonEmptyItem, applyList<&Config::labels>, kLive},
      {"allowed_images", K::kStringList, nonEmptyItem, applyList<&Config::allowed_images>, kLive},
      {"allowed_runtime_modes", K::kStringList, runtimeModeItem,
       applyList<&Config::allowed_runtime_modes>, kLive},
      {"docker_host", K::kString, nullptr, applyDockerHost},
      {"default_memory_mb", K::kInteger, nullptr,
       applyInteger<&Config::default_memory_mb, 6, kNoMax>, kLive},
      {"default_max_runtime_seconds", K::kInteger, nullptr,
       applyInteger<&Config::default_max_runtime_seconds, 1, kNoMax>, kLive},
      {"max_memory_mb", K::kInteger, nullptr, applyInteger<&Config::max_memory_mb, 6, kNoMax>,
       kLive},
      {"max_runtime_seconds", K::kInteger, nullptr,
       applyInteger<&Config::max_runtime_seconds, 1, kNoMax>, kLive},
      {"output_limit_bytes", K::kInteger, nullptr,
       applyInteger<&Config::output_limit_bytes, 1024, kNoMax>, kLive},
      {"finished_job_retention_seconds", K::kInteger, nullptr,
       applyInteger<&Config::finished_job_retention_seconds, 0, kNoMax>, kLive},
      {"max_finished_jobs", K::kInteger, nullptr,
       applyInteger<&Config::max_finished_jobs, 0, kNoMax>, kLive},
      {"max_body_bytes", K::kInteger, nullptr, applyInteger<&Config::max_body_bytes, 1024, kNoMax>},
      {"jobs_path", K::kString, nullptr, applyJobsPath, kLive},
      {"log_level", K::kString, nullptr, applyLogLevel, kLive},
      {"shutdown_drain_seconds", K::kInteger, nullptr,
       applyInteger<&Config::shutdown_drain_seconds, 0, 86400>, kLive},
      {"metrics_root", K::kString, nullptr, applyMetricsRoot},
      {"sample_interval_ms", K::kInteger, nullptr,
       applyInteger<&Config::sample_interval_ms, 100, 3'600'000>},
      {"thermal_limit_c", K::kInteger, nullptr, applyInteger<&Config::thermal_limit_c, 0, 150>,
       kLive},
      {"disk_min_free_percent", K::kInteger, nullptr,
       applyInteger<&Config::disk_min_free_percent, 0, 100>, kLive},
  };
  return keys;
}

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

std::vector<std::string_view> changedKeys(const Config& a, const Config& b) {
  // One comparison per key, by name; a key missing here is caught by the unit test that
  // changes every key in turn.
  const auto differs = [&](std::string_view name) -> bool {
#define WA_FIELD(field) \
  if (name == #field) return a.field != b.field;
    WA_FIELD(worker_id)
    WA_FIELD(listen)
    WA_FIELD(port)
    WA_FIELD(max_concurrent_jobs)
    WA_FIELD(max_queued_jobs)
    WA_FIELD(labels)
    WA_FIELD(allowed_images)
    WA_FIELD(allowed_runtime_modes)
    WA_FIELD(docker_host)
    WA_FIELD(default_memory_mb)
    WA_FIELD(default_max_runtime_seconds)
    WA_FIELD(max_memory_mb)
    WA_FIELD(max_runtime_seconds)
    WA_FIELD(output_limit_bytes)
    WA_FIELD(finished_job_retention_seconds)
    WA_FIELD(max_finished_jobs)
    WA_FIELD(max_body_bytes)
    WA_FIELD(jobs_path)
    WA_FIELD(log_level)
    WA_FIELD(shutdown_drain_seconds)
    WA_FIELD(metrics_root)
    WA_FIELD(sample_interval_ms)
    WA_FIELD(thermal_limit_c)
    WA_FIELD(disk_min_free_percent)
#undef WA_FIELD
    return false;
  };
  std::vector<std::string_view> changed;
  for (const ConfigKey& key : configKeys()) {
    if (differs(key.name)) changed.push_back(key.name);
  }
  return changed;
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

}  // namespace wa::config
