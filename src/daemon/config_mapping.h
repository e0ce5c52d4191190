// What each part of the daemon takes from the configuration: pure functions from Config
// to the options of the api, jobs, http and image layers. Start-up and reload both go
// through them, so a key means the same thing whenever it is applied.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "api/health_view.h"
#include "api/job_request_parser.h"
#include "api/worker_api.h"
#include "config/config.h"
#include "core/descriptor_limit.h"
#include "http/http_options.h"
#include "jobs/image_collector.h"
#include "jobs/image_supplier.h"
#include "jobs/job_store.h"
#include "jobs/runner_options.h"

namespace wa::daemon {

// /info's identity; advertises only the runtime modes this worker actually runs.
api::WorkerIdentity workerIdentity(const config::Config& c);
// The job policy: modes, defaults, ceilings (max_cpus 0: the CPUs this process may use).
api::JobRequestParser jobRequestParser(const config::Config& c);
jobs::RunnerOptions runnerOptions(const config::Config& c);
// The image collector's interval, budget, free-space floor and kept images.
jobs::ImageCollectorOptions imageCollectorOptions(const config::Config& c);
// The image options of c, with its registry credentials file read; nullopt (and *error)
// when that file cannot be used.
std::optional<jobs::SupplyOptions> supplyOptions(const config::Config& c, std::string* error);
api::HealthPolicy healthPolicy(const config::Config& c);
jobs::RetentionPolicy retentionPolicy(const config::Config& c);
// The memory the running jobs' limits may add up to, in MiB: memory_budget_mb, or the
// host's memory (host_memory_mb, MemTotal) minus memory_reserve_mb, never below the
// smallest job's limit; 0 (no budget) when neither is known.
int64_t memoryBudgetMb(const config::Config& c, int64_t host_memory_mb);
// max_connections, or fewer if the open-file limit could not be raised to fit them.
http::HttpServerOptions serverOptions(const config::Config& c,
                                      const core::DescriptorPlan& descriptors);
// Descriptors kept out of max_connections' share of RLIMIT_NOFILE: the daemon's own
// (stdio, epoll, timers, signals, the listening socket, files read under /proc) and, per
// running job, the engine's connections (its wait, its output, its inspections: 4) and
// the cgroup files the sampler holds open for its container (8). Fixed at start: a reload
// that raises max_concurrent_jobs does not grow it.
size_t reservedDescriptors(const config::Config& c);

}  // namespace wa::daemon
