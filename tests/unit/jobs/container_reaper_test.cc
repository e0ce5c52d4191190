// ContainerReaper: the sweeps of a worker's containers and the removals tried again.
#include "jobs/container_reaper.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "jobs/fake_container_engine.h"

namespace wa::jobs {
namespace {

using docker::DockerError;
using docker::Unit;
using testing::FakeContainerEngine;

class ContainerReaperTest : public ::testing::Test {
 protected:
  void advance(core::Millis d) {
    clock.advance(d);
    loop.runOnce(0);
  }
  core::ManualClock clock;
  core::EventLoop loop{clock};
  FakeContainerEngine engine;
  ContainerReaper reaper{loop, engine, core::Millis(5000)};
};

TEST_F(ContainerReaperTest, ASweepRemovesWhatTheLabelListsExceptWhatIsKept) {
  std::optional<bool> listed;
  reaper.sweep(
      "worker-agent.worker_id=w1", [](const std::string& id) { return id == "keep"; },
      [&](bool l) { listed = l; });
  EXPECT_EQ(engine.last("list")->path, "worker-agent.worker_id=w1");
  ASSERT_TRUE(engine.answer<std::vector<docker::ContainerSummary>>(
      "list", std::vector<docker::ContainerSummary>{
                  {"a", "j1", "exited"}, {"keep", "j2", "running"}, {"b", "", "created"}}));
  EXPECT_EQ(engine.count("remove"), 2u);
  EXPECT_FALSE(listed) << "done once every removal has answered";
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  ASSERT_TRUE(engine.fail("remove", DockerError{500, "busy"}));
  ASSERT_TRUE(listed);
  EXPECT_TRUE(*listed);
  EXPECT_EQ(reaper.pending(), 1u) << "the failed removal is tried again";
  advance(core::Millis(5000));
  EXPECT_EQ(engine.last("remove")->container, "b");
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  EXPECT_EQ(reaper.pending(), 0u);
}

TEST_F(ContainerReaperTest, ASweepWhoseListingFailsSaysSo) {
  std::optional<bool> listed;
  reaper.sweep("l=x", nullptr, [&](bool l) { listed = l; });
  ASSERT_TRUE(engine.fail("list", DockerError{0, "nothing listens", true}));
  ASSERT_TRUE(listed);
  EXPECT_FALSE(*listed);
}

TEST_F(ContainerReaperTest, RemovalsAreTriedAgainUntilTheySucceedAndAtOnceOnRequest) {
  reaper.removeLater("c1");
  reaper.removeLater("c1");  // one removal per container
  EXPECT_EQ(reaper.pending(), 1u);
  EXPECT_EQ(engine.count("remove"), 0u);
  reaper.retryNow();  // the engine is back
  ASSERT_EQ(engine.count("remove"), 1u);
  reaper.retryNow();  // the removal in flight is not sent twice
  EXPECT_EQ(engine.count("remove"), 1u);
  ASSERT_TRUE(engine.fail("remove", DockerError{0, "nothing listens", true}));
  advance(core::Millis(4999));
  EXPECT_EQ(engine.count("remove"), 1u);
  advance(core::Millis(1));
  EXPECT_EQ(engine.count("remove"), 2u);
  ASSERT_TRUE(engine.answer<Unit>("remove", Unit{}));
  EXPECT_EQ(reaper.pending(), 0u);
}

}  // namespace
}  // namespace wa::jobs
