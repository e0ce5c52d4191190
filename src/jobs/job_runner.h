// JobRunner: what the scheduler needs from an execution backend. DockerJobRunner is the
// real one; unit tests use a fake.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "jobs/job.h"

namespace wa::jobs {

// How a run ended. The runner has already filled the job's output, container and image ids.
struct JobOutcome {
  std::optional<int64_t> exit_code;  // nullopt when the container never exited by itself
  bool oom_killed = false;
  std::optional<JobError> error;  // nullopt: exit code decides
};

class JobRunner {
 public:
  using Completion = std::function<void(Job& job, JobOutcome outcome)>;
  virtual ~JobRunner() = default;
  // Starts job (already marked running). done runs exactly once, later, on the loop;
  // the job stays valid until then.
  virtual void start(Job& job, Completion done) = 0;
  // Asks a running job to stop; its completion then carries error code CANCELLED.
  virtual void cancel(Job& job) = 0;
  // Takes over the container of a job a previous run of the daemon started (found by its
  // labels after a restart): it is followed to its end, or collected if it ended, and done
  // runs once, later, as for start.
  virtual void adopt(Job& job, const std::string& container_id, Completion done) = 0;
};

}  // namespace wa::jobs
