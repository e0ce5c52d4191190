#include "jobs/image_policy.h"

#include <gtest/gtest.h>

namespace wa::jobs {
namespace {

TEST(ImagePolicy, EmptyAllowsEverything) { EXPECT_TRUE(ImagePolicy({}).allows("anything:1")); }

TEST(ImagePolicy, ExactAndAnyTag) {
  ImagePolicy policy({"runner:1.0", "tools:*", "localhost:5000/app:*", "plain"});
  EXPECT_TRUE(policy.allows("runner:1.0"));
  EXPECT_FALSE(policy.allows("runner:1.1"));
  EXPECT_FALSE(policy.allows("runner"));  // means runner:latest
  EXPECT_TRUE(policy.allows("tools:7"));
  EXPECT_TRUE(policy.allows("tools"));  // tools:latest
  EXPECT_FALSE(policy.allows("toolsx:7"));
  EXPECT_FALSE(policy.allows("other/tools:7"));
  EXPECT_FALSE(policy.allows("tools@sha256:abc"));
  EXPECT_TRUE(policy.allows("localhost:5000/app:v2"));
  EXPECT_FALSE(policy.allows("localhost:5001/app:v2"));
  EXPECT_TRUE(policy.allows("plain:latest"));
  EXPECT_TRUE(policy.allows("plain"));
}

TEST(ImagePolicy, DefaultTag) {
  EXPECT_EQ(ImagePolicy::withDefaultTag("busybox"), "busybox:latest");
  EXPECT_EQ(ImagePolicy::withDefaultTag("localhost:5000/busybox"), "localhost:5000/busybox:latest");
  EXPECT_EQ(ImagePolicy::withDefaultTag("a:1"), "a:1");
  EXPECT_EQ(ImagePolicy::withDefaultTag("a@sha256:00"), "a@sha256:00");
}

}  // namespace
}  // namespace wa::jobs
