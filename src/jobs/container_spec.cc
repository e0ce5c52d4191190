#include "jobs/container_spec.h"

#include <cstddef>
#include <cstdio>
#include <set>
#include <string_view>

#include "core/assert.h"
#include "docker/tar_archive.h"

namespace wa::jobs {

RunSettings runSettingsFor(const JobSpec& spec, const RunnerOptions& options) {
  const IsolationOptions& iso = options.isolation;
  RunSettings settings;
  settings.network = spec.network ? "bridge" : "none";
  settings.pids_limit = iso.pids_limit;
  settings.read_only_rootfs = iso.read_only_rootfs;
  settings.user = iso.user;
  settings.container_runtime = iso.container_runtime;
  settings.workspace = iso.workspace_path;
  return settings;
}

std::pair<uint32_t, uint32_t> workspaceOwner(const std::string& user) {
  unsigned uid = 0;
  unsigned gid = 0;
  if (std::sscanf(user.c_str(), "%u:%u", &uid, &gid) != 2) return {0, 0};
  return {uid, gid};
}

bool usesVolumeWorkspace(const JobSpec& spec) {
  return !spec.files.empty() || !spec.outputs.empty();
}

namespace {
// The keeper runs one process that sleeps, but its limits hold from before that process:
// the runtime's own init (runc init, a Go program of several threads) runs in the
// container's cgroup until it execs it. One keeper start in a soak of 200 keepers failed
// with the engine's "cannot start a stopped process" (its init gone) under a limit of 4
// tasks and 8 MiB; 80 starts under those limits on a loaded machine did not fail again, so
// the cause is not shown, but such tight limits are one: room for that init, 32 tasks and
// 16 MiB. The tmpfs pages count against whoever writes them (the job, or the engine when
// it extracts runtime.files), not against the keeper.
constexpr int64_t kKeeperMemoryBytes = int64_t{16} * 1024 * 1024;
constexpr int64_t kKeeperPidsLimit = 32;

// Mount options of a workspace tmpfs: exec (jobs compile and run programs there), no
// set-uid or device files, its size, and its owner (a tmpfs takes the mode of the
// directory it covers, so the owner is what lets the job's user write).
std::string workspaceMountOptions(const RunnerOptions& options, bool volume) {
  const IsolationOptions& iso = options.isolation;
  std::string text = "nosuid,nodev,exec,size=" + std::to_string(iso.workspace_size_mb) + "m";
  const auto [uid, gid] = workspaceOwner(iso.user);
  if (options.podman && !volume) return "rw," + text + ",U";
  return (volume ? "" : "rw,") + text + ",uid=" + std::to_string(uid) +
         ",gid=" + std::to_string(gid);
}
}  // namespace

extern const unsigned char kKeeperPause[];
extern const std::size_t kKeeperPause_size;

BuildSpec keeperImageBuild() {
  BuildSpec build;
  build.dockerfile =
      "# worker-agent's workspace keeper (see worker-agent(8))\n"
      "FROM scratch\n"
      "COPY pause /pause\n"
      "ENTRYPOINT [\"/pause\"]\n";
  build.context.push_back(JobFile{
      "pause", std::string(reinterpret_cast<const char*>(kKeeperPause), kKeeperPause_size), 0755});
  return build;
}

docker::ContainerSpec keeperSpecFor(const JobSpec& job, const RunnerOptions& options,
                                    const std::string& keeper_image) {
  docker::ContainerSpec spec;
  spec.image = keeper_image;
  spec.labels[kWorkerLabel] = options.worker_id;
  spec.labels[kKeeperLabel] = job.job_id;
  spec.network_mode = "none";
  spec.open_stdin = false;
  spec.memory_bytes = kKeeperMemoryBytes;
  spec.pids_limit = kKeeperPidsLimit;
  spec.cap_drop_all = true;
  spec.no_new_privileges = true;
  spec.read_only_rootfs = true;
  spec.user = "65534:65534";
  spec.log_driver = options.podman ? "k8s-file" : "none";
  spec.anonymous_volumes.push_back(options.isolation.workspace_path);
  spec.anonymous_volume_options = {
      {"type", "tmpfs"}, {"device", "tmpfs"}, {"o", workspaceMountOptions(options, true)}};
  return spec;
}

docker::ContainerSpec containerSpecFor(const JobSpec& job, const RunnerOptions& options,
                                       const std::string& engine_image,
                                       const std::string& keeper_id) {
  const IsolationOptions& iso = options.isolation;
  docker::ContainerSpec spec;
  spec.image = engine_image;
  spec.cmd = job.cmd;
  for (const auto& [key, value] : job.env) {
    std::string entry = key;
    entry += '=';
    entry += value;
    spec.env.push_back(std::move(entry));
  }
  // Set last, so that they win over a runtime.env entry of the same name.
  spec.env.push_back("JOB_ID=" + job.job_id);
  spec.env.push_back("TASK_TYPE=" + job.task_type);
  spec.labels[kWorkerLabel] = options.worker_id;
  spec.labels[kJobLabel] = job.job_id;
  spec.memory_bytes = job.limits.memory_mb * 1024 * 1024;
  spec.nano_cpus = job.limits.nano_cpus;
  spec.network_mode = job.network ? "bridge" : "none";
  spec.open_stdin = true;
  spec.pids_limit = iso.pids_limit;
  spec.cap_drop_all = true;
  spec.no_new_privileges = true;
  spec.read_only_rootfs = iso.read_only_rootfs;
  spec.user = iso.user;
  spec.working_dir = iso.workspace_path;
  spec.runtime = iso.container_runtime;
  // The engine keeps the output too, bounded: on Podman for what its attach stream loses
  // (recoverFromLog; conmon starts the file afresh past max-size), on Docker for what a
  // job writes while the worker is away (a restart: the journal keeps what the worker had,
  // the log gives the rest). Docker's local driver keeps two files of max-size.
  spec.log_max_size = std::to_string(jobLogMaxBytes(options.output_limit_bytes));
  if (options.podman) {
    spec.log_driver = "k8s-file";
  } else {
    spec.log_driver = "local";
    spec.log_max_file = "2";
  }
  // exec: jobs compile and run programs in both places; nosuid and nodev stay.
  // A tmpfs takes the mode of the directory it covers (mode= is not applied), so the
  // job's user owns its writable places.
  const auto [uid, gid] = workspaceOwner(iso.user);
  const std::string owner = options.podman
                                ? std::string(",U")
                                : ",uid=" + std::to_string(uid) + ",gid=" + std::to_string(gid);
  spec.tmpfs["/tmp"] = "rw,nosuid,nodev,exec,size=" + std::to_string(iso.tmp_size_mb) + "m" + owner;
  WA_ASSERT(usesVolumeWorkspace(job) == !keeper_id.empty(),
            "a keeper for a volume workspace, and only for one");
  if (usesVolumeWorkspace(job)) {
    // Files must be in place before start and outputs read after exit, which a tmpfs
    // (mounted at start, gone at stop) cannot do: the keeper's volume can.
    spec.volumes_from.push_back(keeper_id);
  } else {
    spec.tmpfs[iso.workspace_path] = workspaceMountOptions(options, false);
  }
  return spec;
}

std::string workspaceArchive(const JobSpec& spec, const std::string& user) {
  // The workspace root first: it makes the volume the job user's own.
  const auto [uid, gid] = workspaceOwner(user);
  docker::TarWriter tar;
  tar.addExtractionRoot(0755, uid, gid);
  // Parent directories too, or the engine makes them root's and the job cannot write there.
  std::set<std::string_view> directories;
  for (const JobFile& file : spec.files) {
    for (size_t slash = file.path.find('/'); slash != std::string::npos;
         slash = file.path.find('/', slash + 1)) {
      directories.insert(std::string_view(file.path).substr(0, slash));
    }
  }
  for (std::string_view directory : directories) tar.addDirectory(directory, 0755, uid, gid);
  for (const JobFile& file : spec.files) tar.addFile(file.path, file.content, file.mode, uid, gid);
  return tar.finish();
}

}  // namespace wa::jobs
