#include "daemon/config_mapping.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "version.h"

namespace wa::daemon {
namespace {

// The CPUs this process may run on, which is what the engine allows NanoCpus up to.
double usableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return CPU_COUNT(&set);
  }
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<double>(online) : 1.0;
}

}  // namespace

api::WorkerIdentity workerIdentity(const config::Config& c) {
  std::vector<std::string> modes;
  const auto implemented = api::JobPolicy{}.implemented_runtime_modes;
  for (const auto& mode : c.allowed_runtime_modes) {
    if (std::find(implemented.begin(), implemented.end(), mode) != implemented.end())
      modes.push_back(mode);
  }
  return api::WorkerIdentity{c.worker_id, WORKER_AGENT_VERSION, c.labels, modes, c.allowed_images};
}

api::JobRequestParser jobRequestParser(const config::Config& c) {
  api::JobPolicy policy;
  policy.allowed_runtime_modes = c.allowed_runtime_modes;
  policy.default_memory_mb = c.default_memory_mb;
  policy.default_max_runtime_seconds = c.default_max_runtime_seconds;
  policy.max_memory_mb = c.max_memory_mb;
  policy.max_runtime_seconds = c.max_runtime_seconds;
  policy.default_cpus = c.default_cpus;
  policy.max_cpus = c.max_cpus > 0 ? c.max_cpus : usableCpus();
  policy.allow_network = c.allow_network;
  policy.max_job_files_bytes = c.max_job_files_bytes;
  policy.max_build_context_bytes = c.max_build_context_bytes;
  return api::JobRequestParser(policy, jobs::ImagePolicy(c.allowed_images));
}

jobs::ImageCollectorOptions imageCollectorOptions(const config::Config& c) {
  jobs::ImageCollectorOptions o;
  o.interval = core::Millis(c.image_gc_interval_seconds * 1000);
  o.max_bytes = c.image_gc_max_mb * (int64_t{1} << 20);
  o.min_free_percent = c.image_gc_min_free_percent;
  o.keep = c.image_gc_keep;
  o.allowed_images = c.allowed_images;
  return o;
}

jobs::RunnerOptions runnerOptions(const config::Config& c) {
  jobs::RunnerOptions options;
  options.worker_id = c.worker_id;
  options.output_limit_bytes = static_cast<size_t>(c.output_limit_bytes);
  options.output_file_limit_bytes = static_cast<size_t>(c.output_file_limit_bytes);
  jobs::IsolationOptions& iso = options.isolation;
  iso.pids_limit = c.pids_limit;
  iso.read_only_rootfs = c.read_only_rootfs;
  iso.tmp_size_mb = c.tmp_size_mb;
  iso.workspace_path = c.workspace_path;
  iso.workspace_size_mb = c.workspace_size_mb;
  iso.user = c.job_user;
  iso.container_runtime = c.container_runtime;
  return options;
}

std::optional<jobs::SupplyOptions> supplyOptions(const config::Config& c, std::string* error) {
  jobs::SupplyOptions options;
  if (!jobs::parsePullPolicy(c.pull_policy, &options.pull_policy)) {
    *error = "pull_policy \"" + c.pull_policy + "\" is not never, missing or always";
    return std::nullopt;
  }
  options.pull_timeout = std::chrono::seconds(c.pull_timeout_seconds);
  options.build_timeout = std::chrono::seconds(c.build_timeout_seconds);
  if (!c.registry_auth_file.empty()) {
    std::optional<jobs::RegistryAuth> auth = jobs::RegistryAuth::load(c.registry_auth_file, error);
    if (!auth) {
      *error = "registry_auth_file " + *error;
      return std::nullopt;
    }
    options.registry_auth = std::move(*auth);
  }
  return options;
}

api::HealthPolicy healthPolicy(const config::Config& c) {
  return api::HealthPolicy{c.thermal_limit_c, c.disk_min_free_percent};
}

jobs::RetentionPolicy retentionPolicy(const config::Config& c) {
  return jobs::RetentionPolicy{c.finished_job_retention_seconds * 1000,
                               static_cast<size_t>(c.max_finished_jobs)};
}

int64_t memoryBudgetMb(const config::Config& c, int64_t host_memory_mb) {
  if (c.memory_budget_mb > 0) return c.memory_budget_mb;
  if (host_memory_mb <= 0) return 0;
  return std::max(host_memory_mb - c.memory_reserve_mb, api::JobRequestParser::kMinMemoryMb);
}

http::HttpServerOptions serverOptions(const config::Config& c,
                                      const core::DescriptorPlan& descriptors) {
  http::HttpServerOptions options;
  options.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  options.max_connections = descriptors.max_connections;
  return options;
}

size_t reservedDescriptors(const config::Config& c) {
  return 64 + 12 * static_cast<size_t>(c.max_concurrent_jobs);
}

}  // namespace wa::daemon
