// HostSampler over fixture trees: values parsed, missing files, the re-arming timer.
#include "metrics/host_sampler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/event_loop.h"
#include "fixture_hosts.h"
#include "temp_tree.h"

namespace wa::metrics {
namespace {

using testing::TempTree;

using testing::kArm;
using testing::kX86;
const std::string kV2Host = WA_FIXTURES_DIR "/metrics/cgroup_v2_host";
const std::string kV1Host = WA_FIXTURES_DIR "/metrics/cgroup_v1_host";
constexpr core::Millis kInterval{5000};

class HostSamplerTest : public ::testing::Test {
 protected:
  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
};

TEST_F(HostSamplerTest, NothingIsReadBeforeStart) {
  HostSampler sampler(loop_, kX86, kInterval);
  EXPECT_EQ(sampler.latest().memory_total_mb, std::nullopt);
  EXPECT_EQ(sampler.latest().temperature_c, std::nullopt);
}

TEST_F(HostSamplerTest, X86FixtureValues) {
  HostSampler sampler(loop_, kX86, kInterval);
  sampler.start();
  const HostSample& s = sampler.latest();
  EXPECT_DOUBLE_EQ(s.load_average[0], 0.52);
  EXPECT_DOUBLE_EQ(s.load_average[1], 1.25);
  EXPECT_DOUBLE_EQ(s.load_average[2], 2.50);
  EXPECT_EQ(s.memory_total_mb, 16000);
  EXPECT_EQ(s.memory_available_mb, 8000);
  // Zones at 45.0, 71.5 and 38.25; the hottest wins; cooling_device0 is not a zone.
  ASSERT_TRUE(s.temperature_c);
  EXPECT_DOUBLE_EQ(*s.temperature_c, 71.5);
}

TEST_F(HostSamplerTest, ArmFixtureHasNoThermalZonesOrMemAvailable) {
  HostSampler sampler(loop_, kArm, kInterval);
  sampler.start();
  const HostSample& s = sampler.latest();
  EXPECT_DOUBLE_EQ(s.load_average[2], 0.05);
  EXPECT_EQ(s.memory_total_mb, 3793);
  EXPECT_EQ(s.memory_available_mb, std::nullopt);  // kernels before 3.14
  EXPECT_EQ(s.temperature_c, std::nullopt);
}

TEST_F(HostSamplerTest, MissingTreeGivesZerosAndNothing) {
  HostSampler sampler(loop_, WA_FIXTURES_DIR "/metrics/no-such-host", kInterval);
  sampler.setJobsPath(WA_FIXTURES_DIR "/metrics/no-such-host/jobs");
  sampler.start();
  const HostSample& s = sampler.latest();
  EXPECT_EQ(s.load_average, (std::array<double, 3>{0, 0, 0}));
  EXPECT_EQ(s.memory_total_mb, std::nullopt);
  EXPECT_EQ(s.memory_available_mb, std::nullopt);
  EXPECT_EQ(s.temperature_c, std::nullopt);
  EXPECT_EQ(s.jobs_disk.total_mb, std::nullopt);
  EXPECT_EQ(s.jobs_disk.available_mb, std::nullopt);
  EXPECT_EQ(s.docker_disk.total_mb, std::nullopt);
}

TEST_F(HostSamplerTest, MalformedLoadavgGivesZeros) {
  TempTree tree;
  tree.write("proc/loadavg", "0.10 garbage\n");
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().load_average, (std::array<double, 3>{0, 0, 0}));
}

TEST_F(HostSamplerTest, DiskUsageOfConfiguredPaths) {
  HostSampler sampler(loop_, kX86, kInterval);
  sampler.setJobsPath(WA_FIXTURES_DIR);
  sampler.setDockerRootDir("");  // unknown until the engine says
  EXPECT_EQ(sampler.jobsPath(), WA_FIXTURES_DIR);
  sampler.sampleNow();
  const HostSample& s = sampler.latest();
  ASSERT_TRUE(s.jobs_disk.total_mb);
  ASSERT_TRUE(s.jobs_disk.available_mb);
  EXPECT_GT(*s.jobs_disk.total_mb, 0);
  EXPECT_GE(*s.jobs_disk.available_mb, 0);
  EXPECT_LE(*s.jobs_disk.available_mb, *s.jobs_disk.total_mb);
  EXPECT_EQ(s.docker_disk.total_mb, std::nullopt);
  EXPECT_EQ(s.docker_disk.available_mb, std::nullopt);
}

// A directory not created yet is measured by its parent's file system, as the reference
// worker does; one whose parent is missing too is not measured.
TEST_F(HostSamplerTest, DiskUsageOfADirectoryNotCreatedYetIsItsParents) {
  HostSampler sampler(loop_, kX86, kInterval);
  sampler.setJobsPath(WA_FIXTURES_DIR "/not-created-yet/");
  sampler.setDockerRootDir(WA_FIXTURES_DIR "/not-created/nor-this");
  sampler.sampleNow();
  const HostSample& s = sampler.latest();
  ASSERT_TRUE(s.jobs_disk.total_mb);
  ASSERT_TRUE(s.jobs_disk.available_mb);
  EXPECT_GT(*s.jobs_disk.total_mb, 0);
  EXPECT_EQ(s.docker_disk.total_mb, std::nullopt);
  EXPECT_EQ(s.docker_disk.available_mb, std::nullopt);
}

TEST_F(HostSamplerTest, ImplausibleAndUnreadableZonesAreSkipped) {
  TempTree tree;
  const std::string zones = "sys/class/thermal/";
  tree.write(zones + "thermal_zone0/temp", "-273000\n");     // sensor absent
  tree.write(zones + "thermal_zone1/temp", "2147483647\n");  // INT_MAX: read error code
  tree.write(zones + "thermal_zone2/temp", "warm\n");
  tree.write(zones + "thermal_zone3/temp", "");
  tree.makeDirectory(zones + "thermal_zone4");  // no temp file at all
  tree.write(zones + "thermal_zone5/temp", "55000\n");
  tree.write(zones + "thermal_zone6/temp", "-5000\n");
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.sampleNow();
  ASSERT_TRUE(sampler.latest().temperature_c);
  EXPECT_DOUBLE_EQ(*sampler.latest().temperature_c, 55.0);
}

TEST_F(HostSamplerTest, OnlyImplausibleZonesMeanNoTemperature) {
  TempTree tree;
  tree.write("sys/class/thermal/thermal_zone0/temp", "-273000\n");
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().temperature_c, std::nullopt);
}

