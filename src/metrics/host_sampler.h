// HostSampler: dynamic host metrics, refreshed by a loop timer so that /health is
// answered from a cache and never reads files itself. All paths are rooted at root.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/event_loop.h"

namespace wa::metrics {

struct DiskUsage {
  std::optional<int64_t> total_mb;  // nullopt when statvfs failed
  std::optional<int64_t> available_mb;
};

struct HostSample {
  std::array<double, 3> load_average{};  // 1, 5, 15 minutes
  std::optional<int64_t> memory_total_mb;
  std::optional<int64_t> memory_available_mb;
  std::optional<double> temperature_c;  // hottest /sys/class/thermal zone; nullopt if none
  DiskUsage jobs_disk;
  DiskUsage docker_disk;
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

  // Samples now and then every interval.
  void start();
  void sampleNow();
  const HostSample& latest() const { return latest_; }

 private:
  std::string root_;
  core::Millis interval_;
  std::unique_ptr<core::Timer> timer_;
  std::string jobs_path_;
  std::string docker_root_dir_;
  HostSample latest_;
};

}  // namespace wa::metrics
