// Cgroup usage of the worker and of its job containers, read from the cgroup file
// system under a root prefix. cgroup v2 (the unified hierarchy) is read from cpu.stat,
// memory.current, memory.peak, memory.max, memory.events, pids.current, pids.peak and
// io.stat; hosts still on cgroup v1 are read from the memory, cpuacct, pids and blkio
// controllers. A hybrid host
// (v1 controllers plus an empty cgroup2 mount at /sys/fs/cgroup/unified) counts as v1,
// because that is where the controllers, and so the numbers, are.
// Every missing or malformed file leaves its field unset; nothing here is an error.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/unique_fd.h"

namespace wa::metrics {

enum class CgroupVersion { kNone, kV1, kV2 };

// "none", "v1", "v2".
const char* cgroupVersionName(CgroupVersion version);

struct CgroupUsage {
  bool found = false;                            // the cgroup's directory exists
  std::optional<uint64_t> cpu_usage_usec;        // v2 cpu.stat usage_usec; v1 cpuacct.usage / 1000
  std::optional<uint64_t> memory_current_bytes;  // v2 memory.current; v1 memory.usage_in_bytes
  std::optional<uint64_t> memory_max_bytes;      // the limit; unset when there is none
  std::optional<uint64_t> oom_kills;             // v2 memory.events oom_kill; v1 memory.oom_control
  std::optional<uint64_t> pids_current;          // pids.current
  std::optional<uint64_t> io_read_bytes;         // v2 io.stat rbytes; v1 blkio service bytes Read
  std::optional<uint64_t> io_write_bytes;        // v2 io.stat wbytes; v1 ... Write
  // The kernel's high-water marks, where it keeps them: v2 memory.peak (Linux 5.19), v1
  // memory.max_usage_in_bytes; pids.peak (Linux 6.1, either version).
  std::optional<uint64_t> memory_peak_bytes;
  std::optional<uint64_t> pids_peak;
};

// Which hierarchy root/sys/fs/cgroup holds: v2 when it has cgroup.controllers, v1 when it
// has a memory or cpuacct controller directory, else none.
CgroupVersion detectCgroupVersion(const std::string& root);

// The cgroup the calling process is in (root/proc/self/cgroup). Unset fields, and
// found == false, when the process's cgroup directory is not visible under root or is
// the root cgroup (whose figures are the whole host's); on v1 this holds per controller.
CgroupUsage readOwnCgroup(const std::string& root, CgroupVersion version);

// The cgroup Docker or Podman made for a container, looked up where their systemd and
// cgroupfs drivers put it (v2: system.slice/docker-<id>.scope, docker/<id>,
// machine.slice/libpod-<id>.scope, libpod_parent/libpod-<id>; v1 the same under each
// controller), or under cgroup_parent when the container was created with one
// (<parent>/<id>, <parent>/docker-<id>.scope, <parent>/libpod-<id>). found == false when
// it is in none of them, id is not a hex id or cgroup_parent is not an absolute path.
CgroupUsage readContainerCgroup(const std::string& root, CgroupVersion version,
                                std::string_view container_id, std::string_view cgroup_parent = "");

// Readers for one cgroup directory (exposed for tests). v1 takes one directory per
// controller, "" for a controller that is not there.
CgroupUsage readCgroupV2(const std::string& dir);
struct CgroupV1Dirs {
  std::string memory;
  std::string cpuacct;
  std::string pids;
  std::string blkio;
  // Read blkio's _recursive file, which counts the cgroup's descendants too (a parent's).
  bool recursive_io = false;
};
CgroupUsage readCgroupV1(const CgroupV1Dirs& dirs);

// One cgroup's files held open, so that each reading is one pread per file. Opening a
// cgroupfs file costs several times reading it (50 containers' six v1 files: 2.8 ms
// opened each time, 0.4-0.7 ms read through held descriptors, on this project's test
// machines), and the sampler reads every running job's container on the event loop at
// every interval. Up to eight descriptors per cgroup; move-only.
class CgroupFiles {
 public:
  CgroupFiles() = default;
  // The files of a v2 cgroup directory, or of v1 controller directories ("" for one that
  // is not there). A file missing from a directory stays unread; found() is false when
  // the directory (on v1, every one) is missing.
  static CgroupFiles openV2(const std::string& dir);
  static CgroupFiles openV1(const CgroupV1Dirs& dirs);
  // A container's cgroup, looked up as readContainerCgroup says.
  static CgroupFiles openContainer(const std::string& root, CgroupVersion version,
                                   std::string_view container_id,
                                   std::string_view cgroup_parent = "");

  bool found() const { return found_; }
  // The figures now. found is false when the cgroup was not found at open, or is gone
  // since: every file held reads an error (a removed cgroup's files read ENODEV).
  CgroupUsage read() const;

 private:
  enum Slot {
    kCpu,
    kMemoryCurrent,
    kMemoryMax,
    kMemoryEvents,
    kPids,
    kIo,
    kMemoryPeak,
    kPidsPeak,
    kSlots
  };
  void open(Slot slot, const std::string& path);

  CgroupVersion version_ = CgroupVersion::kNone;
  bool found_ = false;
  std::array<core::UniqueFd, kSlots> files_;
};

}  // namespace wa::metrics