TEST_F(HostSamplerTest, TimerResamplesEveryInterval) {
  TempTree tree;
  tree.write("proc/loadavg", "1.00 1.00 1.00 1/1 1\n");
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.start();
  EXPECT_DOUBLE_EQ(sampler.latest().load_average[0], 1.0);

  tree.write("proc/loadavg", "2.00 1.00 1.00 1/1 1\n");
  clock_.advance(kInterval - core::Millis(1));
  loop_.runOnce(0);
  EXPECT_DOUBLE_EQ(sampler.latest().load_average[0], 1.0) << "sampled before the interval";

  clock_.advance(core::Millis(1));
  loop_.runOnce(0);
  EXPECT_DOUBLE_EQ(sampler.latest().load_average[0], 2.0);

  // And again: the timer re-armed itself.
  tree.write("proc/loadavg", "3.00 1.00 1.00 1/1 1\n");
  clock_.advance(kInterval);
  loop_.runOnce(0);
  EXPECT_DOUBLE_EQ(sampler.latest().load_average[0], 3.0);
}

TEST_F(HostSamplerTest, DestroyingTheSamplerCancelsItsTimer) {
  {
    HostSampler sampler(loop_, kX86, kInterval);
    sampler.start();
  }
  clock_.advance(kInterval);
  loop_.runOnce(0);  // would touch the destroyed sampler if the timer were still armed
  EXPECT_FALSE(loop_.timers().nextDeadline().has_value());
}

TEST_F(HostSamplerTest, RealHost) {
  HostSampler sampler(loop_, "/", kInterval);
  sampler.setJobsPath("/");
  sampler.sampleNow();
  const HostSample& s = sampler.latest();
  ASSERT_TRUE(s.memory_total_mb);
  EXPECT_GT(*s.memory_total_mb, 0);
  EXPECT_TRUE(s.jobs_disk.total_mb);
  for (double load : s.load_average) EXPECT_GE(load, 0.0);
  if (s.temperature_c) {
    EXPECT_GE(*s.temperature_c, -40.0);
    EXPECT_LE(*s.temperature_c, 150.0);
  }
}

