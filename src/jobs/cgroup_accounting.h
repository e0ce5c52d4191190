// CgroupAccounting: JobAccounting on this host's cgroups.
//
// Where it can, each job's container is created under a cgroup of its own
// (metrics::JobCgroups: /worker-agent/<worker_id>/job-<key>), whose counters outlive the
// container's cgroup: its usage is then read from there after the exit, whole. That needs
// the engine's cgroupfs driver, an engine on this host (a unix socket), metrics_root "/"
// and a worker allowed to create and remove cgroups. Otherwise the usage is the host
// sampler's last reading of the container's own cgroup before it ended ("sampled").
// Either way a peak the kernel does not keep (memory.peak before Linux 5.19, pids.peak
// before 6.1) is the largest value the sampler read.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "jobs/job_accounting.h"
#include "metrics/host_sampler.h"
#include "metrics/job_cgroups.h"

namespace wa::jobs {

class CgroupAccounting final : public JobAccounting {
 public:
  // cgroup_root: where the cgroup file system is ("/" on a real host). own_cgroups: the
  // engine's cgroups are those under cgroup_root, so that the worker may give jobs cgroups
  // there, read and remove them (false when metrics_root is a fixture tree: sampled only).
  CgroupAccounting(core::EventLoop& loop, const metrics::HostSampler& sampler,
                   const std::string& cgroup_root, const std::string& worker_id, bool own_cgroups);
  // Removes the worker's own cgroup of job cgroups when it is empty (none is kept).
  ~CgroupAccounting() override;
  CgroupAccounting(const CgroupAccounting&) = delete;
  CgroupAccounting& operator=(const CgroupAccounting&) = delete;

  // What the engine's /info said: per-job cgroups are used from now on when cgroup_driver
  // is "cgroupfs", the engine is local and the worker may manage cgroups (tried once).
  void setEngine(const std::string& cgroup_driver, bool local_engine);
  bool perJobCgroups() const { return per_job_; }

  std::string cgroupParent(const Job& job) override;
  std::optional<JobUsage> usage(const Job& job, const std::string& container_id) override;
  void release(const Job& job) override;

  // Start-up: removes the job cgroups a previous run of the worker left, except those of
  // the jobs in keep (taken up again). Runs whatever setEngine says later.
  void removeLeftovers(const std::vector<const Job*>& keep);
  // Job cgroups whose removal failed and is tried again.
  size_t pendingRemovals() const { return pending_.size(); }

  // The name of job's cgroup: from its id and submission time, so that the same job
  // finds it again after a restart.
  static std::string keyOf(const Job& job);

 private:
  void removeOrRetry(const std::string& path);

  const metrics::HostSampler& sampler_;
  metrics::JobCgroups cgroups_;
  bool own_cgroups_;
  bool probed_ = false;
  bool per_job_ = false;
  std::set<std::string> pending_;  // cgroup paths still to remove
  std::unique_ptr<core::Timer> retry_timer_;
};

}  // namespace wa::jobs
