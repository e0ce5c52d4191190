#include "core/descriptor_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wa::core {
namespace {

uint64_t fromRlim(rlim_t value) {
  return value == RLIM_INFINITY ? DescriptorLimit::kUnlimited : static_cast<uint64_t>(value);
}

rlim_t toRlim(uint64_t value) {
  return value == DescriptorLimit::kUnlimited ? RLIM_INFINITY : static_cast<rlim_t>(value);
}

size_t connectionsUnder(uint64_t soft, size_t connections, size_t reserved) {
  if (soft == DescriptorLimit::kUnlimited) return connections;
  const uint64_t fit = std::max(soft > reserved ? soft - reserved : uint64_t{0}, soft / 2);
  return static_cast<size_t>(std::clamp<uint64_t>(fit, 1, std::max<size_t>(connections, 1)));
}

}  // namespace

DescriptorPlan planDescriptors(DescriptorLimit current, size_t connections, size_t reserved) {
  DescriptorPlan plan;
  plan.before = current;
  plan.after = current;
  const uint64_t needed = static_cast<uint64_t>(connections) + reserved;
  if (current.soft < needed)
    plan.after.soft = std::max(current.soft, std::min(needed, current.hard));
  plan.max_connections = connectionsUnder(plan.after.soft, connections, reserved);
  return plan;
}

DescriptorPlan fitDescriptorLimit(size_t connections, size_t reserved) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    // Cannot happen for RLIMIT_NOFILE; if it does, change nothing and say so.
    DescriptorPlan plan;
    plan.max_connections = connections;
    plan.error = std::string("getrlimit: ") + std::strerror(errno);
    return plan;
  }
  const DescriptorLimit current{fromRlim(limit.rlim_cur), fromRlim(limit.rlim_max)};
  DescriptorPlan plan = planDescriptors(current, connections, reserved);
  if (plan.after.soft == current.soft) return plan;
  limit.rlim_cur = toRlim(plan.after.soft);
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    // EPERM above fs.nr_open, or a seccomp filter that forbids it: keep what there is.
    const std::string why = std::string("setrlimit: ") + std::strerror(errno);
    plan.after = current;
    plan.max_connections = connectionsUnder(current.soft, connections, reserved);
    plan.error = why;
  }
  return plan;
}

}  // namespace wa::core