TEST_F(HostSamplerTest, SeveralThermalZonesWithTypes) {
  HostSampler sampler(loop_, kV2Host, kInterval);
  sampler.sampleNow();
  const HostSample& s = sampler.latest();
  // zone2 reads -273 (no sensor) and is left out; zone10 sorts after zone2, not after zone1.
  ASSERT_EQ(s.thermal_zones.size(), 3u);
  EXPECT_EQ(s.thermal_zones[0].zone, "thermal_zone0");
  EXPECT_EQ(s.thermal_zones[0].type, "acpitz");
  EXPECT_DOUBLE_EQ(s.thermal_zones[0].temperature_c, 27.8);
  EXPECT_EQ(s.thermal_zones[1].type, "x86_pkg_temp");
  EXPECT_EQ(s.thermal_zones[2].zone, "thermal_zone10");
  EXPECT_EQ(s.thermal_zones[2].type, "pch_cannonlake");
  ASSERT_TRUE(s.temperature_c);
  EXPECT_DOUBLE_EQ(*s.temperature_c, 64.0);
}

TEST_F(HostSamplerTest, NoThermalZones) {
  HostSampler sampler(loop_, kV1Host, kInterval);
  sampler.sampleNow();
  EXPECT_TRUE(sampler.latest().thermal_zones.empty());
  EXPECT_EQ(sampler.latest().temperature_c, std::nullopt);
}

TEST_F(HostSamplerTest, CpuBusyPercentIsTheDifferenceBetweenSamples) {
  TempTree tree;
  tree.write("proc/stat", "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n");
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cpu_usage_percent, std::nullopt) << "one reading is no rate";
  // +300 busy (user 200, system 100) and +100 idle +100 iowait: 300 of 500.
  tree.write("proc/stat", "cpu  300 0 200 800 200 0 0 0 0 0\n");
  sampler.sampleNow();
  ASSERT_TRUE(sampler.latest().cpu_usage_percent);
  EXPECT_DOUBLE_EQ(*sampler.latest().cpu_usage_percent, 60.0);
  // Nothing moved: no rate rather than a division by zero.
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cpu_usage_percent, std::nullopt);
  tree.write("proc/stat", "garbage\n");
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cpu_usage_percent, std::nullopt);
}

TEST_F(HostSamplerTest, CgroupV2WorkerAndJobs) {
  HostSampler sampler(loop_, kV2Host, kInterval);
  sampler.setJobContainers([] {
    return std::vector<JobContainer>{
        {"aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"},
        {"bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222"},
        {"dddddddddddd4444444444444444444444444444444444444444444444444444"}};  // gone
  });
  sampler.sampleNow();
  const CgroupSample& c = sampler.latest().cgroup;
  EXPECT_EQ(c.version, CgroupVersion::kV2);
  EXPECT_EQ(c.worker.memory_current_bytes, 41'943'040u);
  EXPECT_EQ(c.worker_cpu_percent, std::nullopt);
  EXPECT_EQ(c.job_containers, 3u);
  EXPECT_EQ(c.job_containers_found, 2u);
  EXPECT_EQ(c.jobs.memory_current_bytes, 10'485'760u + 5'242'880u);
  EXPECT_EQ(c.jobs.cpu_usage_usec, 1'500'000u);
  EXPECT_EQ(c.jobs.pids_current, 3u);
  EXPECT_EQ(c.jobs.oom_kills, 1u);
  EXPECT_EQ(c.jobs.io_read_bytes, 4096u) << "only the one that has io.stat";
}

TEST_F(HostSamplerTest, CgroupWorkerCpuPercentFromTheClock) {
  TempTree tree;
  tree.write("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
  tree.write("proc/self/cgroup", "0::/w\n");
  tree.write("sys/fs/cgroup/w/cpu.stat", "usage_usec 1000000\n");
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.sampleNow();
  tree.write("sys/fs/cgroup/w/cpu.stat", "usage_usec 1250000\n");
  clock_.advance(core::Millis(1000));
  sampler.sampleNow();
  ASSERT_TRUE(sampler.latest().cgroup.worker_cpu_percent);
  EXPECT_DOUBLE_EQ(*sampler.latest().cgroup.worker_cpu_percent, 25.0);
}

TEST_F(HostSamplerTest, CgroupV1Fallback) {
  HostSampler sampler(loop_, kV1Host, kInterval);
  sampler.setJobContainers([] {
    return std::vector<JobContainer>{
        {"cccccccccccc3333333333333333333333333333333333333333333333333333"}};
  });
  sampler.sampleNow();
  const CgroupSample& c = sampler.latest().cgroup;
  EXPECT_EQ(c.version, CgroupVersion::kV1);
  EXPECT_EQ(c.worker.memory_current_bytes, 31'457'280u);
  EXPECT_EQ(c.worker.cpu_usage_usec, 3'000'000u);
  EXPECT_EQ(c.job_containers_found, 1u);
  EXPECT_EQ(c.jobs.memory_max_bytes, 134'217'728u);
  EXPECT_DOUBLE_EQ(sampler.latest().load_average[0], 0.5);
}

// Descriptors this process has open.
size_t openDescriptors() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator()));
}

