// DockerJobRunner: runs each job as one container through the Engine API. Each job gets a
// JobRun (job_run.h: the run's state machine), which the runner owns from start to end
// and frees after the batch in which it ended. Removals that fail at the end of a run go
// to the ContainerReaper, which the daemon's sweeps share.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "jobs/container_engine.h"
#include "jobs/container_reaper.h"
#include "jobs/image_supplier.h"
#include "jobs/job_run.h"
#include "jobs/job_runner.h"
#include "jobs/runner_options.h"
#include "metrics/host_sampler.h"

namespace wa::jobs {

class DockerJobRunner final : public JobRunner {
 public:
  DockerJobRunner(core::EventLoop& loop, ContainerEngine& engine, ImageSupplier& images,
                  ContainerReaper& reaper, RunnerOptions options);
  ~DockerJobRunner() override;

  void start(Job& job, Completion done) override;
  void cancel(Job& job) override;
  void adopt(Job& job, const std::string& container_id, Completion done) override;
  // Cancels every run (shutdown). Each still completes through its Completion.
  void cancelAll();
  // Runs in progress.
  size_t active() const { return runs_.size(); }
  // Runs whose container is being started (the start request in flight).
  size_t starting() const;
  // Options for runs that begin from now on (a reload); worker_id stays as it was.
  void setOptions(RunnerOptions options) {
    options.worker_id = options_.worker_id;
    options.podman = options_.podman;
    options_ = std::move(options);
  }
  // The engine is Podman (its /version said so): later jobs are spelled for it.
  void setPodman(bool podman) { options_.podman = podman; }
  // The containers of the runs in progress (those created so far), with their cgroup
  // parents, for the sampler.
  std::vector<metrics::JobContainer> containers() const;
  // Where runs that begin from now on read their usage; null: none (the default).
  void setAccounting(JobAccounting* accounting) { context_.accounting = accounting; }
  // The phase of job's run, if it has one (tests, diagnostics).
  std::optional<JobRun::Phase> phaseOf(const Job& job) const;
  void setOnContainerStarted(std::function<void(const Job&, std::chrono::microseconds)> fn) {
    hooks_.on_container_started = std::move(fn);
  }
  using OutputObserver = std::function<void(const Job&, docker::StreamKind, std::string_view)>;
  void setOnOutput(OutputObserver fn) { hooks_.on_output = std::move(fn); }
  void setOnContainerCreated(std::function<void(const Job&, const std::string&)> fn) {
    hooks_.on_container_created = std::move(fn);
  }
  void setOnOutcome(std::function<void(const Job&, const JobOutcome&)> fn) {
    hooks_.on_outcome = std::move(fn);
  }

 private:
  void runEnded(JobRun& run, JobOutcome outcome, const Completion& done);
  JobRun& add(Job& job, Completion done);

  core::EventLoop& loop_;
  RunnerOptions options_;
  RunHooks hooks_;
  RunContext context_;
  std::unordered_map<const Job*, std::unique_ptr<JobRun>> runs_;
};

}  // namespace wa::jobs
