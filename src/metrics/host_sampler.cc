#include "metrics/host_sampler.h"

#include <dirent.h>
#include <sys/statvfs.h>

#include <algorithm>
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

// The directory holding path ("/a" for "/a/b" and "/a/b/"); "" for a path without one.
std::string parentDirectory(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || path == "/") return "";
  return std::string(path.substr(0, slash == 0 ? 1 : slash));
}

// The file system holding path, or, when path cannot be measured (not created yet), the
// one holding its parent directory, as the reference worker reports them.
DiskUsage diskUsage(const std::string& path) {
  DiskUsage usage;
  if (path.empty()) return usage;
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    const std::string parent = parentDirectory(path);
    if (parent.empty() || ::statvfs(parent.c_str(), &st) != 0) return usage;
  }
  // Block counts times the fragment size can pass 2^64 bytes on huge file systems.
  const auto mb = [&](fsblkcnt_t blocks) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(blocks) * st.f_frsize) >> 20);
  };
  usage.total_mb = mb(st.f_blocks);
  // f_bavail, not f_bfree: what an unprivileged job can actually write.
  usage.available_mb = mb(st.f_bavail);
  return usage;
}

std::vector<ThermalZone> thermalZones(const std::string& root) {
  std::vector<ThermalZone> zones;
  const std::string dir_path = rootedPath(root, "/sys/class/thermal");
  struct DirCloser {
    void operator()(DIR* dir) const { ::closedir(dir); }
  };
  std::unique_ptr<DIR, DirCloser> dir(::opendir(dir_path.c_str()));
  if (!dir) return zones;  // no thermal class: containers, many VMs
  // readdir returns null both at the end and on error; either way there is nothing more.
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name(entry->d_name);
    if (name.substr(0, 12) != "thermal_zone") continue;
    const std::string zone_path = dir_path + "/" + std::string(name);
    auto text = readSmallFile(zone_path + "/temp", 64);
    if (!text) continue;
    const std::string_view digits = trimWhitespace(*text);
    int64_t millidegrees = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), millidegrees);
    if (ec != std::errc() || end != digits.data() + digits.size()) continue;
    const double celsius = static_cast<double>(millidegrees) / 1000.0;
    if (celsius < kMinPlausibleC || celsius > kMaxPlausibleC) continue;
    ThermalZone zone;
    zone.zone = std::string(name);
    if (auto type = readSmallFile(zone_path + "/type", 256))
      zone.type = std::string(trimWhitespace(*type));
    zone.temperature_c = celsius;
    zones.push_back(std::move(zone));
  }
  // readdir's order is the file system's; a stable order keeps /health and /metrics steady.
  std::sort(zones.begin(), zones.end(), [](const ThermalZone& a, const ThermalZone& b) {
    return a.zone.size() != b.zone.size() ? a.zone.size() < b.zone.size() : a.zone < b.zone;
  });
  return zones;
}

// The aggregate "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal
// (guest time is already inside user and nice, so it is not added again).
std::optional<std::pair<uint64_t, uint64_t>> cpuTimes(const std::string& root) {
  auto text = readSmallFile(rootedPath(root, "/proc/stat"), 1 << 20);
  if (!text || text->compare(0, 4, "cpu ") != 0) return std::nullopt;
  std::string_view line(*text);
  line = line.substr(4, line.find('\n') - 4);
  std::array<uint64_t, 8> fields{};
  size_t count = 0;
  const char* p = line.data();
  const char* end = p + line.size();
  while (count < fields.size()) {
    while (p < end && *p == ' ') ++p;
    if (p == end) break;
    auto [next, ec] = std::from_chars(p, end, fields[count]);
    if (ec != std::errc()) return std::nullopt;
    p = next;
    ++count;
  }
  if (count < 4) return std::nullopt;
  uint64_t total = 0;
  for (size_t i = 0; i < count; ++i) total += fields[i];
  const uint64_t idle = fields[3] + (count > 4 ? fields[4] : 0);  // idle + iowait
  return std::make_pair(total - idle, total);
}

