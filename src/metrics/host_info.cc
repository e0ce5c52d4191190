#include "metrics/host_info.h"

#include <limits.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/proc_files.h"

namespace wa::metrics {
namespace {

// /proc/cpuinfo is about 1.5 KiB per logical CPU; this covers several thousand of them.
constexpr size_t kMaxCpuinfoBytes = 8 << 20;

// arm64 kernels name no model in /proc/cpuinfo, only the MIDR fields "CPU implementer" and
// "CPU part" (hex). The implementers and the parts of the 64-bit cores found in servers
// and boards, named as lscpu(1) and the kernel's cputype.h name them.
struct ArmPart {
  unsigned implementer;
  unsigned part;
  std::string_view name;
};
constexpr std::pair<unsigned, std::string_view> kArmImplementers[] = {
    {0x41, "ARM"},       {0x42, "Broadcom"}, {0x43, "Cavium"},  {0x46, "FUJITSU"},
    {0x48, "HiSilicon"}, {0x4e, "NVIDIA"},   {0x50, "APM"},     {0x51, "Qualcomm"},
    {0x53, "Samsung"},   {0x61, "Apple"},    {0x70, "Phytium"}, {0xc0, "Ampere"},
};
constexpr ArmPart kArmParts[] = {
    {0x41, 0xd03, "Cortex-A53"},   {0x41, 0xd04, "Cortex-A35"},    {0x41, 0xd05, "Cortex-A55"},
    {0x41, 0xd06, "Cortex-A65"},   {0x41, 0xd07, "Cortex-A57"},    {0x41, 0xd08, "Cortex-A72"},
    {0x41, 0xd09, "Cortex-A73"},   {0x41, 0xd0a, "Cortex-A75"},    {0x41, 0xd0b, "Cortex-A76"},
    {0x41, 0xd0c, "Neoverse-N1"},  {0x41, 0xd0d, "Cortex-A77"},    {0x41, 0xd0e, "Cortex-A76AE"},
    {0x41, 0xd40, "Neoverse-V1"},  {0x41, 0xd41, "Cortex-A78"},    {0x41, 0xd42, "Cortex-A78AE"},
    {0x41, 0xd44, "Cortex-X1"},    {0x41, 0xd46, "Cortex-A510"},   {0x41, 0xd47, "Cortex-A710"},
    {0x41, 0xd48, "Cortex-X2"},    {0x41, 0xd49, "Neoverse-N2"},   {0x41, 0xd4a, "Neoverse-E1"},
    {0x41, 0xd4b, "Cortex-A78C"},  {0x41, 0xd4d, "Cortex-A715"},   {0x41, 0xd4e, "Cortex-X3"},
    {0x41, 0xd4f, "Neoverse-V2"},  {0x43, 0x0a1, "ThunderX-88XX"}, {0x43, 0x0af, "ThunderX2-99xx"},
    {0x46, 0x001, "A64FX"},        {0x48, 0xd01, "Kunpeng-920"},   {0x4e, 0x004, "Carmel"},
    {0x50, 0x000, "X-Gene"},       {0x51, 0xc00, "Falkor"},        {0x61, 0x022, "Icestorm-M1"},
    {0x61, 0x023, "Firestorm-M1"}, {0xc0, 0xac3, "Ampere-1"},      {0xc0, 0xac4, "Ampere-1a"},
};

std::optional<unsigned> parseHexId(std::string_view text) {
  if (!text.starts_with("0x")) return std::nullopt;
  text.remove_prefix(2);
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "ARM Neoverse-N1"; "ARM part 0xd99" for a part not in the table; "" for ids that are not
// hex or an implementer not in the table (nothing better than the raw ids to say).
std::string armCpuName(std::string_view implementer_text, std::string_view part_text) {
  const std::optional<unsigned> implementer = parseHexId(implementer_text);
  const std::optional<unsigned> part = parseHexId(part_text);
  if (!implementer || !part) return "";
  const auto* vendor = std::find_if(std::begin(kArmImplementers), std::end(kArmImplementers),
                                    [&](const auto& v) { return v.first == *implementer; });
  if (vendor == std::end(kArmImplementers)) return "";
  const auto* known = std::find_if(std::begin(kArmParts), std::end(kArmParts), [&](const auto& p) {
    return p.implementer == *implementer && p.part == *part;
  });
  if (known != std::end(kArmParts))
    return std::string(vendor->second) + " " + std::string(known->name);
  return std::string(vendor->second) + " part " + std::string(part_text);
}

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
  std::string arm_implementer;
  std::string arm_part;
  std::vector<std::string> arm_names;  // distinct, in order: big.LITTLE boards have two
  const auto endBlock = [&] {
    // Only a block that names both ids places a CPU on a core; ARM and many VMs name neither.
    if (!physical_id.empty() && !core_id.empty()) cores.emplace(physical_id, core_id);
    if (!arm_implementer.empty() && !arm_part.empty()) {
      std::string name = armCpuName(arm_implementer, arm_part);
      if (!name.empty() && std::find(arm_names.begin(), arm_names.end(), name) == arm_names.end())
        arm_names.push_back(std::move(name));
    }
    physical_id.clear();
    core_id.clear();
    arm_implementer.clear();
    arm_part.clear();
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
    } else if (key == "CPU implementer") {
      arm_implementer = value;
    } else if (key == "CPU part") {
      arm_part = value;
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
  if (facts.model.empty()) {  // a model the kernel names wins over the decoded ids
    for (const std::string& name : arm_names) {
      if (!facts.model.empty()) facts.model += ", ";
      facts.model += name;
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

// The architecture this binary was compiled for, as Node names it in process.arch (which
// the reference worker reports as os_architecture); "" for one Node does not name.
// Compiled, not uname's: a 32-bit build on a 64-bit kernel runs (and pulls images) as the
// 32-bit architecture, and Node says so too.
std::string_view nodeArchitecture() {
#if defined(__x86_64__)
  return "x64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "ia32";
#elif defined(__powerpc64__)
  return "ppc64";
#elif defined(__powerpc__)
  return "ppc";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__loongarch64)
  return "loong64";
#else
  return "";
#endif
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
  if (::uname(&uts) == 0) info.machine = uts.machine;
  info.os_architecture = nodeArchitecture();
  if (info.os_architecture.empty()) info.os_architecture = info.machine;
  return info;
}

}  // namespace wa::metrics
