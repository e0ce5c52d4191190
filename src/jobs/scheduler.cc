#include "jobs/scheduler.h"

#include <algorithm>

#include "core/log.h"

namespace wa::jobs {

Scheduler::Scheduler(core::EventLoop& loop, JobStore& store, JobRunner& runner,
                     size_t max_concurrent, size_t max_queued)
    : loop_(loop),
      store_(store),
      runner_(runner),
      max_concurrent_(max_concurrent),
      max_queued_(max_queued) {}

Scheduler::SubmitResult Scheduler::submit(std::unique_ptr<Job> job, Durable durable) {
  if (store_.find(job->spec.job_id) != nullptr) return SubmitResult::kDuplicate;
  if (queue_.size() >= max_queued_) return SubmitResult::kQueueFull;
  job->created_at_ms = loop_.clock().wallMillis();
  job->durable = journal_ == nullptr;
  Job* stored = store_.insert(std::move(job));
  queue_.push_back(stored);
  ++totals_[static_cast<size_t>(JobState::kQueued)];
  core::Log::write(
      core::LogLevel::kInfo, "job queued",
      {{"job_id", stored->spec.job_id}, {"image", stored->spec.image}, {"state", "queued"}});
  if (journal_ != nullptr) {
    // Found again by id and sequence: meanwhile the job may have been cancelled and even
    // dropped, and its id taken by another.
    journal_->accepted(*stored, [this, id = stored->spec.job_id, sequence = stored->sequence,
                                 durable = std::move(durable)](std::optional<std::string> error) {
      Job* job = store_.find(id);
      const bool same = job != nullptr && job->sequence == sequence;
      if (same && !error) {
        job->durable = true;
        schedulePump();
      } else if (same && job->state == JobState::kQueued) {
        core::Log::write(core::LogLevel::kWarning, "job withdrawn: the journal could not take it",
                         {{"job_id", id}, {"error", *error}});
        queue_.erase(std::find(queue_.begin(), queue_.end(), job));
        --totals_[static_cast<size_t>(JobState::kQueued)];
        store_.withdraw(job);
      }
      if (durable) durable(std::move(error));
    });
  }
  schedulePump();
  return SubmitResult::kAccepted;
}

void Scheduler::restoreQueued(Job& job) {
  queue_.push_back(&job);
  schedulePump();
}

void Scheduler::adopt(Job& job, const std::string& container_id) {
  if (job.state == JobState::kQueued) {
    queue_.erase(std::find(queue_.begin(), queue_.end(), &job));
    store_.transition(job, JobState::kRunning, loop_.clock().wallMillis());
  }
  ++running_;
  memory_in_use_mb_ += job.spec.limits.memory_mb;
  core::Log::write(
      core::LogLevel::kInfo, "job adopted after a restart",
      {{"job_id", job.spec.job_id}, {"container_id", container_id}, {"state", "running"}});
  runner_.adopt(job, container_id,
                [this](Job& ended, JobOutcome outcome) { finish(ended, std::move(outcome)); });
}

void Scheduler::finishRestored(Job& job, JobOutcome outcome) {
  ++running_;
  memory_in_use_mb_ += job.spec.limits.memory_mb;
  finish(job, std::move(outcome));
}

Scheduler::CancelResult Scheduler::cancel(std::string_view job_id) {
  Job* job = store_.find(job_id);
  if (job == nullptr) return CancelResult::kNotFound;
  switch (job->state) {
    case JobState::kQueued:
      queue_.erase(std::find(queue_.begin(), queue_.end(), job));
      end(*job, JobState::kFailed, JobError{"CANCELLED", "cancelled while queued"});
      return CancelResult::kCancelled;
    case JobState::kRunning:
      job->cancel_requested = true;
      runner_.cancel(*job);
      return CancelResult::kCancelRequested;
    case JobState::kFinished:
    case JobState::kFailed:
      break;
  }
  return CancelResult::kAlreadyEnded;
}

std::optional<size_t> Scheduler::queuePosition(const Job& job) const {
  if (job.state != JobState::kQueued) return std::nullopt;
  auto it = std::find(queue_.begin(), queue_.end(), &job);
  if (it == queue_.end()) return std::nullopt;
  return static_cast<size_t>(it - queue_.begin()) + 1;
}

void Scheduler::setMaxConcurrent(size_t n) {
  max_concurrent_ = n;
  schedulePump();
}

void Scheduler::setMemoryBudgetMb(int64_t mb) {
  memory_budget_mb_ = mb;
  schedulePump();
}

void Scheduler::setPaused(PauseReason reason, bool paused) {
  if (paused) {
    paused_reasons_ |= bit(reason);
  } else {
    paused_reasons_ &= static_cast<uint8_t>(~bit(reason));
    schedulePump();
  }
}

void Scheduler::schedulePump() {
  // Pumping after the current event batch batches many submissions into one pass and
  // keeps runner.start() out of the caller's stack (an HTTP handler or a completion).
  if (pump_posted_) return;
  pump_posted_ = true;
  loop_.post([this] {
    pump_posted_ = false;
    pump();
  });
}

void Scheduler::pump() {
  while (!paused() && running_ < max_concurrent_ && !queue_.empty()) {
    Job* job = queue_.front();
    // In order: a job the journal does not have yet holds those behind it (a moment).
    if (!job->durable) break;
    const int64_t memory_mb = job->spec.limits.memory_mb;
    // Strict FIFO: the head waits for its memory and holds the jobs behind it. A job over
    // the whole budget (accepted before a reload lowered it) runs alone rather than never.
    if (memory_budget_mb_ > 0 && memory_in_use_mb_ > 0 &&
        memory_in_use_mb_ + memory_mb > memory_budget_mb_) {
      if (memory_wait_logged_ != job->sequence) {
        memory_wait_logged_ = job->sequence;
        core::Log::write(core::LogLevel::kInfo, "queued job waits for memory",
                         {{"job_id", job->spec.job_id},
                          {"memory_mb", std::to_string(memory_mb)},
                          {"memory_in_use_mb", std::to_string(memory_in_use_mb_)},
                          {"memory_budget_mb", std::to_string(memory_budget_mb_)}});
      }
      break;
    }
    queue_.pop_front();
    ++running_;
    memory_in_use_mb_ += memory_mb;
    store_.transition(*job, JobState::kRunning, loop_.clock().wallMillis());
    ++totals_[static_cast<size_t>(JobState::kRunning)];
    core::Log::write(core::LogLevel::kInfo, "job started",
                     {{"job_id", job->spec.job_id}, {"state", "running"}});
    runner_.start(*job,
                  [this](Job& ended, JobOutcome outcome) { finish(ended, std::move(outcome)); });
  }
}

void Scheduler::finish(Job& job, JobOutcome outcome) {
  --running_;
  memory_in_use_mb_ -= job.spec.limits.memory_mb;
  if (outcome.error && outcome.error->engine_unreached && job.cancel_requested) {
    // The run ended before anything of the job ran, and the master asked for it to stop.
    end(job, JobState::kFailed, JobError{"CANCELLED", "cancelled before it ran"});
    schedulePump();
    return;
  }
  if (outcome.error && outcome.error->engine_unreached &&
      job.engine_requeues < kMaxEngineRequeues) {
    requeue(job, *outcome.error);
    return;
  }
  job.exit_code = outcome.exit_code;
  job.oom_killed = outcome.oom_killed;
  if (outcome.error) {
    end(job, JobState::kFailed, std::move(outcome.error));
  } else if (outcome.oom_killed && outcome.exit_code.value_or(-1) != 0) {
    end(job, JobState::kFailed,
        JobError{"OOM_KILLED", "the container ran out of memory (limit " +
                                   std::to_string(job.spec.limits.memory_mb) +
                                   " MB) and was killed"});
  } else if (outcome.exit_code == 0) {
    end(job, JobState::kFinished, std::nullopt);
  } else if (outcome.exit_code) {
    end(job, JobState::kFailed,
        JobError{"NON_ZERO_EXIT",
                 "the container exited with code " + std::to_string(*outcome.exit_code)});
  } else {
    end(job, JobState::kFailed,
        JobError{"DOCKER_ERROR", "the container ended without an exit code"});
  }
  schedulePump();
}

// The job never got a container: it takes its place in the queue again, among the
// queued jobs by submission order (ahead of every job submitted after it), with nothing
// left of the attempt in its record. It left the queue when it started and comes back
// once, so it is neither duplicated nor started while it waits.
void Scheduler::requeue(Job& job, const JobError& why) {
  ++job.engine_requeues;
  job.started_at_ms.reset();
  job.exit_code.reset();
  job.oom_killed = false;
  job.error.reset();
  job.container_id.clear();
  job.image_id.clear();
  job.image_ref.clear();
  job.image_pulled = false;
  job.image_built = false;
  job.stdout_output = CapturedOutput{};
  job.stderr_output = CapturedOutput{};
  job.output_files.clear();
  job.usage.reset();
  job.run_settings = RunSettings{};
  store_.transition(job, JobState::kQueued, loop_.clock().wallMillis());
  auto later = std::find_if(queue_.begin(), queue_.end(),
                            [&job](const Job* queued) { return queued->sequence > job.sequence; });
  queue_.insert(later, &job);
  if (journal_ != nullptr) journal_->requeued(job);
  core::Log::write(core::LogLevel::kInfo, "job queued again: the docker engine was away",
                   {{"job_id", job.spec.job_id},
                    {"attempt", std::to_string(job.engine_requeues)},
                    {"error", why.message},
                    {"state", "queued"}});
  if (on_requeued_) on_requeued_(job);
  schedulePump();
}

void Scheduler::end(Job& job, JobState state, std::optional<JobError> error) {
  job.error = std::move(error);
  const std::string& job_id = job.spec.job_id;
  ++totals_[static_cast<size_t>(state)];
  core::LogFields fields = {{"job_id", job_id}};
  if (job.exit_code) fields.emplace_back("exit_code", std::to_string(*job.exit_code));
  if (job.error) {
    fields.emplace_back("code", job.error->code);
    fields.emplace_back("message", job.error->message);
  }
  fields.emplace_back("state", stateName(state));
  core::Log::write(core::LogLevel::kInfo, job.error ? "job failed" : "job finished", fields);
  const int64_t now = loop_.clock().wallMillis();
  store_.transition(job, state, now);
  if (journal_ != nullptr) journal_->ended(job);
  if (on_job_ended_) on_job_ended_(job);
  // May drop this very job (a count cap of 0): nothing may touch it after this line.
  store_.prune(now);
}

}  // namespace wa::jobs
