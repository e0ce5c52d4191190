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

// A job with runtime.files or runtime.outputs gets its workspace as a volume held by a
// keeper container (files go in before start, outputs come out after exit); any other a
// tmpfs of the job's own container. Both are tmpfs of workspace_size_mb.
bool usesVolumeWorkspace(const JobSpec& spec);

// The workspace keeper of a volume workspace. The engine mounts a tmpfs-backed local
// volume only while a container that uses it runs, or for the length of one archive
// request: files put into a created container's tmpfs volume would be gone before it
// starts. The keeper is a container that does nothing but run, holding the volume (an
// anonymous local volume of type tmpfs, size workspace_size_mb) mounted from before the
// files go in until the outputs have come out; the job's container mounts it through
// VolumesFrom. Removing the keeper (with v=1) removes the volume.
//
// It carries kWorkerLabel and kKeeperLabel (the job's id), never kJobLabel: a job's
// label names its one container. Built FROM scratch from the embedded keeper_pause
// program (keeperImageBuild), with no network, capabilities or writable root.
inline constexpr const char* kKeeperLabel = "worker-agent.workspace_of";
docker::ContainerSpec keeperSpecFor(const JobSpec& spec, const RunnerOptions& options,
                                    const std::string& keeper_image);
// The keeper image's build, supplied like a job's (one build, then found by its tag).
BuildSpec keeperImageBuild();

// The container create request: the job's command and environment (JOB_ID and TASK_TYPE
// last, so that they win), its limits, the labels that tie the container to this worker
// and job, and every isolation setting. engine_image is what the supplier made available;
// keeper_id the workspace keeper's container, for (and only for) a volume workspace.
docker::ContainerSpec containerSpecFor(const JobSpec& spec, const RunnerOptions& options,
                                       const std::string& engine_image,
                                       const std::string& keeper_id);

// The tar that places spec.files in the workspace: the workspace root and every parent
// directory owned by the job's user, then the files themselves.
std::string workspaceArchive(const JobSpec& spec, const std::string& user);

}  // namespace wa::jobs
