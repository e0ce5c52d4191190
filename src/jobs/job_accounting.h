// JobAccounting: what each job's container used (the record's usage), as the runner needs
// it. The daemon binds it to the host's cgroups (CgroupAccounting); the runner's unit
// tests to a fake. Every call is on the loop and reads a few small files at most.
#pragma once

#include <optional>
#include <string>

#include "jobs/job.h"

namespace wa::jobs {

class JobAccounting {
 public:
  virtual ~JobAccounting() = default;
  // The CgroupParent job's container is created under; "" for the engine's default.
  virtual std::string cgroupParent(const Job& job) = 0;
  // What job's container (container_id) used, asked once it has stopped and before it is
  // removed; nullopt when nothing is known of it.
  virtual std::optional<JobUsage> usage(const Job& job, const std::string& container_id) = 0;
  // job's container is gone: what was kept to account for it may go.
  virtual void release(const Job& job) = 0;
};

}  // namespace wa::jobs
