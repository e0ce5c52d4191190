#include "metrics/host_info.h"

#include <limits.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <set>
#include <string_view>
#include <utility>

#include "metrics/proc_files.h"

namespace wa::metrics {
namespace {

// /proc/cpuinfo is about 1.5 KiB per logical CPU; this covers several thousand of them.
constexpr size_t kMaxCpuinfoBytes = 8 << 20;

struct CpuinfoFacts {
  int processors = 0;
  std::optional<int> cores;
  std::string model;
};

// Parses /proc/cpuinfo: blocks of "key<TAB>: value" lines, one block per logical CPU
// (on x86 and ARM64), separated by blank lines.
CpuinfoFacts parseCpuinfo(std::string_view text) {
  CpuinfoFacts facts;
  // Model fields in order of preference: x86 "model name", Raspberry Pi "Model" (a board
  // name, more telling than its SoC), 32-bit ARM "Hardware", MIPS "cpu model".
  constexpr std::string_view kModelKeys[] = {"model name", "Model", "Hardware", "cpu model"};
  std::string models[std::size(kModelKeys)];
  std::set<std::pair<std::string, std::string>> cores;
  std::string physical_id;
  std::string core_id;
  const auto endBlock = [&] {
    // Only a block that names both ids places a CPU on a core; ARM and many VMs name neither.
    if (!physical_id.empty() && !core_id.empty()) cores.emplace(physical_id, core_id);
    physical_id.clear();
    core_id.clear();
  };

  size_t line_start = 0;
  while (line_start <= text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    const size_t colon = line.find(':');
    if (trimWhitespace(line).empty() || colon == std::string_view::npos) {
      endBlock();
      continue;
    }
    const std::string_view key = trimWhitespace(line.substr(0, colon));
    const std::string_view value = trimWhitespace(line.substr(colon + 1));
    if (key == "processor") {
      ++facts.processors;
    } else if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      core_id = value;
    } else {
      for (size_t i = 0; i < std::size(kModelKeys); ++i) {
        if (key == kModelKeys[i] && models[i].empty()) models[i] = value;
      }
    }
  }
  endBlock();
  if (!cores.empty()) facts.cores = static_cast<int>(cores.size());
  for (const std::string& model : models) {
    if (!model.empty()) {
      facts.model = model;
      break;
    }
  }
  return facts;
}

// PRETTY_NAME from an os-release file, with its shell-style quotes removed.
std::optional<std::string> prettyName(std::string_view text) {
  constexpr std::string_view kKey = "PRETTY_NAME=";
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = trimWhitespace(text.substr(line_start, line_end - line_start));
    line_start = line_end + 1;
    if (line.substr(0, kKey.size()) != kKey) continue;
    std::string_view value = line.substr(kKey.size());
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    // os-release allows shell escapes (\" \\ \$ \`) inside double quotes.
    std::string unescaped;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      unescaped += value[i];
    }
    if (unescaped.empty()) return std::nullopt;
    return unescaped;
  }
  return std::nullopt;
}

std::string readHostname(const std::string& root) {
  if (root == "/") {
    char name[HOST_NAME_MAX + 1] = {};
    // On truncation POSIX leaves termination unspecified; the extra zeroed byte covers it.
    if (::gethostname(name, sizeof name - 1) == 0) return name;
    return "";
  }
  auto text = readSmallFile(rootedPath(root, "/proc/sys/kernel/hostname"));
  return text ? std::string(trimWhitespace(*text)) : "";
}

}  // namespace

HostInfo HostInfo::read(const std::string& root) {
  HostInfo info;
  info.hostname = readHostname(root);

  if (auto cpuinfo = readSmallFile(rootedPath(root, "/proc/cpuinfo"), kMaxCpuinfoBytes)) {
    CpuinfoFacts facts = parseCpuinfo(*cpuinfo);
    info.cpu_threads = facts.processors;
    info.cpu_cores = facts.cores;
    info.cpu_model = std::move(facts.model);
  }
  if (info.cpu_threads == 0 && root == "/") {
    // Some architectures (s390x) format cpuinfo differently; the kernel still knows.
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (online > 0) info.cpu_threads = static_cast<int>(online);
  }

  if (auto meminfo = readSmallFile(rootedPath(root, "/proc/meminfo"))) {
    if (auto kb = meminfoKb(*meminfo, "MemTotal")) info.memory_mb = *kb / 1024;
  }

  info.os = "Linux";
  // os-release(5): /etc/os-release, falling back to /usr/lib/os-release.
  for (std::string_view path : {"/etc/os-release", "/usr/lib/os-release"}) {
    if (auto text = readSmallFile(rootedPath(root, path))) {
      if (auto name = prettyName(*text)) info.os = std::move(*name);
      break;
    }
  }

  utsname uts{};
  if (::uname(&uts) == 0) info.os_architecture = uts.machine;
  return info;
}

}  // namespace wa::metrics
