#include "metrics/cgroup_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include "metrics/proc_files.h"

namespace wa::metrics {
namespace {

// cgroup v1 reports "no limit" as the largest page-aligned signed 64-bit value (and some
// kernels as other values near it); nothing real is that large.
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

bool isDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  text = trimWhitespace(text);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// A file holding one number ("max" or anything else non-numeric gives nothing).
std::optional<uint64_t> number(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return parseUnsigned(*text);
}

// The whole of a held file, read from its start, or nullopt on a read error or past
// 64 KiB. Reading a cgroupfs (or /proc) file from offset 0 makes it anew each time.
std::optional<std::string> readHeld(const core::UniqueFd& fd) {
  if (!fd) return std::nullopt;
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::pread(fd.get(), buffer, sizeof buffer, static_cast<off_t>(text.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) return text;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > (size_t{1} << 16)) return std::nullopt;
  }
}

// Calls fn(line) for every line of text.
template <typename Fn>
void forEachLine(std::string_view text, Fn fn) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    fn(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

// The value of "key value" in a flat-keyed file such as cpu.stat or memory.events.
std::optional<uint64_t> keyedValue(const std::optional<std::string>& text, std::string_view key) {
  if (!text) return std::nullopt;
  std::optional<uint64_t> found;
  forEachLine(*text, [&](std::string_view line) {
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      found = parseUnsigned(line.substr(key.size() + 1));
    }
  });
  return found;
}

bool isContainerId(std::string_view id) {
  if (id.size() < 12 || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The path of a cgroup from a /proc/<pid>/cgroup line "id:controllers:path" whose
// controller list names controller (v1), or whose id is 0 and list is empty (v2).
std::optional<std::string> ownCgroupPath(const std::string& proc_cgroup,
                                         std::string_view controller) {
  std::optional<std::string> path;
  forEachLine(proc_cgroup, [&](std::string_view line) {
    const size_t first = line.find(':');
    if (first == std::string_view::npos) return;
    const size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) return;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view cgroup = line.substr(second + 1);
    if (controller.empty()) {
      if (line.substr(0, first) == "0" && controllers.empty()) path = std::string(cgroup);
      return;
    }
    std::string_view list = controllers;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      if (list.substr(0, comma) == controller) {
        path = std::string(cgroup);
        return;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  });
  // A path leaving its mount ("/../x" in a cgroup namespace) names nothing we can read.
  if (path && path->find("..") != std::string::npos) return std::nullopt;
  return path;
}

std::string joinPath(const std::string& base, const std::string& cgroup_path) {
  if (cgroup_path.empty() || cgroup_path == "/") return base;
  return base + (cgroup_path.front() == '/' ? "" : "/") + cgroup_path;
}

}  // namespace

const char* cgroupVersionName(CgroupVersion version) {
  switch (version) {
    case CgroupVersion::kV1:
      return "v1";
    case CgroupVersion::kV2:
      return "v2";
    case CgroupVersion::kNone:
      break;
  }
  return "none";
}

CgroupVersion detectCgroupVersion(const std::string& root) {
  const std::string base = rootedPath(root, "/sys/fs/cgroup");
  if (exists(base + "/cgroup.controllers")) return CgroupVersion::kV2;
  if (isDirectory(base + "/memory") || isDirectory(base + "/cpuacct")) return CgroupVersion::kV1;
  return CgroupVersion::kNone;
}

CgroupUsage readCgroupV2(const std::string& dir) { return CgroupFiles::openV2(dir).read(); }

CgroupUsage readCgroupV1(const CgroupV1Dirs& dirs) { return CgroupFiles::openV1(dirs).read(); }

void CgroupFiles::open(Slot slot, const std::string& path) {
  // O_NONBLOCK: opening a FIFO planted in a fixture or a bind mount must not block the
  // loop; only regular files (cgroupfs entries are) are kept.
  core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct stat st {};
  if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) files_[slot] = std::move(fd);
}

CgroupFiles CgroupFiles::openV2(const std::string& dir) {
  CgroupFiles files;
  files.version_ = CgroupVersion::kV2;
  if (!isDirectory(dir)) return files;
  files.found_ = true;
  files.open(kCpu, dir + "/cpu.stat");
  files.open(kMemoryCurrent, dir + "/memory.current");
  files.open(kMemoryMax, dir + "/memory.max");
  files.open(kMemoryEvents, dir + "/memory.events");
  files.open(kPids, dir + "/pids.current");
  files.open(kIo, dir + "/io.stat");
  files.open(kMemoryPeak, dir + "/memory.peak");
  files.open(kPidsPeak, dir + "/pids.peak");
  return files;
}

CgroupFiles CgroupFiles::openV1(const CgroupV1Dirs& dirs) {
  CgroupFiles files;
  files.version_ = CgroupVersion::kV1;
  const auto has = [&](const std::string& dir) {
    const bool there = !dir.empty() && isDirectory(dir);
    files.found_ = files.found_ || there;
    return there;
  };
  if (has(dirs.memory)) {
    files.open(kMemoryCurrent, dirs.memory + "/memory.usage_in_bytes");
    files.open(kMemoryMax, dirs.memory + "/memory.limit_in_bytes");
    files.open(kMemoryEvents, dirs.memory + "/memory.oom_control");
    files.open(kMemoryPeak, dirs.memory + "/memory.max_usage_in_bytes");
  }
  if (has(dirs.cpuacct)) files.open(kCpu, dirs.cpuacct + "/cpuacct.usage");
  if (has(dirs.pids)) {
    files.open(kPids, dirs.pids + "/pids.current");
    files.open(kPidsPeak, dirs.pids + "/pids.peak");
  }
  // The throttle file is filled whatever the I/O scheduler, unlike the CFQ/BFQ ones.
  if (has(dirs.blkio)) {
    files.open(kIo, dirs.blkio + (dirs.recursive_io ? "/blkio.throttle.io_service_bytes_recursive"
                                                    : "/blkio.throttle.io_service_bytes"));
  }
  return files;
}

CgroupUsage CgroupFiles::read() const {
  CgroupUsage usage;
  if (!found_) return usage;
  std::array<std::optional<std::string>, kSlots> text;
  bool held = false;
  bool readable = false;
  for (size_t slot = 0; slot < kSlots; ++slot) {
    if (!files_[slot]) continue;
    held = true;
    text[slot] = readHeld(files_[slot]);
    readable = readable || text[slot].has_value();
  }
  // Every file it held fails to read: the cgroup is gone (its container has ended).
  if (held && !readable) return usage;
  usage.found = true;
  usage.memory_current_bytes = number(text[kMemoryCurrent]);
  usage.pids_current = number(text[kPids]);
  usage.memory_peak_bytes = number(text[kMemoryPeak]);
  usage.pids_peak = number(text[kPidsPeak]);
  if (version_ == CgroupVersion::kV2) {
    usage.cpu_usage_usec = keyedValue(text[kCpu], "usage_usec");
    usage.memory_max_bytes = number(text[kMemoryMax]);  // "max": no limit
    usage.oom_kills = keyedValue(text[kMemoryEvents], "oom_kill");
  } else {
    if (auto ns = number(text[kCpu])) usage.cpu_usage_usec = *ns / 1000;
    const auto limit = number(text[kMemoryMax]);
    if (limit && *limit < kV1Unlimited) usage.memory_max_bytes = limit;
    usage.oom_kills = keyedValue(text[kMemoryEvents], "oom_kill");
  }
  if (const auto& io = text[kIo]) {
    uint64_t read = 0;
    uint64_t written = 0;
    if (version_ == CgroupVersion::kV2) {
      // io.stat: one line per device, "8:0 rbytes=1 wbytes=2 rios=3 ...".
      forEachLine(*io, [&](std::string_view line) {
        size_t pos = line.find(' ');
        while (pos != std::string_view::npos) {
          line.remove_prefix(pos + 1);
          const std::string_view field = line.substr(0, line.find(' '));
          const size_t eq = field.find('=');
          if (eq != std::string_view::npos) {
            const auto value = parseUnsigned(field.substr(eq + 1));
            if (field.substr(0, eq) == "rbytes" && value) read += *value;
            if (field.substr(0, eq) == "wbytes" && value) written += *value;
          }
          pos = line.find(' ');
        }
      });
    } else {
      // "8:0 Read 4096" per device and operation, then "Total N".
      forEachLine(*io, [&](std::string_view line) {
        const size_t a = line.find(' ');
        if (a == std::string_view::npos) return;
        const std::string_view rest = line.substr(a + 1);
        const size_t b = rest.find(' ');
        if (b == std::string_view::npos) return;
        const auto value = parseUnsigned(rest.substr(b + 1));
        if (!value) return;
        if (rest.substr(0, b) == "Read") read += *value;
        if (rest.substr(0, b) == "Write") written += *value;
      });
    }
    usage.io_read_bytes = read;
    usage.io_write_bytes = written;
  }
  return usage;
}

CgroupUsage readOwnCgroup(const std::string& root, CgroupVersion version) {
  const std::string base = rootedPath(root, "/sys/fs/cgroup");
  const auto proc = readSmallFile(rootedPath(root, "/proc/self/cgroup"));
  if (!proc) return {};
  // A process in the root cgroup has no cgroup of its own: the root's figures are the
  // whole host's, and reporting them as the worker's would mislead.
  if (version == CgroupVersion::kV2) {
    const auto path = ownCgroupPath(*proc, "");
    if (!path || *path == "/") return {};
    return readCgroupV2(joinPath(base, *path));
  }
  if (version == CgroupVersion::kV1) {
    const auto dir = [&](const char* controller) -> std::string {
      const auto path = ownCgroupPath(*proc, controller);
      if (!path || *path == "/") return "";
      return joinPath(base + "/" + controller, *path);
    };
    return readCgroupV1({dir("memory"), dir("cpuacct"), dir("pids"), dir("blkio")});
  }
  return {};
}

CgroupUsage readContainerCgroup(const std::string& root, CgroupVersion version,
                                std::string_view container_id, std::string_view cgroup_parent) {
  return CgroupFiles::openContainer(root, version, container_id, cgroup_parent).read();
}

CgroupFiles CgroupFiles::openContainer(const std::string& root, CgroupVersion version,
                                       std::string_view container_id,
                                       std::string_view cgroup_parent) {
  // The id and parent become part of a path: only the engine's hex ids, never "../".
  if (!isContainerId(container_id)) return {};
  if (!cgroup_parent.empty() &&
      (cgroup_parent.front() != '/' || cgroup_parent.find("..") != std::string_view::npos)) {
    return {};
  }
  const std::string id(container_id);
  const std::string base = rootedPath(root, "/sys/fs/cgroup");
  std::vector<std::string> places;
  if (!cgroup_parent.empty()) {
    // Under a parent of the worker's: the cgroupfs drivers' names, then systemd's scope.
    const std::string parent(cgroup_parent);
    places = {parent + "/" + id, parent + "/docker-" + id + ".scope", parent + "/libpod-" + id};
  } else {
    // Docker's systemd and cgroupfs drivers, then Podman's (machine.slice with systemd,
    // libpod_parent with cgroupfs).
    places = {"/system.slice/docker-" + id + ".scope", "/docker/" + id,
              "/machine.slice/libpod-" + id + ".scope", "/libpod_parent/libpod-" + id};
  }
  if (version == CgroupVersion::kV2) {
    for (const std::string& place : places) {
      CgroupFiles files = openV2(base + place);
      if (files.found()) return files;
    }
  } else if (version == CgroupVersion::kV1) {
    const auto under = [&](std::string_view controller, const std::string& place) {
      std::string dir = base;
      dir += '/';
      dir += controller;
      dir += place;
      return dir;
    };
    for (const std::string& place : places) {
      if (!isDirectory(under("memory", place))) continue;
      return openV1({under("memory", place), under("cpuacct", place), under("pids", place),
                     under("blkio", place)});
    }
  }
  return {};
}

}  // namespace wa::metrics