TEST_F(HostSamplerTest, ContainerFilesAreHeldWhileListedAndClosedAfter) {
  const std::string id = "cccccccccccc3333333333333333333333333333333333333333333333333333";
  std::vector<JobContainer> listed = {{id}};
  HostSampler sampler(loop_, kV1Host, kInterval);
  sampler.setJobContainers([&listed] { return listed; });
  const size_t before = openDescriptors();
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cgroup.job_containers_found, 1u);
  const size_t holding = openDescriptors();
  EXPECT_GT(holding, before) << "its cgroup files are held open";
  EXPECT_LE(holding, before + 8);
  sampler.sampleNow();
  EXPECT_EQ(openDescriptors(), holding) << "a second sample reads the held files, opens none";
  EXPECT_EQ(sampler.latest().cgroup.jobs.memory_max_bytes, 134'217'728u);
  listed.clear();
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cgroup.job_containers, 0u);
  EXPECT_EQ(openDescriptors(), before) << "no longer listed: closed";
}

TEST_F(HostSamplerTest, AContainerNotFoundYetIsLookedUpAgain) {
  TempTree tree;
  tree.makeDirectory("sys/fs/cgroup/memory");
  const std::string id = "eeeeeeeeeeee5555555555555555555555555555555555555555555555555555";
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.setJobContainers([&id] { return std::vector<JobContainer>{{id}}; });
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cgroup.job_containers_found, 0u) << "being created";
  tree.write("sys/fs/cgroup/memory/docker/" + id + "/memory.usage_in_bytes", "8192\n");
  sampler.sampleNow();
  EXPECT_EQ(sampler.latest().cgroup.job_containers_found, 1u);
  EXPECT_EQ(sampler.latest().cgroup.jobs.memory_current_bytes, 8192u);
}

TEST_F(HostSamplerTest, AContainersReadingsOutliveItsCgroupWhileItIsListed) {
  TempTree tree;
  tree.write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
  const std::string id = "ffffffffffff6666666666666666666666666666666666666666666666666666";
  const std::string dir = "sys/fs/cgroup/worker-agent/w1/job-9/" + id;
  std::vector<JobContainer> listed = {{id, "/worker-agent/w1/job-9"}};
  HostSampler sampler(loop_, tree.root(), kInterval);
  sampler.setJobContainers([&listed] { return listed; });
  EXPECT_EQ(sampler.readings(id), nullptr);
  tree.write(dir + "/memory.current", "3000\n");
  tree.write(dir + "/pids.current", "2\n");
  tree.write(dir + "/cpu.stat", "usage_usec 100\n");
  sampler.sampleNow();
  tree.write(dir + "/memory.current", "1000\n");
  tree.write(dir + "/pids.current", "5\n");
  tree.write(dir + "/cpu.stat", "usage_usec 900\n");
  sampler.sampleNow();
  std::filesystem::remove_all(tree.root() + "/" + dir);  // the container exited
  sampler.sampleNow();
  const ContainerReadings* seen = sampler.readings(id);
  ASSERT_NE(seen, nullptr) << "kept for its run, which asks after the exit";
  EXPECT_EQ(seen->last.cpu_usage_usec, 900u);
  EXPECT_EQ(seen->last.memory_current_bytes, 1000u);
  EXPECT_EQ(seen->memory_max_seen, 3000u) << "the largest reading, for a kernel without peaks";
  EXPECT_EQ(seen->pids_max_seen, 5u);
  listed.clear();
  sampler.sampleNow();
  EXPECT_EQ(sampler.readings(id), nullptr) << "no longer listed: forgotten";
}

TEST_F(HostSamplerTest, NoCgroupsAtAll) {
  HostSampler sampler(loop_, kArm, kInterval);
  sampler.setJobContainers([] { return std::vector<JobContainer>{{"aaaaaaaaaaaa"}}; });
  sampler.sampleNow();
  const CgroupSample& c = sampler.latest().cgroup;
  EXPECT_EQ(c.version, CgroupVersion::kNone);
  EXPECT_FALSE(c.worker.found);
  EXPECT_EQ(c.job_containers_found, 0u);
  EXPECT_EQ(c.jobs.memory_current_bytes, std::nullopt);
}

}  // namespace
}  // namespace wa::metrics
