// HostInfo: static facts about the machine, read once at start-up (for GET /info).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace wa::metrics {

struct HostInfo {
  std::string hostname;
  std::optional<int> cpu_cores;  // physical cores; nullopt when /proc/cpuinfo does not say
  int cpu_threads = 0;           // online logical CPUs
  int64_t memory_mb = 0;         // MemTotal
  std::string os;                // PRETTY_NAME from etc/os-release, else "Linux"
  // The architecture this binary runs as, in Node's process.arch names as the reference
  // worker reports it ("x64", "arm64"); machine when Node has no name for it.
  std::string os_architecture;
  std::string machine;    // the kernel's name for it (uname machine), e.g. "x86_64", "aarch64"
  std::string cpu_model;  // "model name" (or "Model"/"Hardware" on ARM); "" if unknown

  // Reads everything under root ("/" normally; a fixture tree in tests).
  static HostInfo read(const std::string& root = "/");
};

}  // namespace wa::metrics
