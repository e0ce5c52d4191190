// RunnerOptions: how the runner confines and runs every job container (documented in
// worker-agent.yaml(5)), fixed per run when it begins so that a reload changes later jobs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/clock.h"

namespace wa::jobs {

// Capabilities are always all dropped and no-new-privileges always set; these are the
// settings.
struct IsolationOptions {
  int64_t pids_limit = 256;  // 0: none
  bool read_only_rootfs = true;
  int64_t tmp_size_mb = 64;                   // the writable tmpfs at /tmp
  std::string workspace_path = "/workspace";  // also the working directory
  int64_t workspace_size_mb = 256;            // every workspace's tmpfs size (container_spec.h)
  std::string user = "65534:65534";           // "uid:gid"; "": the image's user
  std::string container_runtime;              // "": the engine's default
};

struct RunnerOptions {
  std::string worker_id;                // labels every container (orphan cleanup finds them by it)
  size_t output_limit_bytes = 1 << 20;  // per stream
  size_t output_file_limit_bytes = 1 << 20;  // per runtime.outputs file
  IsolationOptions isolation;
  // After the container stopped, how long its output stream may stay silent before the
  // rest of the output is given up (each chunk that arrives starts the wait again).
  core::Millis output_drain_grace{2000};
  // After a kill, how long to wait for the engine to report the container stopped.
  core::Millis kill_grace{15000};
  // How often removals that failed (engine down) are tried again.
  core::Millis removal_retry_interval{5000};
  // Podman 4.3 refuses the tmpfs options uid= and gid= ("unknown mount option") and has
  // its own, U: the mount belongs to the container's user. Set from the engine's /version.
  bool podman = false;
};

// The log size cap of a job container (LogConfig max-size), for output_limit_bytes per
// stream: room for both streams at the cap with the log driver's per-line overhead (k8s-file
// on Podman, local on Docker), 8 MiB at least. A job whose log stays under it (every job
// whose output fits the cap, and many more) has all of it in the log from its first byte.
inline size_t jobLogMaxBytes(size_t output_limit_bytes) {
  return std::max<size_t>(size_t{8} << 20, 8 * output_limit_bytes);
}

// Labels put on every job container.
inline constexpr const char* kWorkerLabel = "worker-agent.worker_id";
inline constexpr const char* kJobLabel = "worker-agent.job_id";

}  // namespace wa::jobs
