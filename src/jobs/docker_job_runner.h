// DockerJobRunner: runs each job as one Docker container through the Engine API:
// create -> attach (stdin, stdout, stderr) -> start -> stdin = the job JSON, closed ->
// wait, with the runtime limit on a timer -> inspect (exit code, OOM) -> remove.
// Every path, including failures and cancellation, ends by removing the container.
#pragma once

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
#include "jobs/job_runner.h"

namespace wa::jobs {

struct RunnerOptions {
  std::string worker_id;                // labels every container (orphan cleanup finds them by it)
  size_t output_limit_bytes = 1 << 20;  // per stream
  // After the container stopped, how long to wait for the rest of its output.
  core::Millis output_drain_grace{2000};
  // After a kill, how long to wait for the engine to report the container stopped.
  core::Millis kill_grace{15000};
  // How often removals that failed (engine down) are tried again.
  core::Millis removal_retry_interval{5000};
};

// Labels put on every job container.
inline constexpr const char* kWorkerLabel = "worker-agent.worker_id";
inline constexpr const char* kJobLabel = "worker-agent.job_id";

class DockerJobRunner final : public JobRunner {
 public:
  DockerJobRunner(core::EventLoop& loop, docker::DockerClient& docker, RunnerOptions options);
  ~DockerJobRunner() override;

  void start(Job& job, Completion done) override;
  void cancel(Job& job) override;
  // Cancels every run (shutdown). Each still completes through its Completion.
  void cancelAll();
  // Runs in progress.
  size_t active() const { return runs_.size(); }
  // Containers whose removal failed and is being retried.
  size_t pendingRemovals() const { return pending_removals_.size(); }
  // Output cap per stream for runs that begin from now on (a reload).
  void setOutputLimit(size_t bytes) { options_.output_limit_bytes = bytes; }
  // Ids of the containers of the runs in progress (those created so far).
  std::vector<std::string> containerIds() const;
  // Called once per job whose container started, with the time from the create request
  // to the engine's answer to start (metrics).
  void setOnContainerStarted(std::function<void(const Job&, std::chrono::microseconds)> fn) {
    on_container_started_ = std::move(fn);
  }

 private:
  class Run;
  friend class Run;
  void runEnded(Run* run);
  void removeLater(const std::string& container_id);
  void retryRemovals();

  core::EventLoop& loop_;
  docker::DockerClient& docker_;
  RunnerOptions options_;
  std::unordered_map<Job*, std::shared_ptr<Run>> runs_;
  std::unordered_set<std::string> pending_removals_;
  std::unique_ptr<core::Timer> removal_timer_;
  std::function<void(const Job&, std::chrono::microseconds)> on_container_started_;
};

}  // namespace wa::jobs
