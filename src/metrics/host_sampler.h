// HostSampler: dynamic host metrics, refreshed by a loop timer so that /health and
// /metrics are answered from a cache and never read files themselves. All /proc and /sys
// paths are rooted at root ("/" normally, a fixture tree in tests); a missing or
// malformed file leaves its value unset, never an error.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "metrics/cgroup_reader.h"

namespace wa::metrics {

struct DiskUsage {
  std::optional<int64_t> total_mb;  // nullopt when statvfs failed
  std::optional<int64_t> available_mb;
};

struct ThermalZone {
  std::string zone;  // "thermal_zone0"
  std::string type;  // contents of its type file ("x86_pkg_temp"); "" when absent
  double temperature_c = 0;
};

struct CgroupSample {
  CgroupVersion version = CgroupVersion::kNone;
  CgroupUsage worker;  // the worker's own cgroup
  // CPU the worker's cgroup used since the previous sample, in percent of one CPU.
  std::optional<double> worker_cpu_percent;
  // The running jobs' containers: how many were asked for and found, and their sums
  // (a field is set when at least one found container reported it).
  size_t job_containers = 0;
  size_t job_containers_found = 0;
  CgroupUsage jobs;
};

// A running job's container, as the sampler is told of it.
struct JobContainer {
  std::string id;
  std::string cgroup_parent;  // the CgroupParent it was created with; "" for the engine's
};

// What the samples read of one job container while it was listed: the last reading of
// its cgroup (kept after the cgroup is gone, until the container is no longer listed)
// and the largest memory and task counts read, for the peaks the kernel does not keep.
struct ContainerReadings {
  CgroupUsage last;
  std::optional<uint64_t> memory_max_seen;
  std::optional<uint64_t> pids_max_seen;
};

struct HostSample {
  std::array<double, 3> load_average{};  // 1, 5, 15 minutes
  // Busy share of all CPUs since the previous sample (/proc/stat); unset on the first.
  std::optional<double> cpu_usage_percent;
  std::optional<int64_t> memory_total_mb;
  std::optional<int64_t> memory_available_mb;
  std::vector<ThermalZone> thermal_zones;  // plausible readings only, by zone name
  std::optional<double> temperature_c;     // the hottest zone; nullopt if none
  DiskUsage jobs_disk;
  DiskUsage docker_disk;
  CgroupSample cgroup;
};

class HostSampler {
 public:
  // root: prefix for /proc and /sys paths. The disk paths are used as given (statvfs).
  // A non-positive interval is taken as 1 s. Nothing is read until start() or sampleNow().
  HostSampler(core::EventLoop& loop, std::string root, core::Millis interval);
  // The timer's callback holds this, so the sampler stays where it was built.
  HostSampler(const HostSampler&) = delete;
  HostSampler& operator=(const HostSampler&) = delete;
  // Sets the directories whose file systems are reported; takes effect at the next sample.
  void setJobsPath(std::string path) { jobs_path_ = std::move(path); }
  void setDockerRootDir(std::string path) { docker_root_dir_ = std::move(path); }
  const std::string& jobsPath() const { return jobs_path_; }
  const std::string& dockerRootDir() const { return docker_root_dir_; }
  // Asked at each sample for the containers whose cgroups count as the jobs'. Their
  // cgroup files are held open while they are listed (up to eight descriptors each).
  void setJobContainers(std::function<std::vector<JobContainer>()> fn) {
    job_containers_ = std::move(fn);
  }
  // What the samples read of container id so far; null when none found its cgroup or it
  // is no longer listed.
  const ContainerReadings* readings(const std::string& id) const {
    auto it = readings_.find(id);
    return it == readings_.end() ? nullptr : &it->second;
  }

  // Samples now and then every interval.
  void start();
  void sampleNow();
  const HostSample& latest() const { return latest_; }
  // How many samples were taken: changes whenever latest() does.
  uint64_t samples() const { return samples_; }

 private:
  struct CpuTimes {
    uint64_t busy = 0;
    uint64_t total = 0;
  };

  core::EventLoop& loop_;
  std::string root_;
  core::Millis interval_;
  std::unique_ptr<core::Timer> timer_;
  std::string jobs_path_;
  std::string docker_root_dir_;
  std::function<std::vector<JobContainer>()> job_containers_;
  HostSample latest_;
  uint64_t samples_ = 0;
  // The cgroup files of the job containers found so far, by container id, and the
  // hierarchy they were opened in.
  std::unordered_map<std::string, CgroupFiles> container_files_;
  std::unordered_map<std::string, ContainerReadings> readings_;
  CgroupVersion held_version_ = CgroupVersion::kNone;
  // The previous readings the percentages are differences from.
  std::optional<CpuTimes> last_cpu_;
  std::optional<uint64_t> last_worker_cpu_usec_;
  core::MonoTime last_worker_cpu_at_{};
};

}  // namespace wa::metrics
