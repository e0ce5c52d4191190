// How a job's run ended, as pure functions of what the run learnt: the outcome the
// scheduler records, the questions the run asks on its way out (is an OOM kill possibly
// unreported yet, did the container exit by itself), and a runtime.outputs file read
// from the archive the engine returned. No engine, no loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "docker/docker_types.h"
#include "jobs/job.h"
#include "jobs/job_runner.h"

namespace wa::jobs {

// What a run learnt that is not its phase.
struct RunFacts {
  bool cancelled = false;            // cancel() was called (the container is killed if it runs)
  bool timed_out = false;            // max_runtime_seconds passed (the container was killed)
  bool kill_sent = false;            // the container was killed (cancel, timeout)
  bool started = false;              // the engine started the container
  bool waited = false;               // the wait answered
  std::optional<int64_t> exit_code;  // from the wait, else from the inspect
  bool oom_killed = false;           // the inspect said State.OOMKilled
  std::optional<JobError> error;     // the first engine fault, if any
};

// The outcome: CANCELLED and TIMEOUT win over whatever the engine said; otherwise the
// exit code and the first fault (the scheduler maps a non-zero exit and an OOM kill).
JobOutcome outcomeOf(const RunFacts& facts, const JobLimits& limits);

// The wait reported exit code 0 for a container nobody killed.
bool exitedUnforced(const RunFacts& facts);

// A memory-limited container that ended by SIGKILL (137) nobody sent, on Docker, whose
// inspect does not say OOM yet: the kernel's OOM killer is the likely sender, and Docker
// records it from an event that can come after the exit, so the inspect is worth asking
// once more.
bool oomMayBeUnreported(const RunFacts& facts, const docker::ContainerState& state,
                        const JobLimits& limits, bool podman);

// One runtime.outputs file from the engine's answer to GET archive: found when the tar
// holds a regular file first, cut to limit bytes (size says how large it was). *warning
// says why an answer other than "no such path" (404) could not be used, else stays "".
OutputFile outputFileFrom(const std::string& path, const docker::Result<std::string>& archive,
                          size_t limit, std::string* warning);

// "message (HTTP status)", or the message alone for a transport error.
std::string describeDockerError(const docker::DockerError& error);

}  // namespace wa::jobs
