// HostInfo read from fixture trees (x86 with sockets and cores, ARM without) and the real host.
#include "metrics/host_info.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <string>

#include "compiled_machine.h"
#include "fixture_hosts.h"
#include "temp_tree.h"

namespace wa::metrics {
namespace {

using testing::TempTree;

using testing::kArm;
using testing::kX86;

std::string unameMachine() {
  utsname uts{};
  EXPECT_EQ(::uname(&uts), 0);
  return uts.machine;
}

TEST(HostInfoTest, X86Fixture) {
  const HostInfo info = HostInfo::read(kX86);
  EXPECT_EQ(info.hostname, "x86-fixture");
  EXPECT_EQ(info.cpu_threads, 4);
  EXPECT_EQ(info.cpu_cores, 2);  // two (physical id, core id) pairs, each with two threads
  EXPECT_EQ(info.memory_mb, 16000);
  EXPECT_EQ(info.os, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(info.cpu_model, "Intel(R) Core(TM) i5-7200U CPU @ 2.50GHz");
  EXPECT_EQ(info.machine, unameMachine());
}

TEST(HostInfoTest, ArmFixtureHasNoCoreTopologyOrOsRelease) {
  const HostInfo info = HostInfo::read(kArm);
  EXPECT_EQ(info.hostname, "arm-fixture");
  EXPECT_EQ(info.cpu_threads, 4);
  EXPECT_EQ(info.cpu_cores, std::nullopt);
  EXPECT_EQ(info.memory_mb, 3793);  // 3884096 kB
  EXPECT_EQ(info.os, "Linux");
  // "Model" (the board) is preferred to "Hardware" (the SoC).
  EXPECT_EQ(info.cpu_model, "Raspberry Pi 4 Model B Rev 1.1");
}

// arm64 kernels name no model: the MIDR implementer and part ids stand for it.
std::string armBlock(int processor, const char* implementer, const char* part) {
  return "processor\t: " + std::to_string(processor) +
         "\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"
         "CPU implementer\t: " +
         implementer + "\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: " + part +
         "\nCPU revision\t: 1\n\n";
}

std::string cpuModelOf(const std::string& cpuinfo) {
  TempTree tree;
  tree.write("proc/cpuinfo", cpuinfo);
  return HostInfo::read(tree.root()).cpu_model;
}

TEST(HostInfoTest, Arm64ServerCpuIsNamedFromItsIds) {
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x41", "0xd0c") + armBlock(1, "0x41", "0xd0c")),
            "ARM Neoverse-N1");
  EXPECT_EQ(cpuModelOf(armBlock(0, "0xc0", "0xac3")), "Ampere Ampere-1");
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x48", "0xd01")), "HiSilicon Kunpeng-920");
  // big.LITTLE: each kind of core once, in the kernel's order.
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x41", "0xd05") + armBlock(1, "0x41", "0xd05") +
                       armBlock(2, "0x41", "0xd0b") + armBlock(3, "0x41", "0xd0b")),
            "ARM Cortex-A55, ARM Cortex-A76");
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x41", "0xfff")), "ARM part 0xfff");
  // Nothing to name: an unknown implementer, ids that are not hex.
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x7f", "0x001")), "");
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x41", "d0c")), "");
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x41", "0x")), "");
  EXPECT_EQ(cpuModelOf(armBlock(0, "0x41", "0xd0cz")), "");
  // A model the kernel names (the Raspberry Pi fixture has ids too) wins.
  EXPECT_EQ(cpuModelOf("model name\t: Some CPU\n\n" + armBlock(0, "0x41", "0xd0c")), "Some CPU");
}

TEST(HostInfoTest, TrailingSlashOnRootIsFine) {
  EXPECT_EQ(HostInfo::read(kX86 + "/").hostname, "x86-fixture");
}

TEST(HostInfoTest, EmptyTreeGivesEmptyFactsNotErrors) {
  TempTree tree;
  const HostInfo info = HostInfo::read(tree.root());
  EXPECT_EQ(info.hostname, "");
  EXPECT_EQ(info.cpu_threads, 0);  // no sysconf fallback: that would describe this host
  EXPECT_EQ(info.cpu_cores, std::nullopt);
  EXPECT_EQ(info.memory_mb, 0);
  EXPECT_EQ(info.os, "Linux");
  EXPECT_EQ(info.cpu_model, "");
}

