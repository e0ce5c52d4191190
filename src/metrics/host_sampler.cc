#include "metrics/host_sampler.h"

#include <dirent.h>
#include <sys/statvfs.h>

#include <charconv>
#include <memory>
#include <string_view>
#include <utility>

#include "metrics/proc_files.h"

namespace wa::metrics {
namespace {

// Readings outside this range are sensors reporting garbage (e.g. -273 or 0x7fffffff
// millidegrees from a missing probe), not temperatures a working host can have.
constexpr double kMinPlausibleC = -40.0;
constexpr double kMaxPlausibleC = 150.0;

std::array<double, 3> loadAverage(const std::string& root) {
  std::array<double, 3> load{};
  auto text = readSmallFile(rootedPath(root, "/proc/loadavg"));
  if (!text) return load;
  // "0.52 0.58 0.59 1/1234 5678"; from_chars ignores the locale, unlike strtod.
  const std::string_view line = *text;
  const char* p = line.data();
  const char* end = p + line.size();
  std::array<double, 3> parsed{};
  for (double& value : parsed) {
    while (p < end && *p == ' ') ++p;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc()) return load;  // all three or none: a partial line is not a reading
    p = next;
  }
  return parsed;
}

DiskUsage diskUsage(const std::string& path) {
  DiskUsage usage;
  if (path.empty()) return usage;
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return usage;
  // Block counts times the fragment size can pass 2^64 bytes on huge file systems.
  const auto mb = [&](fsblkcnt_t blocks) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(blocks) * st.f_frsize) >> 20);
  };
  usage.total_mb = mb(st.f_blocks);
  // f_bavail, not f_bfree: what an unprivileged job can actually write.
  usage.available_mb = mb(st.f_bavail);
  return usage;
}

std::optional<double> hottestThermalZone(const std::string& root) {
  const std::string dir_path = rootedPath(root, "/sys/class/thermal");
  struct DirCloser {
    void operator()(DIR* dir) const { ::closedir(dir); }
  };
  std::unique_ptr<DIR, DirCloser> dir(::opendir(dir_path.c_str()));
  if (!dir) return std::nullopt;  // no thermal class: containers, many VMs
  std::optional<double> hottest;
  // readdir returns null both at the end and on error; either way there is nothing more.
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name(entry->d_name);
    if (name.substr(0, 12) != "thermal_zone") continue;
    auto text = readSmallFile(dir_path + "/" + std::string(name) + "/temp", 64);
    if (!text) continue;
    const std::string_view digits = trimWhitespace(*text);
    int64_t millidegrees = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), millidegrees);
    if (ec != std::errc() || end != digits.data() + digits.size()) continue;
    const double celsius = static_cast<double>(millidegrees) / 1000.0;
    if (celsius < kMinPlausibleC || celsius > kMaxPlausibleC) continue;
    if (!hottest || celsius > *hottest) hottest = celsius;
  }
  return hottest;
}

}  // namespace

HostSampler::HostSampler(core::EventLoop& loop, std::string root, core::Millis interval)
    : root_(std::move(root)), interval_(interval) {
  // A zero or negative interval would re-sample on every loop iteration.
  if (interval_ <= core::Millis(0)) interval_ = core::Millis(1000);
  timer_ = loop.createTimer([this] {
    sampleNow();
    timer_->enableAfter(interval_);
  });
}

void HostSampler::start() {
  sampleNow();
  timer_->enableAfter(interval_);
}

void HostSampler::sampleNow() {
  HostSample sample;
  sample.load_average = loadAverage(root_);
  if (auto meminfo = readSmallFile(rootedPath(root_, "/proc/meminfo"))) {
    if (auto kb = meminfoKb(*meminfo, "MemTotal")) sample.memory_total_mb = *kb / 1024;
    if (auto kb = meminfoKb(*meminfo, "MemAvailable")) sample.memory_available_mb = *kb / 1024;
  }
  sample.temperature_c = hottestThermalZone(root_);
  sample.jobs_disk = diskUsage(jobs_path_);
  sample.docker_disk = diskUsage(docker_root_dir_);
  latest_ = sample;
}

}  // namespace wa::metrics
