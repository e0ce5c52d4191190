#include "jobs/job_store.h"

#include <gtest/gtest.h>

namespace wa::jobs {
namespace {

std::unique_ptr<Job> storedJob(const std::string& id) {
  auto job = std::make_unique<Job>();
  job->spec.job_id = id;
  return job;
}

TEST(JobStore, InsertFindListAndCounts) {
  JobStore store(RetentionPolicy{});
  ASSERT_NE(store.insert(storedJob("a")), nullptr);
  ASSERT_NE(store.insert(storedJob("b")), nullptr);
  EXPECT_EQ(store.insert(storedJob("a")), nullptr);
  Job* b = store.find("b");
  store.transition(*b, JobState::kRunning, 10);
  EXPECT_EQ(b->started_at_ms, 10);
  EXPECT_EQ(store.count(JobState::kQueued), 1u);
  EXPECT_EQ(store.count(JobState::kRunning), 1u);
  auto all = store.list(std::nullopt, 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->spec.job_id, "a");
  auto running = store.list(JobState::kRunning, 10);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0]->spec.job_id, "b");
  EXPECT_EQ(store.list(std::nullopt, 1).size(), 1u);
}

TEST(JobStore, PrunesTerminalJobsByAgeAndCountButNeverLiveOnes) {
  JobStore store(RetentionPolicy{1000, 2});
  for (const char* id : {"a", "b", "c", "live"}) store.insert(storedJob(id));
  for (const char* id : {"a", "b", "c"})
    store.transition(*store.find(id), JobState::kFinished, 100);
  EXPECT_EQ(store.prune(100), 1u);  // over the count of 2: the oldest goes
  EXPECT_EQ(store.find("a"), nullptr);
  EXPECT_EQ(store.prune(1099), 0u);
  EXPECT_EQ(store.prune(1100), 2u);  // past the age
  EXPECT_NE(store.find("live"), nullptr);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.count(JobState::kFinished), 0u);
  EXPECT_EQ(store.droppedTotal(), 3u);
  // A dropped id may be used again.
  EXPECT_NE(store.insert(storedJob("a")), nullptr);
}

TEST(JobStore, ZeroRetentionMeansNoAgeLimit) {
  JobStore store(RetentionPolicy{0, 10});
  store.insert(storedJob("a"));
  store.transition(*store.find("a"), JobState::kFailed, 5);
  EXPECT_EQ(store.prune(1'000'000'000), 0u);
}

TEST(CapturedOutput, KeepsUpToTheLimitAndFlagsTheRest) {
  CapturedOutput out;
  out.append("hello", 8);
  EXPECT_FALSE(out.truncated);
  out.append("world", 8);
  EXPECT_EQ(out.data, "hellowor");
  EXPECT_TRUE(out.truncated);
  EXPECT_EQ(out.total_bytes, 10u);
}

}  // namespace
}  // namespace wa::jobs
