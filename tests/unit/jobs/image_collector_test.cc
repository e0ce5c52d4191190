#include "jobs/image_collector.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/event_loop.h"
#include "jobs/image_supplier.h"

namespace wa::jobs {
namespace {

using docker::Callback;
using docker::DockerError;
using docker::ImageSummary;
using docker::Unit;

constexpr int64_t kMiB = 1 << 20;
const std::string kDigest = "sha256:" + std::string(64, 'a');

// The engine's images and the requests made of it, each answered when the test says.
struct FakeCollectorEngine {
  std::vector<ImageSummary> images;
  std::set<std::string> in_use;  // ids a container uses: removal answers 409
  std::vector<Callback<std::vector<ImageSummary>>> lists;
  std::vector<std::pair<std::string, Callback<Unit>>> removals;
  std::vector<std::string> removed;

  ImageCollectorEngine bind() {
    return {[this](Callback<std::vector<ImageSummary>> done) {
              lists.push_back(std::move(done));
              return core::RequestHandle();
            },
            [this](const std::string& id, Callback<Unit> done) {
              removals.emplace_back(id, std::move(done));
              return core::RequestHandle();
            }};
  }
  // Answers every request, and those the answers lead to, as the engine would.
  void answerAll() {
    while (!lists.empty() || !removals.empty()) {
      if (!lists.empty()) {
        auto done = std::move(lists.front());
        lists.erase(lists.begin());
        done(images);
        continue;
      }
      auto [id, done] = std::move(removals.front());
      removals.erase(removals.begin());
      if (in_use.contains(id)) {
        done(DockerError{409, "conflict: unable to delete " + id + ": image is being used"});
        continue;
      }
      std::erase_if(images, [&gone = id](const ImageSummary& i) { return i.id == gone; });
      removed.push_back(id);
      done(Unit{});
    }
  }
};

ImageSummary image(const std::string& id, std::vector<std::string> tags, int64_t mb,
                   std::vector<std::string> digests = {}) {
  return ImageSummary{id, std::move(tags), std::move(digests), mb * kMiB};
}

class ImageCollectorTest : public ::testing::Test {
 protected:
  // A job that ran (or runs) image_id at time used_ms; pulled: the job pulled it.
  Job* ran(const std::string& job_id, const std::string& image_ref, const std::string& image_id,
           bool pulled, int64_t used_ms, JobState state = JobState::kFinished) {
    auto job = std::make_unique<Job>();
    job->spec.job_id = job_id;
    job->spec.image = image_ref;
    job->image_ref = image_ref;
    job->image_id = image_id;
    job->image_pulled = pulled;
    Job* stored = store.insert(std::move(job));
    if (state != JobState::kQueued) {
      store.transition(*stored, JobState::kRunning, used_ms);
      stored->started_at_ms = used_ms;
    }
    if (state == JobState::kFinished) {
      store.transition(*stored, JobState::kFinished, used_ms + 1);
      stored->finished_at_ms = used_ms + 1;
    }
    return stored;
  }
  ImageCollector& collector(ImageCollectorOptions options) {
    collector_ = std::make_unique<ImageCollector>(
        loop, engine.bind(), store,
        ImageCollectorSources{[this] { return std::make_pair(disk_total_mb, disk_available_mb); },
                              [this] { return pulling; }},
        std::move(options));
    return *collector_;
  }
  ImageCollectorOptions budget(int64_t mb) {
    ImageCollectorOptions options;
    options.max_bytes = mb * kMiB;
    return options;
  }
  void pass() {
    collector_->collect();
    engine.answerAll();
    EXPECT_FALSE(collector_->collecting());
  }

