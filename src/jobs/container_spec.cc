#include "jobs/container_spec.h"

#include <cstdio>
#include <set>
#include <string_view>

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

docker::ContainerSpec containerSpecFor(const JobSpec& job, const RunnerOptions& options,
                                       const std::string& engine_image) {
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
  if (usesVolumeWorkspace(job)) {
    // Files must be in place before start and outputs read after exit, which a tmpfs
    // (mounted at start, gone at stop) cannot do; an anonymous volume can, and goes
    // with the container.
    spec.anonymous_volumes.push_back(iso.workspace_path);
  } else {
    spec.tmpfs[iso.workspace_path] =
        "rw,nosuid,nodev,exec,size=" + std::to_string(iso.workspace_size_mb) + "m" + owner;
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
