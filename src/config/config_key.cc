#include "config/config_key.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <type_traits>

#include "config/key_rules.h"
#include "core/log.h"

namespace wa::config {
namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
// Sizes in MiB the daemon multiplies into bytes: 1 TiB keeps that far from overflow.
constexpr int64_t kMaxMegabytes = 1 << 20;
// Linux's largest pid_max; a pids limit above it limits nothing.
constexpr int64_t kMaxPids = 1 << 22;
// Seconds a single pull or build may take.
constexpr int64_t kMaxStepSeconds = 86400;
// CPUs a job may be given; far above any host, low enough for nano-CPU arithmetic.
constexpr int64_t kMaxCpus = 4096;
// Open HTTP connections: Linux's default fs.nr_open (1048576) bounds one process's
// descriptors, and the daemon keeps some for itself.
constexpr int64_t kMaxConnections = 1'000'000;
// A shared token shorter than this is guessable; longer than the other bound is a
// mistake (the whole request head may be 16 KiB).
constexpr size_t kMinAuthTokenBytes = 16;
constexpr size_t kMaxAuthTokenBytes = 4096;

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

// Stores a path key: absolute, or with MayBeEmpty also "" (the feature off, or a default).
template <auto Member, bool MayBeEmpty>
std::string applyPath(const ConfigValue& value, Config* config) {
  if (std::string why = rules::pathProblem(value.text, MayBeEmpty); !why.empty()) return why;
  config->*Member = value.text;
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
      WA_KEY(worker_id, K::kString, nullptr, rules::applyWorkerId),
      WA_KEY(listen, K::kString, nullptr, rules::applyListen),
      // 0 asks the kernel for any free port, which tests use.
      WA_KEY(port, K::kInteger, nullptr, applyInteger<&Config::port, 0, 65535>),
      WA_KEY(listen_unix, K::kString, nullptr, rules::applyListenUnix),
      WA_KEY(auth_token, K::kString, nullptr, rules::applyAuthToken, kLive),
      WA_KEY(auth_token_file, K::kString, nullptr, applyPath<&Config::auth_token_file, true>,
             kLive),
      WA_KEY(auth_open_paths, K::kStringList, rules::openablePathItem,
             applyList<&Config::auth_open_paths>, kLive),
      WA_KEY(max_concurrent_jobs, K::kInteger, nullptr,
             applyInteger<&Config::max_concurrent_jobs, 1, 1024>, kLive),
      WA_KEY(max_queued_jobs, K::kInteger, nullptr,
             applyInteger<&Config::max_queued_jobs, 1, 1000000>, kLive),
      WA_KEY(labels, K::kStringList, rules::nonEmptyItem, applyList<&Config::labels>, kLive),
      WA_KEY(allowed_images, K::kStringList, rules::imagePatternItem,
             applyList<&Config::allowed_images>, kLive),
      WA_KEY(allowed_runtime_modes, K::kStringList, rules::runtimeModeItem,
             applyList<&Config::allowed_runtime_modes>, kLive),
      WA_KEY(docker_host, K::kString, nullptr, rules::applyDockerHost),
      WA_KEY(docker_api_version, K::kString, nullptr, rules::applyDockerApiVersion, kLive),
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
      WA_KEY(jobs_path, K::kString, nullptr, applyPath<&Config::jobs_path, false>, kLive),
      WA_KEY(log_level, K::kString, nullptr, rules::applyLogLevel, kLive),
      WA_KEY(shutdown_drain_seconds, K::kInteger, nullptr,
             applyInteger<&Config::shutdown_drain_seconds, 0, 86400>, kLive),
      WA_KEY(stop_action, K::kString, nullptr, rules::applyStopAction, kLive),
      WA_KEY(journal, K::kBoolean, nullptr, applyBoolean<&Config::journal>),
      WA_KEY(journal_path, K::kString, nullptr, applyPath<&Config::journal_path, true>),
      WA_KEY(journal_sync, K::kString, nullptr, rules::applyJournalSync),
      WA_KEY(metrics_root, K::kString, nullptr, applyPath<&Config::metrics_root, false>),
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
      WA_KEY(pull_policy, K::kString, nullptr, rules::applyPullPolicy, kLive),
      WA_KEY(pull_timeout_seconds, K::kInteger, nullptr,
             applyInteger<&Config::pull_timeout_seconds, 1, kMaxStepSeconds>, kLive),
      WA_KEY(registry_auth_file, K::kString, nullptr, applyPath<&Config::registry_auth_file, true>,
             kLive),
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
      WA_KEY(image_gc_keep, K::kStringList, rules::imagePatternItem,
             applyList<&Config::image_gc_keep>, kLive),
      WA_KEY(workspace_path, K::kString, nullptr, rules::applyWorkspacePath, kLive),
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
      WA_KEY(job_user, K::kString, nullptr, rules::applyJobUser, kLive),
      WA_KEY(container_runtime, K::kString, nullptr, rules::applyContainerRuntime, kLive),
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
