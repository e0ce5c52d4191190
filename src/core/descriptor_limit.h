// Descriptor limit: fits the process's open-file limit (RLIMIT_NOFILE) to the connections
// the daemon means to serve. Every HTTP connection holds a descriptor; when they run out,
// accept(2) fails with EMFILE and, worse, so do the engine's connections, which jobs need.
// So the soft limit is raised (up to the hard limit) to make room for the connections
// plus a reserve, and where the hard limit does not allow it, fewer connections are
// served: the excess get 503 rather than starving the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace wa::core {

// RLIMIT_NOFILE's two values; RLIM_INFINITY reads as kUnlimited.
struct DescriptorLimit {
  static constexpr uint64_t kUnlimited = UINT64_MAX;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct DescriptorPlan {
  DescriptorLimit before;
  DescriptorLimit after;       // the limit the process has (or, when planned, should have)
  size_t max_connections = 0;  // connections that fit under after.soft, the reserve kept
  std::string error;           // why raising the limit failed ("" if it did not)
};

// Pure: the soft limit for connections plus reserved descriptors, raised no higher than
// the hard limit (never lowered), and the connections that fit under it: at most
// connections, at least 1; soft - reserved, or half of soft when the reserve would take
// more than half.
DescriptorPlan planDescriptors(DescriptorLimit current, size_t connections, size_t reserved);

// Reads RLIMIT_NOFILE, raises its soft value as planDescriptors says and returns what it
// did. If setrlimit fails, the plan is for the unchanged limit, with error set.
DescriptorPlan fitDescriptorLimit(size_t connections, size_t reserved);

}  // namespace wa::core