// Adds b's set fields into a's.
void addUsage(CgroupUsage& a, const CgroupUsage& b) {
  const auto add = [](std::optional<uint64_t>& x, const std::optional<uint64_t>& y) {
    if (y) x = x.value_or(0) + *y;
  };
  add(a.cpu_usage_usec, b.cpu_usage_usec);
  add(a.memory_current_bytes, b.memory_current_bytes);
  add(a.memory_max_bytes, b.memory_max_bytes);
  add(a.oom_kills, b.oom_kills);
  add(a.pids_current, b.pids_current);
  add(a.io_read_bytes, b.io_read_bytes);
  add(a.io_write_bytes, b.io_write_bytes);
}

}  // namespace

HostSampler::HostSampler(core::EventLoop& loop, std::string root, core::Millis interval)
    : loop_(loop), root_(std::move(root)), interval_(interval) {
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
  sample.thermal_zones = thermalZones(root_);
  for (const ThermalZone& zone : sample.thermal_zones) {
    if (!sample.temperature_c || zone.temperature_c > *sample.temperature_c) {
      sample.temperature_c = zone.temperature_c;
    }
  }
  if (auto times = cpuTimes(root_)) {
    const CpuTimes now{times->first, times->second};
    // Counters only grow; a smaller total means a different tree (tests) or a wrap.
    if (last_cpu_ && now.total > last_cpu_->total && now.busy >= last_cpu_->busy) {
      sample.cpu_usage_percent = 100.0 * static_cast<double>(now.busy - last_cpu_->busy) /
                                 static_cast<double>(now.total - last_cpu_->total);
    }
    last_cpu_ = now;
  } else {
    last_cpu_.reset();
  }
  sample.jobs_disk = diskUsage(jobs_path_);
  sample.docker_disk = diskUsage(docker_root_dir_);

  CgroupSample& cgroup = sample.cgroup;
  cgroup.version = detectCgroupVersion(root_);
  cgroup.worker = readOwnCgroup(root_, cgroup.version);
  const core::MonoTime now = loop_.clock().now();
  if (cgroup.worker.cpu_usage_usec && last_worker_cpu_usec_ && now > last_worker_cpu_at_ &&
      *cgroup.worker.cpu_usage_usec >= *last_worker_cpu_usec_) {
    const double elapsed_usec =
        std::chrono::duration<double, std::micro>(now - last_worker_cpu_at_).count();
    cgroup.worker_cpu_percent =
        100.0 * static_cast<double>(*cgroup.worker.cpu_usage_usec - *last_worker_cpu_usec_) /
        elapsed_usec;
  }
  last_worker_cpu_usec_ = cgroup.worker.cpu_usage_usec;
  last_worker_cpu_at_ = now;
  if (job_containers_) {
    // Each container's files stay open from the sample that first finds its cgroup until
    // one that no longer lists it or finds it gone; one not found yet (its container is
    // still being created) is looked up again next time.
    if (cgroup.version != held_version_) container_files_.clear();
    held_version_ = cgroup.version;
    // A container's readings outlive its cgroup (gone at its exit) while it is listed:
    // its run asks for them after the exit.
    std::unordered_map<std::string, CgroupFiles> still_held;
    std::unordered_map<std::string, ContainerReadings> still_read;
    for (JobContainer& container : job_containers_()) {
      const std::string& id = container.id;
      ++cgroup.job_containers;
      auto held = container_files_.extract(id);
      auto read_before = readings_.extract(id);
      CgroupFiles files =
          held ? std::move(held.mapped())
               : CgroupFiles::openContainer(root_, cgroup.version, id, container.cgroup_parent);
      const CgroupUsage usage = files.read();
      if (!usage.found) {
        if (read_before) still_read.insert(std::move(read_before));
        continue;
      }
      ++cgroup.job_containers_found;
      addUsage(cgroup.jobs, usage);
      ContainerReadings readings = read_before ? read_before.mapped() : ContainerReadings{};
      const auto most = [](std::optional<uint64_t>& seen, const std::optional<uint64_t>& now) {
        if (now && (!seen || *now > *seen)) seen = now;
      };
      most(readings.memory_max_seen, usage.memory_current_bytes);
      most(readings.pids_max_seen, usage.pids_current);
      readings.last = usage;
      still_read.emplace(id, readings);
      still_held.emplace(id, std::move(files));
    }
    container_files_ = std::move(still_held);
    readings_ = std::move(still_read);
    cgroup.jobs.found = cgroup.job_containers_found > 0;
  }
  latest_ = std::move(sample);
  ++samples_;
}

}  // namespace wa::metrics
