#include "jobs/cgroup_accounting.h"

#include <unordered_set>
#include <utility>

#include "core/log.h"
#include "core/sha256.h"

namespace wa::jobs {
namespace {

// How often a job cgroup that could not be removed (its container's cgroup still there)
// is tried again.
constexpr core::Millis kRetryInterval{5000};

// worker_id as one cgroup name: [A-Za-z0-9_.-], anything else as '_'.
std::string cgroupName(const std::string& worker_id) {
  std::string name;
  for (char c : worker_id) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    name += plain ? c : '_';
  }
  if (name.empty() || name == "." || name == "..") name = "worker";
  return name;
}

}  // namespace

CgroupAccounting::CgroupAccounting(core::EventLoop& loop, const metrics::HostSampler& sampler,
                                   const std::string& cgroup_root, const std::string& worker_id,
                                   bool own_cgroups)
    : sampler_(sampler),
      cgroups_(cgroup_root, "/worker-agent/" + cgroupName(worker_id)),
      own_cgroups_(own_cgroups) {
  retry_timer_ = loop.createTimer([this] {
    const std::set<std::string> pending = std::move(pending_);
    pending_.clear();
    for (const std::string& path : pending) removeOrRetry(path);
  });
}

CgroupAccounting::~CgroupAccounting() {
  if (own_cgroups_) cgroups_.removeBase();
}

std::string CgroupAccounting::keyOf(const Job& job) {
  return "job-" +
         core::sha256Hex(job.spec.job_id + "\n" + std::to_string(job.created_at_ms)).substr(0, 24);
}

void CgroupAccounting::setEngine(const std::string& cgroup_driver, bool local_engine) {
  const bool wanted = own_cgroups_ && local_engine && cgroup_driver == "cgroupfs";
  if (wanted && !probed_) {
    probed_ = true;
    std::string why;
    if (!cgroups_.probe(&why)) {
      core::logWarning(
          "job usage comes from the sampler's readings: the worker cannot manage "
          "cgroups (",
          why, ")");
    }
  }
  const bool per_job = wanted && cgroups_.usable();
  if (per_job != per_job_) {
    per_job_ = per_job;
    if (per_job_) {
      core::logInfo("job usage from a cgroup of each job's own under ", cgroups_.base());
    } else {
      core::logInfo("job usage comes from the sampler's readings (engine cgroup driver \"",
                    cgroup_driver, "\"", local_engine ? "" : ", engine not on this host", ")");
    }
  }
}

std::string CgroupAccounting::cgroupParent(const Job& job) {
  return per_job_ ? cgroups_.pathFor(keyOf(job)) : std::string();
}

std::optional<JobUsage> CgroupAccounting::usage(const Job& job, const std::string& container_id) {
  const metrics::ContainerReadings* sampled = sampler_.readings(container_id);
  metrics::CgroupUsage read;
  JobUsage usage;
  // The job's own cgroup exists when its container was created under it (now, or by the
  // previous run of the worker for an adopted job).
  if (own_cgroups_) read = cgroups_.read(cgroups_.pathFor(keyOf(job)));
  if (read.found && read.cpu_usage_usec) {
    usage.source = "cgroup";
  } else if (sampled != nullptr) {
    read = sampled->last;
    usage.source = "sampled";
  } else {
    return std::nullopt;
  }
  if (!read.memory_peak_bytes && sampled != nullptr) {
    read.memory_peak_bytes = sampled->memory_max_seen;
  }
  if (!read.pids_peak && sampled != nullptr) read.pids_peak = sampled->pids_max_seen;
  if (read.cpu_usage_usec) usage.cpu_seconds = static_cast<double>(*read.cpu_usage_usec) / 1e6;
  usage.memory_peak_bytes = read.memory_peak_bytes;
  usage.io_read_bytes = read.io_read_bytes;
  usage.io_write_bytes = read.io_write_bytes;
  usage.pids_peak = read.pids_peak;
  return usage;
}

void CgroupAccounting::release(const Job& job) {
  if (own_cgroups_) removeOrRetry(cgroups_.pathFor(keyOf(job)));
}

void CgroupAccounting::removeOrRetry(const std::string& path) {
  if (cgroups_.remove(path)) return;
  if (pending_.insert(path).second) {
    core::logDebug("job cgroup not removable yet; trying again path=", path);
  }
  if (!retry_timer_->enabled()) retry_timer_->enableAfter(kRetryInterval);
}

void CgroupAccounting::removeLeftovers(const std::vector<const Job*>& keep) {
  if (!own_cgroups_) return;
  std::unordered_set<std::string> kept;
  for (const Job* job : keep) kept.insert(keyOf(*job));
  size_t removed = 0;
  for (const std::string& key : cgroups_.keys()) {
    if (kept.contains(key)) continue;
    removeOrRetry(cgroups_.pathFor(key));
    ++removed;
  }
  if (removed > 0) core::logInfo("removing ", removed, " job cgroup(s) left by a previous run");
}

}  // namespace wa::jobs
