// A job's usage: CgroupAccounting on fixture trees (the job's own cgroup read after its
// container's is gone, the sampler's readings when there is none, the peaks the kernel does
// not keep), its cgroup's removal and the leftovers of a crash, and the usage kept through
// the journal's codec.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/clock.h"
#include "core/event_loop.h"
#include "jobs/cgroup_accounting.h"
#include "jobs/job_codec.h"
#include "metrics/host_sampler.h"

namespace wa::jobs {
namespace {

namespace fs = std::filesystem;

const std::string kContainer = "eeeeeeeeeeee5555555555555555555555555555555555555555555555555555";

class ScratchTree {
 public:
  ScratchTree() {
    std::string pattern = (fs::temp_directory_path() / "wa-usage-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    root_ = pattern;
  }
  ~ScratchTree() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  ScratchTree(const ScratchTree&) = delete;
  ScratchTree& operator=(const ScratchTree&) = delete;
  const std::string& root() const { return root_; }
  void write(const std::string& relative, const std::string& content) const {
    const fs::path path = fs::path(root_) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  bool exists(const std::string& relative) const { return fs::exists(fs::path(root_) / relative); }
  // rmdir of a cgroup works with its files in it (they are the kernel's); on a scratch
  // tree they are real files, so they go first.
  void dropFiles(const std::string& relative) const {
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(root_) / relative)) {
      if (entry.is_regular_file()) fs::remove(entry.path());
    }
  }

 private:
  std::string root_;
};

class JobUsageTest : public ::testing::Test {
 protected:
  JobUsageTest() {
    tree.write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids io\n");
    job.spec.job_id = "j1";
    job.created_at_ms = 1'700'000'000'000;
    sampler.setJobContainers([this] { return listed; });
  }
  // The job's cgroup as the engine leaves it after the exit: counters, no child.
  std::string jobCgroup() const {
    return "sys/fs/cgroup/worker-agent/w1/" + CgroupAccounting::keyOf(job);
  }

  core::ManualClock clock;
  core::EventLoop loop{clock};
  ScratchTree tree;
  metrics::HostSampler sampler{loop, tree.root(), core::Millis(1000)};
  std::vector<metrics::JobContainer> listed;
  Job job;
};

TEST_F(JobUsageTest, ACgroupfsEngineGivesEachJobACgroupReadWholeAfterTheExit) {
  CgroupAccounting accounting(loop, sampler, tree.root(), "w1", true);
  EXPECT_EQ(accounting.cgroupParent(job), "") << "nothing is known of the engine yet";
  accounting.setEngine("systemd", true);
  EXPECT_FALSE(accounting.perJobCgroups()) << "a systemd driver's parent must be a slice";
  accounting.setEngine("cgroupfs", false);
  EXPECT_FALSE(accounting.perJobCgroups()) << "an engine on another host";
  accounting.setEngine("cgroupfs", true);
  ASSERT_TRUE(accounting.perJobCgroups());
  const std::string parent = accounting.cgroupParent(job);
  EXPECT_EQ(parent, "/worker-agent/w1/" + CgroupAccounting::keyOf(job));
  EXPECT_EQ(CgroupAccounting::keyOf(job).size(), 4u + 24u);

  // While it runs the sampler finds the container under its parent.
  listed = {{kContainer, parent}};
  tree.write(jobCgroup() + "/" + kContainer + "/memory.current", "5000\n");
  tree.write(jobCgroup() + "/" + kContainer + "/pids.current", "3\n");
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cgroup.job_containers_found, 1u);
  // It exits: its own cgroup goes, the job's keeps the totals (no memory.peak here).
  fs::remove_all(tree.root() + "/" + jobCgroup() + "/" + kContainer);
  tree.write(jobCgroup() + "/cpu.stat", "usage_usec 1250000\n");
  tree.write(jobCgroup() + "/pids.peak", "6\n");
  tree.write(jobCgroup() + "/io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=1\n");
  const std::optional<JobUsage> usage = accounting.usage(job, kContainer);
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->source, "cgroup");
  EXPECT_DOUBLE_EQ(*usage->cpu_seconds, 1.25);
  EXPECT_EQ(usage->memory_peak_bytes, 5000u) << "no memory.peak: the most the sampler read";
  EXPECT_EQ(usage->pids_peak, 6u) << "the kernel's, over the sampler's 3";
  EXPECT_EQ(usage->io_read_bytes, 10u);
  EXPECT_EQ(usage->io_write_bytes, 20u);

  tree.dropFiles(jobCgroup());
  accounting.release(job);
  EXPECT_FALSE(tree.exists(jobCgroup())) << "removed with its container";
  EXPECT_EQ(accounting.pendingRemovals(), 0u);
}

