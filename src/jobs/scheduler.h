// Scheduler: FIFO admission of queued jobs into at most max_concurrent_jobs runs, whose
// memory limits together stay within the memory budget. Event-driven: a job starts as
// soon as a slot and its memory free up (after the current event batch), never by
// polling. A job leaves the queue exactly once, so it can never start twice.
//
// Admission is strictly in order: a job at the head of the queue that does not fit the
// memory left waits for it, and every job behind it waits too, even one that would fit.
// That keeps a large job from being passed over for ever by a stream of small ones.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/event_loop.h"
#include "jobs/job_journal.h"
#include "jobs/job_runner.h"
#include "jobs/job_store.h"

namespace wa::jobs {

class Scheduler {
 public:
  Scheduler(core::EventLoop& loop, JobStore& store, JobRunner& runner, size_t max_concurrent,
            size_t max_queued);

  enum class SubmitResult { kAccepted, kDuplicate, kQueueFull };
  // Told when an accepted job is on disk (nullopt) or could not be put there (why: the
  // job was withdrawn as if never accepted). Runs on the loop.
  using Durable = std::function<void(std::optional<std::string> error)>;
  // Stores job as queued and schedules it. With a journal, the job is written there and
  // may start only once it is on disk; durable then says how that went (without one,
  // durable is not called).
  SubmitResult submit(std::unique_ptr<Job> job, Durable durable = nullptr);
  // The journal every change of a job's state is written to; nullptr: none.
  void setJournal(JobJournal* journal) { journal_ = journal; }
  bool journaled() const { return journal_ != nullptr; }

  // Start-up, from the journal (the store already holds the jobs): job waits in the queue
  // again, behind the ones restored before it.
  void restoreQueued(Job& job);
  // Start-up: a job that was running when the daemon stopped, its container found again:
  // the runner follows it, and it holds a slot until it ends. A job still queued (the
  // journal had not yet recorded its container when the daemon stopped) leaves the queue.
  void adopt(Job& job, const std::string& container_id);
  // Start-up: a job that was running ends now with outcome (its run had it before the
  // daemon stopped, or its container is gone).
  void finishRestored(Job& job, JobOutcome outcome);

  enum class CancelResult { kCancelled, kCancelRequested, kAlreadyEnded, kNotFound };
  // Queued: failed/CANCELLED at once. Running: the runner is asked to stop it.
  CancelResult cancel(std::string_view job_id);

  // 1-based position among queued jobs; nullopt if job is not queued.
  std::optional<size_t> queuePosition(const Job& job) const;
  size_t running() const { return running_; }
  size_t queued() const { return store_.count(JobState::kQueued); }
  size_t maxConcurrent() const { return max_concurrent_; }
  // The memory the running jobs' limits add up to, in MiB (runtime.limits.memory_mb).
  int64_t memoryInUseMb() const { return memory_in_use_mb_; }
  // The memory budget in MiB: the running jobs' limits plus the next one's must fit it.
  // 0: no budget. A job whose limit alone is over the budget (it was queued before a
  // reload lowered it) starts only when no other job runs.
  int64_t memoryBudgetMb() const { return memory_budget_mb_; }
  void setMemoryBudgetMb(int64_t mb);
  // Jobs that reached state since this scheduler was built (terminal states and kQueued,
  // which counts every accepted submission); unlike the store, never pruned.
  uint64_t totalEntered(JobState state) const { return totals_[static_cast<size_t>(state)]; }
  void setMaxConcurrent(size_t n);
  // Applies to later submissions; jobs already queued stay queued.
  void setMaxQueued(size_t n) { max_queued_ = n; }

  // Why queued jobs may not start now. Each reason is set and cleared on its own, and no
  // job starts while any is set; jobs already running are not touched.
  enum class PauseReason : uint8_t {
    kStartup,            // the start-up sweep of old containers has not answered yet
    kShutdown,           // shutting down: queued jobs never start
    kEngineUnreachable,  // the Docker engine does not answer: starting would only fail
    kEngineCheck,        // a job found the engine away; held until it is asked again
    // The engine's /info or /version has not answered since it was reached, or /info said
    // that the engine cannot enforce job limits (EngineStatus::limits_unenforced).
    kEngineLimits,
  };
  void setPaused(PauseReason reason, bool paused);
  bool paused() const { return paused_reasons_ != 0; }
  bool paused(PauseReason reason) const { return (paused_reasons_ & bit(reason)) != 0; }
  // Called whenever a job reaches a terminal state (for logs and metrics).
  void setOnJobEnded(std::function<void(const Job&)> fn) { on_job_ended_ = std::move(fn); }
  // Called when a started job found the engine away before anything of it existed there
  // (JobError::engine_unreached) and went back to the queue; the callback typically holds
  // the queue (kEngineCheck) until the engine has been asked whether it is there.
  void setOnRequeued(std::function<void(const Job&)> fn) { on_requeued_ = std::move(fn); }
  // How many times one job goes back to the queue that way before its error ends it: an
  // engine that answers pings but breaks every connection of a job's must not keep the
  // job going round for ever.
  static constexpr uint32_t kMaxEngineRequeues = 5;

 private:
  static uint8_t bit(PauseReason reason) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(reason));
  }
  void schedulePump();
  void pump();
  void finish(Job& job, JobOutcome outcome);
  void requeue(Job& job, const JobError& why);
  void end(Job& job, JobState state, std::optional<JobError> error);

  core::EventLoop& loop_;
  JobStore& store_;
  JobRunner& runner_;
  size_t max_concurrent_;
  size_t max_queued_;
  size_t running_ = 0;
  int64_t memory_budget_mb_ = 0;
  int64_t memory_in_use_mb_ = 0;
  // The job last logged as waiting for memory, so that a wait is said once, not at
  // every pump.
  uint64_t memory_wait_logged_ = 0;
  uint8_t paused_reasons_ = 0;  // bit(reason) for each reason set
  bool pump_posted_ = false;
  // FIFO of queued jobs. A cancelled job is erased from it at once: once terminal it
  // may be pruned from the store, so no pointer to it may stay here.
  std::deque<Job*> queue_;
  std::function<void(const Job&)> on_job_ended_;
  std::function<void(const Job&)> on_requeued_;
  JobJournal* journal_ = nullptr;
  std::array<uint64_t, 4> totals_{};
};

}  // namespace wa::jobs