  core::ManualClock clock;
  core::EventLoop loop{clock};
  JobStore store{RetentionPolicy{0, 100000}};
  FakeCollectorEngine engine;
  std::optional<int64_t> disk_total_mb;
  std::optional<int64_t> disk_available_mb;
  std::vector<std::string> pulling;
  std::unique_ptr<ImageCollector> collector_;
};

TEST_F(ImageCollectorTest, RemovesTheLeastRecentlyUsedOfItsOwnUntilUnderTheBudget) {
  engine.images = {image("sha256:old", {"app:1"}, 100), image("sha256:new", {"app:2"}, 100),
                   image("sha256:mid", {"app:3"}, 100),
                   image("sha256:theirs", {"postgres:16"}, 500)};
  ran("j1", "app:1", "sha256:old", true, 1000);
  ran("j2", "app:2", "sha256:new", true, 3000);
  ran("j3", "app:3", "sha256:mid", true, 2000);
  // Used again later by a job that did not pull it: that use counts.
  ran("j4", "app:1", "sha256:old", false, 4000);
  collector(budget(150));
  pass();
  EXPECT_EQ(engine.removed, (std::vector<std::string>{"sha256:mid", "sha256:new"}))
      << "300 MiB of its own over a 150 MiB budget: the two least recently used go";
  EXPECT_EQ(collector_->counts().removed, 2u);
  EXPECT_EQ(collector_->counts().removed_bytes, uint64_t{200 * kMiB});
  EXPECT_EQ(collector_->counts().owned_bytes, uint64_t{100 * kMiB});
  pass();
  EXPECT_EQ(engine.removed.size(), 2u) << "under the budget: nothing more";
}

TEST_F(ImageCollectorTest, ImagesItDidNotPullOrBuildAreNeverTouched) {
  engine.images = {image("sha256:theirs", {"postgres:16"}, 5000),
                   image("sha256:used", {"busybox:latest"}, 5000)};
  // A job ran busybox but did not pull it: the operator's image, not the worker's.
  ran("j1", "busybox", "sha256:used", false, 1000);
  collector(budget(1));
  pass();
  EXPECT_TRUE(engine.removed.empty());
  EXPECT_EQ(collector_->counts().owned, 0u);
}

TEST_F(ImageCollectorTest, NeverRemovesWhatAQueuedOrRunningJobNeeds) {
  engine.images = {image("sha256:a", {"app:1"}, 100), image("sha256:b", {"app:2"}, 100),
                   image("sha256:c", {"app:3"}, 100)};
  ran("j1", "app:1", "sha256:a", true, 1000);
  ran("j2", "app:2", "sha256:b", true, 2000);
  ran("j3", "app:3", "sha256:c", true, 3000);
  // A queued job names app:1 (in another spelling); a running one runs b by its id.
  Job* queued = ran("q", "docker.io/library/app:1", "", false, 0, JobState::kQueued);
  queued->image_ref.clear();
  ran("r", "app:2", "sha256:b", false, 4000, JobState::kRunning);
  collector(budget(1));
  pass();
  EXPECT_EQ(engine.removed, (std::vector<std::string>{"sha256:c"}));
}

TEST_F(ImageCollectorTest, AQueuedBuildKeepsTheImageOfAnIdenticalEarlierBuild) {
  BuildSpec build{"FROM busybox\n", {}};
  const std::string tag = ImageSupplier::buildTag(ImageSupplier::buildContext(build));
  engine.images = {image("sha256:built", {tag}, 100),
                   image("sha256:other", {"worker-agent-build:0"}, 100),
                   image("sha256:elsewhere", {"worker-agent-build:1"}, 100)};
  ran("j1", tag, "sha256:built", false, 1000)->image_built = true;
  ran("j2", "worker-agent-build:0", "sha256:other", false, 2000)->image_built = true;
  auto job = std::make_unique<Job>();
  job->spec.job_id = "b";
  job->spec.runtime_mode = "build";
  job->spec.build = build;
  store.insert(std::move(job));
  collector(budget(1));
  pass();
  EXPECT_EQ(engine.removed, (std::vector<std::string>{"sha256:other"}))
      << "one of the worker's builds is needed again; the third was another worker's build";
}

TEST_F(ImageCollectorTest, PullingPinnedAndKeptImagesStay) {
  engine.images = {
      image("sha256:a", {"app:1"}, 100), image("sha256:b", {"app:2"}, 100, {"app@" + kDigest}),
      image("sha256:c", {"registry.example/team/tool:9"}, 100), image("sha256:d", {"app:4"}, 100)};
  for (const char* id : {"sha256:a", "sha256:b", "sha256:c", "sha256:d"}) {
    ran(std::string("j-") + id, "x", id, true, 1000);
  }
  pulling = {"app:1"};  // a pull with policy always, refreshing the tag
  ImageCollectorOptions options = budget(1);
  options.allowed_images = {"app@" + kDigest, "app:*"};  // app:* pins nothing
  options.keep = {"registry.example/team/*"};
  collector(std::move(options));
  pass();
  EXPECT_EQ(engine.removed, (std::vector<std::string>{"sha256:d"}));
}

TEST_F(ImageCollectorTest, AnImageAContainerUsesIsSkippedAndTheNextOneGoes) {
  engine.images = {image("sha256:a", {"app:1"}, 100), image("sha256:b", {"app:2"}, 100)};
  ran("j1", "app:1", "sha256:a", true, 1000);
  ran("j2", "app:2", "sha256:b", true, 2000);
  engine.in_use = {"sha256:a"};
  collector(budget(150));
  pass();
  EXPECT_EQ(engine.removed, (std::vector<std::string>{"sha256:b"}));
  EXPECT_EQ(collector_->counts().errors, 0u) << "a refusal for use is not an error";
}

TEST_F(ImageCollectorTest, TheEnginesFreeSpaceFloorRemovesUntilItIsMet) {
  engine.images = {image("sha256:a", {"app:1"}, 1000), image("sha256:b", {"app:2"}, 1000),
                   image("sha256:c", {"app:3"}, 1000)};
  ran("j1", "app:1", "sha256:a", true, 1000);
  ran("j2", "app:2", "sha256:b", true, 2000);
  ran("j3", "app:3", "sha256:c", true, 3000);
  disk_total_mb = 10000;
  disk_available_mb = 500;        // 5% free
  ImageCollectorOptions options;  // no budget
  options.min_free_percent = 20;
  collector(std::move(options));
  pass();
  EXPECT_EQ(engine.removed, (std::vector<std::string>{"sha256:a", "sha256:b"}))
      << "5% + 10% + 10% reaches 20%";
  disk_available_mb.reset();  // unknown: the floor cannot be judged
  engine.removed.clear();
  pass();
  EXPECT_TRUE(engine.removed.empty());
}

TEST_F(ImageCollectorTest, AJobStartedDuringAPassKeepsItsImage) {
  engine.images = {image("sha256:a", {"app:1"}, 100), image("sha256:b", {"app:2"}, 100)};
  ran("j1", "app:1", "sha256:a", true, 1000);
  ran("j2", "app:2", "sha256:b", true, 2000);
  collector(budget(1));
  collector_->collect();
  ASSERT_EQ(engine.lists.size(), 1u);
  auto list = std::move(engine.lists.front());
  engine.lists.clear();
  list(engine.images);
  ASSERT_EQ(engine.removals.size(), 1u);
  EXPECT_EQ(engine.removals[0].first, "sha256:a");
  // Before a's removal answers, a job needing app:2 is submitted.
  ran("q", "app:2", "", false, 0, JobState::kQueued);
  engine.answerAll();
  EXPECT_EQ(engine.removed, (std::vector<std::string>{"sha256:a"}));
}

TEST_F(ImageCollectorTest, AFailedListIsCountedAndThePassEnds) {
  collector(budget(1));
  collector_->collect();
  EXPECT_TRUE(collector_->collecting());
  collector_->collect();  // one pass at a time
  ASSERT_EQ(engine.lists.size(), 1u);
  engine.lists[0](DockerError{0, "connection refused", true});
  EXPECT_FALSE(collector_->collecting());
  EXPECT_EQ(collector_->counts().errors, 1u);
  EXPECT_EQ(collector_->counts().passes, 1u);
}

TEST_F(ImageCollectorTest, PassesRunOnTheTimerAndAZeroIntervalStopsThem) {
  ImageCollectorOptions options = budget(1);
  options.interval = core::Millis(60'000);
  collector(options).start();
  clock.advance(core::Millis(59'999));
  loop.runOnce(0);
  EXPECT_TRUE(engine.lists.empty());
  clock.advance(core::Millis(1));
  loop.runOnce(0);
  EXPECT_EQ(engine.lists.size(), 1u);
  engine.answerAll();
  clock.advance(core::Millis(60'000));
  loop.runOnce(0);
  EXPECT_EQ(engine.lists.size(), 1u) << "the next pass";
  engine.answerAll();
  options.interval = core::Millis(0);
  collector_->setOptions(options);
  clock.advance(core::Millis(600'000));
  loop.runOnce(0);
  EXPECT_TRUE(engine.lists.empty());
  EXPECT_EQ(collector_->counts().passes, 2u);
  options.interval = core::Millis(5'000);  // a reload turns it on again
  collector_->setOptions(options);
  clock.advance(core::Millis(5'000));
  loop.runOnce(0);
  EXPECT_EQ(engine.lists.size(), 1u);
}

}  // namespace
}  // namespace wa::jobs
