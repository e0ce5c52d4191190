#include "jobs/scheduler.h"

#include <gtest/gtest.h>

#include "fake_runner.h"

namespace wa::jobs {
namespace {

std::unique_ptr<Job> queuedJob(const std::string& id) {
  auto job = std::make_unique<Job>();
  job->spec.job_id = id;
  job->spec.image = "img:1";
  return job;
}

class SchedulerTest : public ::testing::Test {
 protected:
  core::ManualClock clock;
  core::EventLoop loop{clock};
  JobStore store{RetentionPolicy{}};
  testing::FakeRunner runner{loop};
  Scheduler scheduler{loop, store, runner, 2, 6};

  // Work posted by posted work runs in the next pass: a few passes settle any chain here.
  void settle() {
    for (int pass = 0; pass < 4; ++pass) loop.runOnce(0);
  }
};

TEST_F(SchedulerTest, StartsInFifoOrderUpToTheCap) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(scheduler.submit(queuedJob("j" + std::to_string(i))),
              Scheduler::SubmitResult::kAccepted);
  }
  EXPECT_TRUE(runner.started.empty());  // started after the current batch, not inside submit
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"j0", "j1"}));
  EXPECT_EQ(scheduler.running(), 2u);
  EXPECT_EQ(scheduler.queued(), 4u);
  EXPECT_EQ(scheduler.queuePosition(*store.find("j2")), 1u);
  EXPECT_EQ(scheduler.queuePosition(*store.find("j5")), 4u);

  runner.finish("j1", JobOutcome{0, false, std::nullopt});
  settle();
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"j0", "j1", "j2"}));
  EXPECT_EQ(store.find("j1")->state, JobState::kFinished);
  while (!runner.running.empty()) {
    runner.finish(runner.running.front().job->spec.job_id, JobOutcome{0, false, std::nullopt});
    settle();
    settle();
  }
  EXPECT_EQ(runner.started, (std::vector<std::string>{"j0", "j1", "j2", "j3", "j4", "j5"}));
  EXPECT_EQ(runner.peak, 2u);
  EXPECT_EQ(store.count(JobState::kFinished), 6u);
}

TEST_F(SchedulerTest, TotalsSinceStartOutliveRetention) {
  JobStore keep_none{RetentionPolicy{0, 0}};
  Scheduler s{loop, keep_none, runner, 2, 6};
  for (const char* id : {"a", "b", "c"}) s.submit(queuedJob(id));
  settle();
  runner.finish("a", JobOutcome{0, false, std::nullopt});
  runner.finish("b", JobOutcome{3, false, std::nullopt});
  settle();
  // The fake runner ends a cancelled run at once, as CANCELLED.
  EXPECT_EQ(s.cancel("c"), Scheduler::CancelResult::kCancelRequested);
  settle();
  EXPECT_EQ(keep_none.size(), 0u) << "every ended job was pruned";
  EXPECT_EQ(s.totalEntered(JobState::kQueued), 3u);
  EXPECT_EQ(s.totalEntered(JobState::kRunning), 3u);
  EXPECT_EQ(s.totalEntered(JobState::kFinished), 1u);
  EXPECT_EQ(s.totalEntered(JobState::kFailed), 2u);
}

TEST_F(SchedulerTest, NeverStartsAJobTwice) {
  for (int i = 0; i < 5; ++i) scheduler.submit(queuedJob("j" + std::to_string(i)));
  for (int round = 0; round < 20; ++round) {
    settle();
    if (!runner.running.empty()) {
      runner.finish(runner.running.back().job->spec.job_id, JobOutcome{0, false, std::nullopt});
    }
    scheduler.setMaxConcurrent(1 + round % 3);
  }
  std::vector<std::string> sorted = runner.started;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(sorted.size(), 5u);
}

TEST_F(SchedulerTest, DuplicateAndFullQueueAreRefused) {
  ASSERT_EQ(scheduler.submit(queuedJob("a")), Scheduler::SubmitResult::kAccepted);
  EXPECT_EQ(scheduler.submit(queuedJob("a")), Scheduler::SubmitResult::kDuplicate);
  for (int i = 0; i < 5; ++i) scheduler.submit(queuedJob("q" + std::to_string(i)));
  EXPECT_EQ(scheduler.submit(queuedJob("over")), Scheduler::SubmitResult::kQueueFull);
  EXPECT_EQ(store.find("over"), nullptr);
}

