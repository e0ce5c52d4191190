// CgroupReader over fixture trees imitating cgroup v2, hybrid cgroup v1, and nothing.
#include "metrics/cgroup_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "fixture_hosts.h"
#include "temp_tree.h"

namespace wa::metrics {
namespace {

using testing::TempTree;

using testing::kNone;
using testing::kV1;
using testing::kV2;
const std::string kV2Scope = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111";
const std::string kV2Cgroupfs = "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222";
const std::string kV1Container = "cccccccccccc3333333333333333333333333333333333333333333333333333";
const std::string kV1Podman = "dddddddddddd4444444444444444444444444444444444444444444444444444";

TEST(CgroupReaderTest, DetectsTheVersion) {
  EXPECT_EQ(detectCgroupVersion(kV2), CgroupVersion::kV2);
  // Hybrid: a cgroup2 mount at unified/ beside the v1 controllers is still v1.
  EXPECT_EQ(detectCgroupVersion(kV1), CgroupVersion::kV1);
  EXPECT_EQ(detectCgroupVersion(kNone), CgroupVersion::kNone);
  EXPECT_STREQ(cgroupVersionName(CgroupVersion::kV2), "v2");
  EXPECT_STREQ(cgroupVersionName(CgroupVersion::kNone), "none");
}

TEST(CgroupReaderTest, OwnCgroupV2) {
  const CgroupUsage u = readOwnCgroup(kV2, CgroupVersion::kV2);
  EXPECT_TRUE(u.found);
  EXPECT_EQ(u.cpu_usage_usec, 2'500'000u);
  EXPECT_EQ(u.memory_current_bytes, 41'943'040u);
  EXPECT_EQ(u.memory_max_bytes, std::nullopt) << "memory.max says max";
  EXPECT_EQ(u.oom_kills, 0u);
  EXPECT_EQ(u.pids_current, 7u);
  EXPECT_EQ(u.io_read_bytes, 1'048'576u + 1024u) << "summed over devices";
  EXPECT_EQ(u.io_write_bytes, 2'097'152u);
}

TEST(CgroupReaderTest, OwnCgroupV1) {
  const CgroupUsage u = readOwnCgroup(kV1, CgroupVersion::kV1);
  EXPECT_TRUE(u.found);
  EXPECT_EQ(u.cpu_usage_usec, 3'000'000u) << "cpuacct.usage is in nanoseconds";
  EXPECT_EQ(u.memory_current_bytes, 31'457'280u);
  EXPECT_EQ(u.memory_max_bytes, std::nullopt) << "v1's huge limit means none";
  EXPECT_EQ(u.oom_kills, 0u);
  EXPECT_EQ(u.pids_current, 5u);
  EXPECT_EQ(u.io_read_bytes, 65'536u);
  EXPECT_EQ(u.io_write_bytes, 131'072u);
}

TEST(CgroupReaderTest, ContainersUnderEitherDriver) {
  const CgroupUsage scope = readContainerCgroup(kV2, CgroupVersion::kV2, kV2Scope);
  EXPECT_TRUE(scope.found);
  EXPECT_EQ(scope.memory_current_bytes, 10'485'760u);
  EXPECT_EQ(scope.memory_max_bytes, 536'870'912u);
  EXPECT_EQ(scope.oom_kills, 1u);
  EXPECT_EQ(scope.pids_current, 2u);

  const CgroupUsage cgroupfs = readContainerCgroup(kV2, CgroupVersion::kV2, kV2Cgroupfs);
  EXPECT_TRUE(cgroupfs.found);
  EXPECT_EQ(cgroupfs.cpu_usage_usec, 500'000u);
  EXPECT_EQ(cgroupfs.io_read_bytes, std::nullopt) << "no io.stat";

  const CgroupUsage v1 = readContainerCgroup(kV1, CgroupVersion::kV1, kV1Container);
  EXPECT_TRUE(v1.found);
  EXPECT_EQ(v1.memory_current_bytes, 20'971'520u);
  EXPECT_EQ(v1.memory_max_bytes, 134'217'728u);
  EXPECT_EQ(v1.oom_kills, 2u);
  EXPECT_EQ(v1.cpu_usage_usec, 750'000u);
  EXPECT_EQ(v1.io_write_bytes, 4096u);
}

TEST(CgroupReaderTest, UnknownOrBadContainerIdsAreNotFound) {
  // Podman with cgroupfs (these hosts): libpod_parent/libpod-<id> under each controller.
  const CgroupUsage podman = readContainerCgroup(kV1, CgroupVersion::kV1, kV1Podman);
  EXPECT_TRUE(podman.found);
  EXPECT_EQ(podman.memory_max_bytes, 67'108'864u);
  EXPECT_EQ(podman.memory_current_bytes, 1'048'576u);
  EXPECT_EQ(podman.pids_current, 2u);
  EXPECT_FALSE(readContainerCgroup(kV2, CgroupVersion::kV2, std::string(64, 'd')).found);
  EXPECT_FALSE(readContainerCgroup(kV2, CgroupVersion::kV2, "../../../etc").found);
  EXPECT_FALSE(readContainerCgroup(kV2, CgroupVersion::kV2, "").found);
  EXPECT_FALSE(readContainerCgroup(kV1, CgroupVersion::kV2, kV1Container).found);
  EXPECT_FALSE(readContainerCgroup(kNone, CgroupVersion::kNone, kV2Scope).found);
}

TEST(CgroupReaderTest, MissingAndMalformedFilesGiveNothing) {
  TempTree tree;
  tree.write("sys/fs/cgroup/cgroup.controllers", "memory\n");
  tree.write("proc/self/cgroup", "0::/w\n");
  tree.write("sys/fs/cgroup/w/memory.current", "lots\n");
  tree.write("sys/fs/cgroup/w/cpu.stat", "user_usec 5\n");
  const CgroupUsage u = readOwnCgroup(tree.root(), detectCgroupVersion(tree.root()));
  EXPECT_TRUE(u.found);
  EXPECT_EQ(u.memory_current_bytes, std::nullopt);
  EXPECT_EQ(u.cpu_usage_usec, std::nullopt);
  EXPECT_EQ(u.pids_current, std::nullopt);
  EXPECT_EQ(u.io_read_bytes, std::nullopt);
}

TEST(CgroupReaderTest, CgroupOutsideTheMountIsNotRead) {
  TempTree tree;
  tree.write("sys/fs/cgroup/cgroup.controllers", "memory\n");
  tree.write("proc/self/cgroup", "0::/../../elsewhere\n");
  EXPECT_FALSE(readOwnCgroup(tree.root(), CgroupVersion::kV2).found);
  tree.write("proc/self/cgroup", "");
  EXPECT_FALSE(readOwnCgroup(tree.root(), CgroupVersion::kV2).found);
}

TEST(CgroupReaderTest, TheRootCgroupIsNotTheWorkers) {
  TempTree tree;
  tree.write("sys/fs/cgroup/cgroup.controllers", "memory\n");
  tree.write("sys/fs/cgroup/cpu.stat", "usage_usec 999999999\n");
  tree.write("proc/self/cgroup", "0::/\n");
  EXPECT_FALSE(readOwnCgroup(tree.root(), CgroupVersion::kV2).found);
  // v1: per controller; memory in a cgroup of its own, cpuacct at the root.
  TempTree v1;
  v1.write("sys/fs/cgroup/memory/w/memory.usage_in_bytes", "4096\n");
  v1.write("sys/fs/cgroup/cpuacct/cpuacct.usage", "999999999999\n");
  v1.write("proc/self/cgroup", "4:memory:/w\n2:cpuacct:/\n");
  const CgroupUsage u = readOwnCgroup(v1.root(), CgroupVersion::kV1);
  EXPECT_TRUE(u.found);
  EXPECT_EQ(u.memory_current_bytes, 4096u);
  EXPECT_EQ(u.cpu_usage_usec, std::nullopt);
}

TEST(CgroupReaderTest, HeldFilesReadWhatTheFilesSayNow) {
  TempTree tree;
  tree.write("sys/fs/cgroup/memory/docker/" + kV1Container + "/memory.usage_in_bytes", "4096\n");
  tree.write("sys/fs/cgroup/cpuacct/docker/" + kV1Container + "/cpuacct.usage", "1000000\n");
  const CgroupFiles files =
      CgroupFiles::openContainer(tree.root(), CgroupVersion::kV1, kV1Container);
  ASSERT_TRUE(files.found());
  EXPECT_EQ(files.read().memory_current_bytes, 4096u);
  // Rewritten in place, as the kernel makes a cgroup file anew at every read from 0.
  tree.write("sys/fs/cgroup/memory/docker/" + kV1Container + "/memory.usage_in_bytes",
             "1073741824\n");
  tree.write("sys/fs/cgroup/cpuacct/docker/" + kV1Container + "/cpuacct.usage", "5000\n");
  const CgroupUsage later = files.read();
  EXPECT_TRUE(later.found);
  EXPECT_EQ(later.memory_current_bytes, 1'073'741'824u);
  EXPECT_EQ(later.cpu_usage_usec, 5u);
  EXPECT_EQ(later.pids_current, std::nullopt) << "no pids controller: nothing held for it";
}

TEST(CgroupReaderTest, NothingFoundHoldsNothing) {
  EXPECT_FALSE(CgroupFiles().found());
  EXPECT_FALSE(CgroupFiles().read().found);
  EXPECT_FALSE(CgroupFiles::openContainer(kV2, CgroupVersion::kV2, std::string(64, 'd')).found());
  EXPECT_FALSE(CgroupFiles::openV1({}).read().found);
}

// A real cgroup made and removed under the host's cgroupfs: what the held files read once
// the cgroup is gone. Needs root and a writable cgroup v1 memory or v2 hierarchy.
TEST(CgroupReaderTest, ARemovedRealCgroupReadsAsGone) {
  const CgroupVersion version = detectCgroupVersion("/");
  const std::string name = "wa-unit-" + std::to_string(::getpid());
  const std::string dir =
      version == CgroupVersion::kV1 ? "/sys/fs/cgroup/memory/" + name : "/sys/fs/cgroup/" + name;
  if (version == CgroupVersion::kNone || ::mkdir(dir.c_str(), 0755) != 0) {
    GTEST_SKIP() << "cannot make a cgroup here: " << dir;
  }
  const CgroupFiles files = version == CgroupVersion::kV1 ? CgroupFiles::openV1({dir, "", "", ""})
                                                          : CgroupFiles::openV2(dir);
  const CgroupUsage before = files.read();
  const CgroupUsage again = files.read();
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  EXPECT_TRUE(before.found);
  EXPECT_TRUE(again.found);
  if (before.memory_current_bytes) {
    EXPECT_EQ(again.memory_current_bytes, before.memory_current_bytes) << "an empty cgroup";
  }
  EXPECT_FALSE(files.read().found);
}

TEST(CgroupReaderTest, RealHostDoesNotFail) {
  const CgroupVersion version = detectCgroupVersion("/");
  const CgroupUsage u = readOwnCgroup("/", version);
  if (version != CgroupVersion::kNone && u.memory_current_bytes) {
    EXPECT_GT(*u.memory_current_bytes, 0u);
  }
}

}  // namespace
}  // namespace wa::metrics