TEST_F(JobUsageTest, ACgroupThatCannotGoYetIsTriedAgain) {
  CgroupAccounting accounting(loop, sampler, tree.root(), "w1", true);
  accounting.setEngine("cgroupfs", true);
  tree.write(jobCgroup() + "/" + kContainer + "/cgroup.procs", "");  // not cleaned up yet
  accounting.release(job);
  EXPECT_EQ(accounting.pendingRemovals(), 1u);
  fs::remove_all(tree.root() + "/" + jobCgroup() + "/" + kContainer);
  fs::remove(tree.root() + "/" + jobCgroup() + "/cgroup.procs");
  clock.advance(core::Millis(5000));
  loop.runOnce(0);
  EXPECT_EQ(accounting.pendingRemovals(), 0u);
  EXPECT_FALSE(tree.exists(jobCgroup()));
}

TEST_F(JobUsageTest, WithoutACgroupOfItsOwnTheUsageIsTheSamplersLastReading) {
  CgroupAccounting accounting(loop, sampler, tree.root(), "w1", true);
  accounting.setEngine("systemd", true);
  EXPECT_EQ(accounting.usage(job, kContainer), std::nullopt) << "never sampled: unknown";
  listed = {{kContainer, ""}};
  const std::string own = "sys/fs/cgroup/system.slice/docker-" + kContainer + ".scope";
  tree.write(own + "/cpu.stat", "usage_usec 300000\n");
  tree.write(own + "/memory.current", "9000\n");
  tree.write(own + "/memory.peak", "12000\n");
  sampler.sampleNow();
  fs::remove_all(tree.root() + "/" + own);
  sampler.sampleNow();
  const std::optional<JobUsage> usage = accounting.usage(job, kContainer);
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->source, "sampled");
  EXPECT_DOUBLE_EQ(*usage->cpu_seconds, 0.3);
  EXPECT_EQ(usage->memory_peak_bytes, 12000u) << "the kernel's peak as last read";
  EXPECT_EQ(usage->pids_peak, std::nullopt) << "nothing read: unknown";
  EXPECT_EQ(usage->io_read_bytes, std::nullopt);
}

TEST_F(JobUsageTest, AFixtureTreeIsNeverWrittenTo) {
  CgroupAccounting accounting(loop, sampler, tree.root(), "w1", false);
  accounting.setEngine("cgroupfs", true);
  EXPECT_FALSE(accounting.perJobCgroups());
  tree.write(jobCgroup() + "/cpu.stat", "usage_usec 1\n");
  accounting.removeLeftovers({});
  accounting.release(job);
  EXPECT_TRUE(tree.exists(jobCgroup()));
}

TEST_F(JobUsageTest, TheCgroupsACrashLeftGoButThoseOfJobsTakenUpAgain) {
  Job adopted;
  adopted.spec.job_id = "adopted";
  adopted.created_at_ms = 5;
  tree.write(jobCgroup() + "/cpu.stat", "usage_usec 1\n");
  const std::string kept = "sys/fs/cgroup/worker-agent/w1/" + CgroupAccounting::keyOf(adopted);
  tree.write(kept + "/cpu.stat", "usage_usec 2\n");
  tree.write("sys/fs/cgroup/worker-agent/other-worker/job-x/cpu.stat", "usage_usec 3\n");
  tree.dropFiles("sys/fs/cgroup/worker-agent");
  CgroupAccounting accounting(loop, sampler, tree.root(), "w1", true);
  accounting.removeLeftovers({&adopted});
  EXPECT_FALSE(tree.exists(jobCgroup()));
  EXPECT_TRUE(tree.exists(kept));
  EXPECT_TRUE(tree.exists("sys/fs/cgroup/worker-agent/other-worker/job-x"))
      << "another worker's are its own business";
}

TEST(JobUsageCodec, UsageIsKeptThroughTheJournal) {
  Job job;
  job.state = JobState::kFinished;
  job.usage = JobUsage{0.5, 31u << 20, std::nullopt, 4096, 2, "cgroup"};
  Job back;
  std::string error;
  ASSERT_TRUE(decodeRecord(encodeRecord(job), &back, &error)) << error;
  ASSERT_TRUE(back.usage);
  EXPECT_DOUBLE_EQ(*back.usage->cpu_seconds, 0.5);
  EXPECT_EQ(back.usage->memory_peak_bytes, 31u << 20);
  EXPECT_EQ(back.usage->io_read_bytes, std::nullopt);
  EXPECT_EQ(back.usage->io_write_bytes, 4096u);
  EXPECT_EQ(back.usage->pids_peak, 2u);
  EXPECT_EQ(back.usage->source, "cgroup");

  job.usage.reset();
  Job none;
  ASSERT_TRUE(decodeRecord(encodeRecord(job), &none, &error)) << error;
  EXPECT_FALSE(none.usage);
  // A record written before usage existed has no member at all.
  std::string old = encodeRecord(job);
  old.erase(old.find(",\"usage\":null"), std::string(",\"usage\":null").size());
  ASSERT_TRUE(decodeRecord(old, &none, &error)) << error;
  EXPECT_FALSE(none.usage);
  std::string bad = encodeRecord(job);
  bad.replace(bad.find("\"usage\":null"), std::string("\"usage\":null").size(), "\"usage\":[1]");
  EXPECT_FALSE(decodeRecord(bad, &none, &error));
}

}  // namespace
}  // namespace wa::jobs