TEST_F(SchedulerTest, CancelQueuedEndsAtOnceAndRunningAsksTheRunner) {
  scheduler.submit(queuedJob("r1"));
  scheduler.submit(queuedJob("r2"));
  scheduler.submit(queuedJob("q"));
  settle();
  EXPECT_EQ(scheduler.cancel("q"), Scheduler::CancelResult::kCancelled);
  EXPECT_EQ(store.find("q")->state, JobState::kFailed);
  EXPECT_EQ(store.find("q")->error->code, "CANCELLED");
  EXPECT_EQ(scheduler.cancel("r1"), Scheduler::CancelResult::kCancelRequested);
  settle();
  EXPECT_EQ(store.find("r1")->state, JobState::kFailed);
  EXPECT_EQ(scheduler.cancel("r1"), Scheduler::CancelResult::kAlreadyEnded);
  EXPECT_EQ(scheduler.cancel("nope"), Scheduler::CancelResult::kNotFound);
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"r1", "r2"}));  // q never starts
}

TEST_F(SchedulerTest, OutcomesMapToStatesAndCodes) {
  for (const char* id : {"ok", "exit3", "oom"}) scheduler.submit(queuedJob(id));
  scheduler.setMaxConcurrent(3);
  settle();
  runner.finish("ok", JobOutcome{0, false, std::nullopt});
  runner.finish("exit3", JobOutcome{3, false, std::nullopt});
  runner.finish("oom", JobOutcome{137, true, std::nullopt});
  settle();
  EXPECT_EQ(store.find("ok")->state, JobState::kFinished);
  EXPECT_EQ(store.find("exit3")->error->code, "NON_ZERO_EXIT");
  EXPECT_EQ(store.find("exit3")->exit_code, 3);
  EXPECT_EQ(store.find("oom")->error->code, "OOM_KILLED");
  EXPECT_TRUE(store.find("oom")->oom_killed);
}

TEST_F(SchedulerTest, PausedSchedulerStartsNothing) {
  scheduler.setPaused(Scheduler::PauseReason::kStartup, true);
  scheduler.submit(queuedJob("a"));
  settle();
  EXPECT_TRUE(runner.started.empty());
  scheduler.setPaused(Scheduler::PauseReason::kStartup, false);
  settle();
  EXPECT_EQ(runner.started.size(), 1u);
}

TEST_F(SchedulerTest, PauseReasonsAreIndependent) {
  using Reason = Scheduler::PauseReason;
  scheduler.setPaused(Reason::kStartup, true);
  scheduler.setPaused(Reason::kEngineUnreachable, true);
  for (const char* id : {"a", "b", "c"}) scheduler.submit(queuedJob(id));
  settle();
  // The start-up sweep is over, but the engine is still away: the jobs wait, queued.
  scheduler.setPaused(Reason::kStartup, false);
  settle();
  EXPECT_TRUE(runner.started.empty());
  EXPECT_TRUE(scheduler.paused());
  EXPECT_FALSE(scheduler.paused(Reason::kStartup));
  EXPECT_EQ(scheduler.queued(), 3u);
  EXPECT_EQ(store.find("a")->state, JobState::kQueued);
  // Clearing a reason twice, or one never set, changes nothing.
  scheduler.setPaused(Reason::kStartup, false);
  scheduler.setPaused(Reason::kShutdown, false);
  settle();
  EXPECT_TRUE(runner.started.empty());
  // The engine is back: the queue runs in order, up to the cap.
  scheduler.setPaused(Reason::kEngineUnreachable, false);
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a", "b"}));
  // The engine goes away again: running jobs go on, a freed slot is not refilled.
  scheduler.setPaused(Reason::kEngineUnreachable, true);
  runner.finish("a", JobOutcome{0, false, std::nullopt});
  settle();
  settle();
  EXPECT_EQ(store.find("a")->state, JobState::kFinished);
  EXPECT_EQ(runner.started.size(), 2u);
  EXPECT_EQ(store.find("c")->state, JobState::kQueued);
  // A queued job can still be cancelled while the scheduler is paused.
  EXPECT_EQ(scheduler.cancel("c"), Scheduler::CancelResult::kCancelled);
  EXPECT_EQ(store.find("c")->error->code, "CANCELLED");
}

