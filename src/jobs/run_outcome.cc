#include "jobs/run_outcome.h"

#include <utility>
#include <vector>

#include "docker/tar_archive.h"

namespace wa::jobs {

JobOutcome outcomeOf(const RunFacts& facts, const JobLimits& limits) {
  JobOutcome outcome;
  outcome.oom_killed = facts.oom_killed;
  if (facts.cancelled) {
    outcome.error = JobError{"CANCELLED", "cancelled while running; the container was killed"};
  } else if (facts.timed_out) {
    outcome.error = JobError{"TIMEOUT", "the job exceeded max_runtime_seconds (" +
                                            std::to_string(limits.max_runtime_seconds) +
                                            " s) and its container was killed"};
  } else {
    outcome.exit_code = facts.exit_code;
    outcome.error = facts.error;
  }
  return outcome;
}

bool exitedUnforced(const RunFacts& facts) {
  return facts.waited && facts.exit_code == 0 && !facts.error && !facts.cancelled &&
         !facts.timed_out && !facts.kill_sent;
}

bool oomMayBeUnreported(const RunFacts& facts, const docker::ContainerState& state,
                        const JobLimits& limits, bool podman) {
  return !state.oom_killed && !podman && limits.memory_mb > 0 && !facts.cancelled &&
         !facts.timed_out && !facts.kill_sent &&
         (facts.exit_code ? *facts.exit_code : state.exit_code.value_or(0)) == 137;
}

OutputFile outputFileFrom(const std::string& path, const docker::Result<std::string>& archive,
                          size_t limit, std::string* warning) {
  OutputFile file;
  file.path = path;
  warning->clear();
  if (!archive.ok()) {
    if (archive.error().http_status != 404) *warning = describeDockerError(archive.error());
    return file;
  }
  std::vector<docker::TarEntry> entries;
  std::string tar_error;
  if (docker::readTar(archive.value(), limit, &entries, &tar_error) && !entries.empty() &&
      entries.front().type == docker::TarEntry::Type::kFile) {
    file.found = true;
    file.size = entries.front().size;
    file.data = std::move(entries.front().content);
    file.truncated = file.size > file.data.size();
  }
  return file;
}

std::string describeDockerError(const docker::DockerError& error) {
  if (error.http_status == 0) return error.message;
  return error.message + " (HTTP " + std::to_string(error.http_status) + ")";
}

}  // namespace wa::jobs
