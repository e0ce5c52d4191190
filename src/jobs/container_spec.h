// What a job's container is made of, as pure functions of the job and the runner's
// options: the create request, the isolation recorded in the job's record, and the
// archive that places runtime.files in the workspace. No engine, no loop.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "docker/docker_types.h"
#include "jobs/job.h"
#include "jobs/runner_options.h"

namespace wa::jobs {

// The isolation the run will have, for the job's record.
RunSettings runSettingsFor(const JobSpec& spec, const RunnerOptions& options);

// The owner of the workspace and of the files put there: the job's user ("uid:gid"), or
// root when the job runs as the image's user.
std::pair<uint32_t, uint32_t> workspaceOwner(const std::string& user);

// A job with runtime.files or runtime.outputs gets its workspace as an anonymous volume
// (files go in before start, outputs come out after exit); any other a tmpfs.
bool usesVolumeWorkspace(const JobSpec& spec);

// The container create request: the job's command and environment (JOB_ID and TASK_TYPE
// last, so that they win), its limits, the labels that tie the container to this worker
// and job, and every isolation setting. engine_image is what the supplier made available.
docker::ContainerSpec containerSpecFor(const JobSpec& spec, const RunnerOptions& options,
                                       const std::string& engine_image);

// The tar that places spec.files in the workspace: the workspace root and every parent
// directory owned by the job's user, then the files themselves.
std::string workspaceArchive(const JobSpec& spec, const std::string& user);

}  // namespace wa::jobs