TEST_F(SchedulerTest, ShutdownPauseOutlastsTheOthers) {
  using Reason = Scheduler::PauseReason;
  scheduler.setPaused(Reason::kStartup, true);
  scheduler.submit(queuedJob("a"));
  scheduler.setPaused(Reason::kShutdown, true);
  // The sweep answering, or the engine coming back, does not undo a shutdown.
  scheduler.setPaused(Reason::kStartup, false);
  scheduler.setPaused(Reason::kEngineUnreachable, false);
  settle();
  EXPECT_TRUE(runner.started.empty());
  EXPECT_TRUE(scheduler.paused(Reason::kShutdown));
}

JobOutcome engineAway() {
  return JobOutcome{std::nullopt, false,
                    JobError{"DOCKER_ERROR", "inspecting image failed: engine gone", true}};
}

TEST_F(SchedulerTest, JobsThatFoundTheEngineAwayGoBackInSubmissionOrder) {
  using Reason = Scheduler::PauseReason;
  std::vector<std::string> requeued;
  scheduler.setOnRequeued([&](const Job& job) {
    requeued.push_back(job.spec.job_id);
    scheduler.setPaused(Reason::kEngineCheck, true);
  });
  for (const char* id : {"a", "b", "c", "d"}) scheduler.submit(queuedJob(id));
  settle();
  ASSERT_EQ(runner.started, (std::vector<std::string>{"a", "b"}));
  // The later job comes back first; the earlier one still goes ahead of it.
  runner.finish("b", engineAway());
  settle();
  runner.finish("a", engineAway());
  settle();
  settle();
  EXPECT_EQ(requeued, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(runner.started.size(), 2u) << "held until the engine has been asked again";
  EXPECT_EQ(scheduler.running(), 0u);
  EXPECT_EQ(scheduler.queued(), 4u);
  EXPECT_EQ(store.count(JobState::kFailed), 0u);
  EXPECT_EQ(scheduler.totalEntered(JobState::kFailed), 0u);
  for (const char* id : {"a", "b", "c", "d"}) {
    const Job* job = store.find(id);
    EXPECT_EQ(job->state, JobState::kQueued) << id;
    EXPECT_FALSE(job->error) << id;
    EXPECT_FALSE(job->started_at_ms) << id;
  }
  EXPECT_EQ(scheduler.queuePosition(*store.find("a")), 1u);
  EXPECT_EQ(scheduler.queuePosition(*store.find("b")), 2u);
  EXPECT_EQ(scheduler.queuePosition(*store.find("d")), 4u);
  scheduler.setPaused(Reason::kEngineCheck, false);
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a", "b", "a", "b"}));
  for (const char* id : {"a", "b"}) {
    runner.finish(id, JobOutcome{0, false, std::nullopt});
    settle();
    settle();
  }
  while (!runner.running.empty()) {
    runner.finish(runner.running.front().job->spec.job_id, JobOutcome{0, false, std::nullopt});
    settle();
    settle();
  }
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a", "b", "a", "b", "c", "d"}));
  EXPECT_EQ(store.count(JobState::kFinished), 4u);
  EXPECT_EQ(scheduler.totalEntered(JobState::kQueued), 4u) << "each accepted once";
}

TEST_F(SchedulerTest, AJobTheEngineKeepsFailingIsRequeuedABoundedNumberOfTimes) {
  scheduler.submit(queuedJob("a"));
  settle();
  for (uint32_t i = 0; i < Scheduler::kMaxEngineRequeues; ++i) {
    ASSERT_EQ(runner.running.size(), 1u);
    runner.finish("a", engineAway());
    settle();
    settle();
    EXPECT_EQ(store.find("a")->engine_requeues, i + 1);
  }
  ASSERT_EQ(runner.running.size(), 1u);
  runner.finish("a", engineAway());
  settle();
  const Job* a = store.find("a");
  EXPECT_EQ(a->state, JobState::kFailed);
  ASSERT_TRUE(a->error);
  EXPECT_EQ(a->error->code, "DOCKER_ERROR");
  EXPECT_EQ(runner.started.size(), Scheduler::kMaxEngineRequeues + 1);
}

TEST_F(SchedulerTest, AnEngineErrorAfterTheContainerExistedFailsTheJob) {
  scheduler.submit(queuedJob("a"));
  settle();
  runner.finish("a", JobOutcome{std::nullopt, false,
                                JobError{"DOCKER_ERROR", "the Docker engine went away"}});
  settle();
  EXPECT_EQ(store.find("a")->state, JobState::kFailed);
  EXPECT_EQ(runner.started.size(), 1u);
}

TEST_F(SchedulerTest, ACancelledRunThatFoundTheEngineAwayEndsCancelledNotQueued) {
  runner.cancel_ends_run = false;  // the run is still creating its container
  scheduler.submit(queuedJob("a"));
  settle();
  EXPECT_EQ(scheduler.cancel("a"), Scheduler::CancelResult::kCancelRequested);
  EXPECT_EQ(store.find("a")->state, JobState::kRunning);
  runner.finish("a", engineAway());
  settle();
  const Job* a = store.find("a");
  EXPECT_EQ(a->state, JobState::kFailed);
  ASSERT_TRUE(a->error);
  EXPECT_EQ(a->error->code, "CANCELLED");
  EXPECT_EQ(runner.started.size(), 1u) << "never started again";
  EXPECT_EQ(scheduler.queued(), 0u);
}

std::unique_ptr<Job> queuedJob(const std::string& id, int64_t memory_mb) {
  auto job = queuedJob(id);
  job->spec.limits.memory_mb = memory_mb;
  return job;
}

TEST_F(SchedulerTest, JobsWhoseLimitsTogetherExceedTheMemoryBudgetNeverRunAtOnce) {
  scheduler.setMemoryBudgetMb(1000);
  ASSERT_EQ(scheduler.submit(queuedJob("a", 600)), Scheduler::SubmitResult::kAccepted);
  ASSERT_EQ(scheduler.submit(queuedJob("b", 600)), Scheduler::SubmitResult::kAccepted);
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a"})) << "a slot is free, memory is not";
  EXPECT_EQ(scheduler.memoryInUseMb(), 600);
  runner.finish("a", JobOutcome{0, false, std::nullopt});
  settle();
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(runner.peak, 1u);
  runner.finish("b", JobOutcome{0, false, std::nullopt});
  settle();
  EXPECT_EQ(scheduler.memoryInUseMb(), 0);
}

TEST_F(SchedulerTest, AJobWaitingForMemoryHoldsTheSmallerJobsBehindIt) {
  scheduler.setMemoryBudgetMb(1000);
  ASSERT_EQ(scheduler.submit(queuedJob("a", 600)), Scheduler::SubmitResult::kAccepted);
  ASSERT_EQ(scheduler.submit(queuedJob("big", 500)), Scheduler::SubmitResult::kAccepted);
  ASSERT_EQ(scheduler.submit(queuedJob("small", 100)), Scheduler::SubmitResult::kAccepted);
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a"}))
      << "small would fit, but it is behind big: the queue is first in, first out";
  EXPECT_EQ(scheduler.queuePosition(*store.find("big")), 1u);
  runner.finish("a", JobOutcome{0, false, std::nullopt});
  settle();
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a", "big", "small"}));
}

TEST_F(SchedulerTest, AJobOverALoweredBudgetRunsAloneRatherThanNever) {
  ASSERT_EQ(scheduler.submit(queuedJob("a", 300)), Scheduler::SubmitResult::kAccepted);
  ASSERT_EQ(scheduler.submit(queuedJob("huge", 800)), Scheduler::SubmitResult::kAccepted);
  scheduler.setMemoryBudgetMb(500);  // a reload after both were accepted
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a"}));
  runner.finish("a", JobOutcome{0, false, std::nullopt});
  settle();
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a", "huge"}));
  ASSERT_EQ(scheduler.submit(queuedJob("c", 10)), Scheduler::SubmitResult::kAccepted);
  settle();
  EXPECT_EQ(runner.started.size(), 2u) << "nothing joins a job over the budget";
}

TEST_F(SchedulerTest, ABudgetRaisedByAReloadStartsTheJobsThatNowFit) {
  scheduler.setMemoryBudgetMb(700);
  ASSERT_EQ(scheduler.submit(queuedJob("a", 400)), Scheduler::SubmitResult::kAccepted);
  ASSERT_EQ(scheduler.submit(queuedJob("b", 400)), Scheduler::SubmitResult::kAccepted);
  settle();
  EXPECT_EQ(runner.started.size(), 1u);
  scheduler.setMemoryBudgetMb(0);  // no budget
  settle();
  EXPECT_EQ(runner.started, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(scheduler.memoryInUseMb(), 800);
}

}  // namespace
}  // namespace wa::jobs
