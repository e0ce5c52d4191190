#include "jobs/scheduler.h"

#include <gtest/gtest.h>

#include "fake_runner.h"

namespace wa::jobs {
namespace {

std::unique_ptr<Job> makeJob(const std::string& id) {
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

  void settle() { loop.runOnce(0); }
};

TEST_F(SchedulerTest, StartsInFifoOrderUpToTheCap) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(scheduler.submit(makeJob("j" + std::to_string(i))),
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
  for (const char* id : {"a", "b", "c"}) s.submit(makeJob(id));
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
  for (int i = 0; i < 5; ++i) scheduler.submit(makeJob("j" + std::to_string(i)));
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
  ASSERT_EQ(scheduler.submit(makeJob("a")), Scheduler::SubmitResult::kAccepted);
  EXPECT_EQ(scheduler.submit(makeJob("a")), Scheduler::SubmitResult::kDuplicate);
  for (int i = 0; i < 5; ++i) scheduler.submit(makeJob("q" + std::to_string(i)));
  EXPECT_EQ(scheduler.submit(makeJob("over")), Scheduler::SubmitResult::kQueueFull);
  EXPECT_EQ(store.find("over"), nullptr);
}

TEST_F(SchedulerTest, CancelQueuedEndsAtOnceAndRunningAsksTheRunner) {
  scheduler.submit(makeJob("r1"));
  scheduler.submit(makeJob("r2"));
  scheduler.submit(makeJob("q"));
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
  for (const char* id : {"ok", "exit3", "oom"}) scheduler.submit(makeJob(id));
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
  scheduler.submit(makeJob("a"));
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
  for (const char* id : {"a", "b", "c"}) scheduler.submit(makeJob(id));
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
  scheduler.submit(makeJob("a"));
  scheduler.setPaused(Reason::kShutdown, true);
  // The sweep answering, or the engine coming back, does not undo a shutdown.
  scheduler.setPaused(Reason::kStartup, false);
  scheduler.setPaused(Reason::kEngineUnreachable, false);
  settle();
  EXPECT_TRUE(runner.started.empty());
  EXPECT_TRUE(scheduler.paused(Reason::kShutdown));
}

}  // namespace
}  // namespace wa::jobs
