#include "core/descriptor_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace wa::core {
namespace {

constexpr uint64_t kUnlimited = DescriptorLimit::kUnlimited;

TEST(DescriptorLimit, EnoughAlreadyChangesNothing) {
  const DescriptorPlan plan = planDescriptors({20000, 20000}, 10000, 72);
  EXPECT_EQ(plan.after.soft, 20000u);
  EXPECT_EQ(plan.after.hard, 20000u);
  EXPECT_EQ(plan.max_connections, 10000u);
  EXPECT_EQ(planDescriptors({10072, 20000}, 10000, 72).after.soft, 10072u);
}

TEST(DescriptorLimit, SoftIsRaisedToWhatIsNeededNotToTheHardLimit) {
  const DescriptorPlan plan = planDescriptors({1024, 524288}, 10000, 72);
  EXPECT_EQ(plan.before.soft, 1024u);
  EXPECT_EQ(plan.after.soft, 10072u);
  EXPECT_EQ(plan.after.hard, 524288u);
  EXPECT_EQ(plan.max_connections, 10000u);
  EXPECT_EQ(planDescriptors({1024, kUnlimited}, 10000, 72).after.soft, 10072u);
}

TEST(DescriptorLimit, HardLimitTooLowServesFewerConnections) {
  const DescriptorPlan plan = planDescriptors({1024, 4096}, 10000, 72);
  EXPECT_EQ(plan.after.soft, 4096u);
  EXPECT_EQ(plan.max_connections, 4096u - 72);
  EXPECT_EQ(planDescriptors({1024, 1024}, 10000, 72).max_connections, 1024u - 72);
}

TEST(DescriptorLimit, TinyLimitKeepsHalfForConnectionsAndAtLeastOne) {
  EXPECT_EQ(planDescriptors({100, 100}, 10000, 72).max_connections, 50u);
  EXPECT_EQ(planDescriptors({1, 1}, 10000, 72).max_connections, 1u);
  EXPECT_EQ(planDescriptors({100, 100}, 10, 72).max_connections, 10u);
}

TEST(DescriptorLimit, NeverLowersAndUnlimitedFitsEverything) {
  EXPECT_EQ(planDescriptors({kUnlimited, kUnlimited}, 10000, 72).after.soft, kUnlimited);
  EXPECT_EQ(planDescriptors({kUnlimited, kUnlimited}, 10000, 72).max_connections, 10000u);
  // A soft limit above the hard one cannot be; the plan still does not lower it.
  EXPECT_EQ(planDescriptors({2000, 1000}, 10000, 72).after.soft, 2000u);
}

TEST(DescriptorLimit, FitRaisesTheProcessSoftLimit) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 512) {
    GTEST_SKIP() << "hard limit " << saved.rlim_max << " leaves no room to raise";
  }
  rlimit lowered = saved;
  lowered.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const DescriptorPlan plan = fitDescriptorLimit(400, 50);
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(plan.error, "");
  EXPECT_EQ(plan.before.soft, 256u);
  EXPECT_EQ(plan.after.soft, 450u);
  EXPECT_EQ(now.rlim_cur, 450u);
  EXPECT_EQ(now.rlim_max, saved.rlim_max);
  EXPECT_EQ(plan.max_connections, 400u);
}

}  // namespace
}  // namespace wa::core
