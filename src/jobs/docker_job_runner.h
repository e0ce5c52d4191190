// DockerJobRunner: runs each job as one Docker container through the Engine API:
// image (pull or build, ImageSupplier) -> create -> upload runtime.files into the
// workspace -> attach (stdin, stdout, stderr) -> start -> stdin = the job JSON, closed ->
// wait, with the runtime limit on a timer -> inspect (exit code, OOM, image id) -> collect
// runtime.outputs -> remove. Every path, including failures and cancellation, ends by
// removing the container. If create finds the supplied image gone (the supplier may have
// vouched for it from memory), the image is supplied again, once.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/event_loop.h"
#include "docker/docker_client.h"
#include "jobs/image_supplier.h"
#include "jobs/job_runner.h"

namespace wa::jobs {

// How every job container is confined (documented in worker-agent.yaml(5)). Capabilities
// are always all dropped and no-new-privileges always set; these are the settings.
struct IsolationOptions {
  int64_t pids_limit = 256;  // 0: none
  bool read_only_rootfs = true;
  int64_t tmp_size_mb = 64;                   // the writable tmpfs at /tmp
  std::string workspace_path = "/workspace";  // also the working directory
  int64_t workspace_size_mb = 256;            // tmpfs size when the job brings no files nor outputs
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

// The log size cap of a job container on Podman (LogConfig max-size), for output_limit_bytes
// per stream: room for both streams at the cap with k8s-file's per-line overhead, 8 MiB at least.
inline size_t podmanLogMaxBytes(size_t output_limit_bytes) {
  return std::max<size_t>(size_t{8} << 20, 8 * output_limit_bytes);
}

// Labels put on every job container.
inline constexpr const char* kWorkerLabel = "worker-agent.worker_id";
inline constexpr const char* kJobLabel = "worker-agent.job_id";

class DockerJobRunner final : public JobRunner {
 public:
  DockerJobRunner(core::EventLoop& loop, docker::DockerClient& docker, ImageSupplier& images,
                  RunnerOptions options);
  ~DockerJobRunner() override;

  void start(Job& job, Completion done) override;
  void cancel(Job& job) override;
  // Cancels every run (shutdown). Each still completes through its Completion.
  void cancelAll();
  // Runs in progress.
  size_t active() const { return runs_.size(); }
  // Containers whose removal failed and is being retried.
  size_t pendingRemovals() const { return pending_removals_.size(); }
  // Tries those removals now rather than at the next retry (the engine is back).
  void retryRemovalsNow() {
    if (!pending_removals_.empty()) retryRemovals();
  }
  // Options for runs that begin from now on (a reload); worker_id stays as it was.
  void setOptions(RunnerOptions options) {
    options.worker_id = options_.worker_id;
    options.podman = options_.podman;
    options_ = std::move(options);
  }
  // The engine is Podman (its /version said so): later jobs are spelled for it.
  void setPodman(bool podman) { options_.podman = podman; }
  // Ids of the containers of the runs in progress (those created so far).
  std::vector<std::string> containerIds() const;
  // Called once per job whose container started, with the time from the create request
  // to the engine's answer to start (metrics).
  void setOnContainerStarted(std::function<void(const Job&, std::chrono::microseconds)> fn) {
    on_container_started_ = std::move(fn);
  }
  // Called with every chunk of output as it is captured (only the bytes kept under the cap).
  using OutputObserver = std::function<void(const Job&, docker::StreamKind, std::string_view)>;
  void setOnOutput(OutputObserver fn) { on_output_ = std::move(fn); }

 private:
  class Run;
  friend class Run;
  void runEnded(Run* run);
  void removeLater(const std::string& container_id);
  void retryRemovals();

  core::EventLoop& loop_;
  docker::DockerClient& docker_;
  ImageSupplier& images_;
  RunnerOptions options_;
  std::unordered_map<Job*, std::shared_ptr<Run>> runs_;
  std::unordered_set<std::string> pending_removals_;
  // Of those, the ones whose removal request has not answered yet (not sent again).
  std::unordered_set<std::string> removals_in_flight_;
  std::unique_ptr<core::Timer> removal_timer_;
  std::function<void(const Job&, std::chrono::microseconds)> on_container_started_;
  OutputObserver on_output_;
};

}  // namespace wa::jobs
