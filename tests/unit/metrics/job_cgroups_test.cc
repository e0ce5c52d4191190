// JobCgroups over fixture trees: a job's parent cgroup read after its container's own is
// gone (cgroup v2 and hybrid v1), the peaks the kernel keeps or does not, and the probe,
// removal and listing on a scratch tree.
#include "metrics/job_cgroups.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "fixture_hosts.h"
#include "temp_tree.h"

namespace wa::metrics {
namespace {

using testing::TempTree;

using testing::kNone;
using testing::kV1;
using testing::kV2;

TEST(JobCgroupsTest, AV2ParentKeepsTheTotalsAndPeaksOfItsGoneContainer) {
  TempTree tree;
  std::filesystem::copy(kV2, tree.root(), std::filesystem::copy_options::recursive);
  JobCgroups cgroups(tree.root(), "/worker-agent/w1");
  std::string why;
  ASSERT_TRUE(cgroups.probe(&why)) << why;
  EXPECT_EQ(cgroups.version(), CgroupVersion::kV2);
  const std::string path = cgroups.pathFor("job-1");
  EXPECT_EQ(path, "/worker-agent/w1/job-1");
  const CgroupUsage u = cgroups.read(path);
  ASSERT_TRUE(u.found);
  EXPECT_EQ(u.cpu_usage_usec, 1'234'567u) << "usage_usec: user and system together";
  EXPECT_EQ(u.memory_peak_bytes, 44'040'192u);
  EXPECT_EQ(u.pids_peak, 9u);
  EXPECT_EQ(u.io_read_bytes, 4096u + 100u) << "summed over devices";
  EXPECT_EQ(u.io_write_bytes, 8192u);
}

TEST(JobCgroupsTest, AKernelWithoutPeakFilesLeavesThemUnset) {
  TempTree tree;
  std::filesystem::copy(kV2, tree.root(), std::filesystem::copy_options::recursive);
  JobCgroups cgroups(tree.root(), "/worker-agent/w1");
  std::string why;
  ASSERT_TRUE(cgroups.probe(&why)) << why;
  const CgroupUsage u = cgroups.read(cgroups.pathFor("job-old-kernel"));
  ASSERT_TRUE(u.found);
  EXPECT_EQ(u.cpu_usage_usec, 500'000u);
  EXPECT_EQ(u.memory_peak_bytes, std::nullopt) << "memory.peak came with Linux 5.19";
  EXPECT_EQ(u.pids_peak, std::nullopt) << "pids.peak came with Linux 6.1";
  EXPECT_EQ(u.io_read_bytes, std::nullopt);
  EXPECT_FALSE(cgroups.read(cgroups.pathFor("job-never-there")).found);
}

TEST(JobCgroupsTest, AV1ParentIsReadPerControllerWithRecursiveBlockIo) {
  TempTree tree;
  std::filesystem::copy(kV1, tree.root(), std::filesystem::copy_options::recursive);
  JobCgroups cgroups(tree.root(), "/worker-agent/w1");
  std::string why;
  ASSERT_TRUE(cgroups.probe(&why)) << why;
  EXPECT_EQ(cgroups.version(), CgroupVersion::kV1) << "hybrid: the controllers are v1";
  const CgroupUsage u = cgroups.read(cgroups.pathFor("job-1"));
  ASSERT_TRUE(u.found);
  EXPECT_EQ(u.cpu_usage_usec, 1'500'000u) << "cpuacct.usage in nanoseconds";
  EXPECT_EQ(u.memory_peak_bytes, 33'554'432u) << "memory.max_usage_in_bytes";
  EXPECT_EQ(u.pids_peak, 5u);
  EXPECT_EQ(u.io_read_bytes, 4096u) << "the _recursive file, which counts the gone child";
  EXPECT_EQ(u.io_write_bytes, 8192u);
}

TEST(JobCgroupsTest, ContainerPeaksOnBothVersions) {
  const CgroupUsage v2 = readContainerCgroup(
      kV2, CgroupVersion::kV2, "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111");
  EXPECT_EQ(v2.memory_peak_bytes, 12'582'912u);
  EXPECT_EQ(v2.pids_peak, 4u);
  const CgroupUsage v1 = readContainerCgroup(
      kV1, CgroupVersion::kV1, "cccccccccccc3333333333333333333333333333333333333333333333333333");
  EXPECT_EQ(v1.memory_peak_bytes, 20'971'520u);
  EXPECT_EQ(v1.pids_peak, 3u);
}

TEST(JobCgroupsTest, AContainerIsFoundUnderTheParentItWasCreatedWith) {
  TempTree tree;
  tree.write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
  const std::string id = "eeeeeeeeeeee5555555555555555555555555555555555555555555555555555";
  tree.write("sys/fs/cgroup/worker-agent/w1/job-2/" + id + "/memory.current", "1234\n");
  EXPECT_EQ(readContainerCgroup(tree.root(), CgroupVersion::kV2, id, "/worker-agent/w1/job-2")
                .memory_current_bytes,
            1234u);
  EXPECT_FALSE(readContainerCgroup(tree.root(), CgroupVersion::kV2, id).found)
      << "not in the engine's default places";
  EXPECT_FALSE(
      readContainerCgroup(tree.root(), CgroupVersion::kV2, id, "/worker-agent/../../etc").found);
  EXPECT_FALSE(readContainerCgroup(tree.root(), CgroupVersion::kV2, id, "relative").found);
}

TEST(JobCgroupsTest, RemovalGoesThroughEveryV1HierarchyAndWaitsForChildren) {
  TempTree tree;
  for (const char* hierarchy : {"memory", "cpu,cpuacct", "pids", "blkio", "unified"}) {
    tree.makeDirectory(std::string("sys/fs/cgroup/") + hierarchy + "/worker-agent/w1/job-3");
  }
  // The container's own cgroup is still there in one hierarchy (the engine has not
  // finished with it): the parent cannot go yet.
  tree.makeDirectory("sys/fs/cgroup/pids/worker-agent/w1/job-3/child");
  std::filesystem::create_directory_symlink("cpu,cpuacct", tree.root() + "/sys/fs/cgroup/cpu");
  JobCgroups cgroups(tree.root(), "/worker-agent/w1");
  std::string why;
  ASSERT_TRUE(cgroups.probe(&why)) << why;
  EXPECT_EQ(cgroups.keys(), (std::vector<std::string>{"job-3"}));
  const std::string path = cgroups.pathFor("job-3");
  EXPECT_FALSE(cgroups.remove(path));
  EXPECT_FALSE(std::filesystem::exists(tree.root() + "/sys/fs/cgroup/memory" + path));
  EXPECT_TRUE(std::filesystem::exists(tree.root() + "/sys/fs/cgroup/pids" + path));
  EXPECT_EQ(cgroups.keys(), (std::vector<std::string>{"job-3"})) << "left in one hierarchy";
  std::filesystem::remove(tree.root() + "/sys/fs/cgroup/pids" + path + "/child");
  EXPECT_TRUE(cgroups.remove(path));
  EXPECT_TRUE(cgroups.remove(path)) << "already gone counts as removed";
  EXPECT_TRUE(cgroups.keys().empty());
  tree.makeDirectory("sys/fs/cgroup/memory/worker-agent/other-worker");
  cgroups.removeBase();
  EXPECT_FALSE(std::filesystem::exists(tree.root() + "/sys/fs/cgroup/memory/worker-agent/w1"));
  EXPECT_FALSE(std::filesystem::exists(tree.root() + "/sys/fs/cgroup/pids/worker-agent"));
  EXPECT_TRUE(std::filesystem::exists(tree.root() + "/sys/fs/cgroup/memory/worker-agent"))
      << "another worker's are in it";
}

TEST(JobCgroupsTest, KeysThatAreNotPlainNamesGetNoPath) {
  JobCgroups cgroups(kV2, "/worker-agent/w1");
  EXPECT_EQ(cgroups.pathFor("../x"), "");
  EXPECT_EQ(cgroups.pathFor("a/b"), "");
  EXPECT_EQ(cgroups.pathFor(""), "");
  EXPECT_EQ(cgroups.pathFor("job-1.x_y"), "/worker-agent/w1/job-1.x_y");
}

TEST(JobCgroupsTest, ProbeSaysWhyWhenTheWorkerCannotUseCgroups) {
  JobCgroups none(kNone, "/worker-agent/w1");
  std::string why;
  EXPECT_FALSE(none.probe(&why));
  EXPECT_NE(why.find("no cgroup hierarchy"), std::string::npos) << why;
  EXPECT_FALSE(none.usable());
  TempTree tree;
  tree.write("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
  ::chmod((tree.root() + "/sys/fs/cgroup").c_str(), 0555);
  JobCgroups read_only(tree.root(), "/worker-agent/w1");
  // As root the mode does not stop mkdir: only an unprivileged run sees the refusal.
  if (::geteuid() != 0) {
    EXPECT_FALSE(read_only.probe(&why));
    EXPECT_NE(why.find("mkdir"), std::string::npos) << why;
  }
  ::chmod((tree.root() + "/sys/fs/cgroup").c_str(), 0755);
  JobCgroups relative(tree.root(), "worker-agent");
  EXPECT_FALSE(relative.probe(&why));
}

}  // namespace
}  // namespace wa::metrics
