#include "jobs/docker_job_runner.h"

#include <utility>

#include "core/assert.h"

namespace wa::jobs {

DockerJobRunner::DockerJobRunner(core::EventLoop& loop, ContainerEngine& engine,
                                 ImageSupplier& images, ContainerReaper& reaper,
                                 RunnerOptions options)
    : loop_(loop), options_(std::move(options)), context_{loop, engine, images, reaper, hooks_} {}

DockerJobRunner::~DockerJobRunner() = default;

JobRun& DockerJobRunner::add(Job& job, Completion done) {
  WA_ASSERT(!runs_.contains(&job), "a job started twice");
  auto run = std::make_unique<JobRun>(
      context_, options_, job, [this, done = std::move(done)](JobRun& ended, JobOutcome outcome) {
        runEnded(ended, std::move(outcome), done);
      });
  JobRun& added = *run;
  runs_.emplace(&job, std::move(run));
  return added;
}

void DockerJobRunner::start(Job& job, Completion done) { add(job, std::move(done)).begin(); }

void DockerJobRunner::adopt(Job& job, const std::string& container_id, Completion done) {
  add(job, std::move(done)).adopt(container_id);
}

void DockerJobRunner::cancel(Job& job) {
  auto it = runs_.find(&job);
  if (it != runs_.end()) it->second->cancel();
}

void DockerJobRunner::cancelAll() {
  for (auto& [job, run] : runs_) run->cancel();
}

size_t DockerJobRunner::starting() const {
  size_t n = 0;
  for (const auto& [job, run] : runs_) n += run->phase() == JobRun::Phase::kStarting ? 1 : 0;
  return n;
}

std::vector<metrics::JobContainer> DockerJobRunner::containers() const {
  std::vector<metrics::JobContainer> containers;
  for (const auto& [job, run] : runs_) {
    if (!run->containerId().empty()) {
      containers.push_back(metrics::JobContainer{run->containerId(), run->cgroupParent()});
    }
  }
  return containers;
}

std::optional<JobRun::Phase> DockerJobRunner::phaseOf(const Job& job) const {
  auto it = runs_.find(&job);
  if (it == runs_.end()) return std::nullopt;
  return it->second->phase();
}

void DockerJobRunner::runEnded(JobRun& run, JobOutcome outcome, const Completion& done) {
  auto it = runs_.find(&run.job());
  WA_ASSERT(it != runs_.end() && it->second.get() == &run, "an unknown run ended");
  // The run is inside its own callback: it is freed after this batch, with the Ended
  // callback (and so done) it is running.
  std::unique_ptr<JobRun> ended = std::move(it->second);
  runs_.erase(it);
  Job& job = ended->job();
  const Completion& complete = done;
  loop_.deferredDelete(std::move(ended));
  complete(job, std::move(outcome));
}

}  // namespace wa::jobs