TEST(HostInfoTest, TwoSocketsCountDistinctPairs) {
  TempTree tree;
  std::string cpuinfo;
  // Two sockets, each with core ids 0 and 1, and two threads per core: 4 cores, 8 threads.
  int processor = 0;
  for (int thread = 0; thread < 2; ++thread) {
    for (int socket = 0; socket < 2; ++socket) {
      for (int core = 0; core < 2; ++core) {
        cpuinfo += "processor\t: " + std::to_string(processor++) +
                   "\nphysical id\t: " + std::to_string(socket) +
                   "\ncore id\t\t: " + std::to_string(core) + "\n\n";
      }
    }
  }
  tree.write("proc/cpuinfo", cpuinfo);
  const HostInfo info = HostInfo::read(tree.root());
  EXPECT_EQ(info.cpu_threads, 8);
  EXPECT_EQ(info.cpu_cores, 4);
}

TEST(HostInfoTest, OtherModelFields) {
  TempTree hardware;
  hardware.write("proc/cpuinfo", "processor\t: 0\nHardware\t: Allwinner sun8i\n");
  EXPECT_EQ(HostInfo::read(hardware.root()).cpu_model, "Allwinner sun8i");
  TempTree mips;
  mips.write("proc/cpuinfo",
             "system type\t\t: MT7621\nprocessor\t\t: 0\ncpu model\t\t: MIPS 1004Kc V2.15\n");
  EXPECT_EQ(HostInfo::read(mips.root()).cpu_model, "MIPS 1004Kc V2.15");
}

TEST(HostInfoTest, OsReleaseQuotingAndFallback) {
  TempTree single;
  single.write("etc/os-release", "NAME=x\nPRETTY_NAME='Alpine Linux v3.20'\n");
  EXPECT_EQ(HostInfo::read(single.root()).os, "Alpine Linux v3.20");
  TempTree bare;
  bare.write("etc/os-release", "PRETTY_NAME=Gentoo\n");
  EXPECT_EQ(HostInfo::read(bare.root()).os, "Gentoo");
  TempTree escaped;
  escaped.write("etc/os-release", "PRETTY_NAME=\"My \\\"special\\\" OS\"\n");
  EXPECT_EQ(HostInfo::read(escaped.root()).os, "My \"special\" OS");
  TempTree usr_lib;
  usr_lib.write("usr/lib/os-release", "PRETTY_NAME=\"Fedora Linux 40\"\n");
  EXPECT_EQ(HostInfo::read(usr_lib.root()).os, "Fedora Linux 40");
  TempTree no_pretty;
  no_pretty.write("etc/os-release", "NAME=Thing\n");
  EXPECT_EQ(HostInfo::read(no_pretty.root()).os, "Linux");
}

TEST(HostInfoTest, RealHost) {
  const HostInfo info = HostInfo::read("/");
  EXPECT_FALSE(info.hostname.empty());
  EXPECT_GE(info.cpu_threads, 1);
  EXPECT_GT(info.memory_mb, 0);
  EXPECT_FALSE(info.os.empty());
  EXPECT_EQ(info.machine, unameMachine());
  EXPECT_FALSE(info.os_architecture.empty());
  if (info.cpu_cores) {
    EXPECT_GE(*info.cpu_cores, 1);
    EXPECT_LE(*info.cpu_cores, info.cpu_threads);
  }
}

// os_architecture in Node's names as the reference worker reports it ("x64", "arm64"), and
// machine in the kernel's ("x86_64", "aarch64"); neither in the distribution's (Debian's
// "amd64"): the convention of protocol/WORKER_HTTP_API.md.
TEST(HostInfoTest, ArchitectureIsTheOneTheWorkerRunsOn) {
  if (kCompiledMachine.empty()) GTEST_SKIP() << "no expected machine name for this build";
  EXPECT_EQ(HostInfo::read("/").os_architecture, kCompiledArchitecture);
  EXPECT_EQ(HostInfo::read("/").machine, kCompiledMachine);
  // A fixture tree describes another machine's files, but the architecture is this one's.
  EXPECT_EQ(HostInfo::read(kArm).os_architecture, kCompiledArchitecture);
  EXPECT_EQ(HostInfo::read(kArm).machine, kCompiledMachine);
}

}  // namespace
}  // namespace wa::metrics
