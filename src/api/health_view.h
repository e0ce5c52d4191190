// HealthView: GET /health, the worker's dynamic state (host, engine, jobs) and whether it
// is degraded. It answers from memory: the body it last rendered is sent again, with only
// timestamp_unix_ms and uptime_seconds written anew, until something it shows changes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "docker/engine_monitor.h"
#include "http/http_request.h"
#include "jobs/job_journal.h"
#include "jobs/scheduler.h"
#include "metrics/host_info.h"
#include "metrics/host_sampler.h"

namespace wa::api {

// Thresholds that make /health report "degraded" (0 disables one).
struct HealthPolicy {
  int64_t thermal_limit_c = 90;
  int64_t disk_min_free_percent = 5;
  bool operator==(const HealthPolicy&) const = default;
};

// Why the worker is degraded, one sentence per reason; empty when it is ok. Rules: the
// engine did not answer the last ping; it cannot enforce job limits; no Engine API version
// fits both it and the worker; either disk (jobs_path, the engine's data
// directory) has less than disk_min_free_percent of its space available; the hottest
// thermal zone is above thermal_limit_c.
std::vector<std::string> healthReasons(const metrics::HostSample& sample,
                                       const docker::EngineStatus& engine,
                                       const HealthPolicy& policy, const std::string& jobs_path,
                                       const std::string& docker_root_dir);

// Everything GET /health shows but the time: while none of it changes, WorkerApi sends
// the body it last rendered again, with only timestamp_unix_ms and uptime_seconds written
// anew. (WorkerApi's own; declared out of it so that they are complete types where it
// holds them.)
struct HealthInputs {
  uint64_t samples = 0;
  bool engine_reachable = false;
  std::optional<double> ping_ms;
  std::string engine_error;
  std::string limits_unenforced;
  std::string api_unsupported;
  std::string jobs_path;
  std::string docker_root_dir;
  size_t running = 0;
  size_t queued = 0;
  size_t max_concurrent = 0;
  uint64_t accepted = 0;
  uint64_t finished = 0;
  uint64_t failed = 0;
  HealthPolicy policy;
  std::string journal_problem;
  bool shutting_down = false;
  bool draining = false;
  bool operator==(const HealthInputs&) const = default;
};
struct HealthBody {
  HealthInputs inputs;
  int strict_status = 200;  // ?strict=1 answers 503 when degraded; other requests always 200
  std::string body;         // with a 0 where each time field's value goes
  size_t timestamp_at = 0;
  size_t uptime_at = 0;
};

class HealthView {
 public:
  HealthView(const core::Clock& clock, const metrics::HostInfo& host,
             const metrics::HostSampler& sampler, const docker::EngineStatusView& engine,
             const jobs::Scheduler& scheduler);

  // 200 with the state in "status"; strict: 503 when degraded.
  http::HttpResponse respond(bool strict) const;
  // Replaced by a configuration reload; the next request sees the new values.
  void setPolicy(HealthPolicy policy) { policy_ = policy; }
  // The job journal, shown in "journal" (nullptr: none); moved_aside names where an
  // unusable one went at start-up ("" if none). A journal that cannot take writes makes
  // the worker degraded.
  void setJournal(const jobs::JobJournal* journal, std::string moved_aside) {
    journal_ = journal;
    journal_moved_aside_ = std::move(moved_aside);
  }
  // Whether the worker shuts down or drains (WorkerApi's), for accepting_jobs and draining.
  void setAdmission(bool shutting_down, bool draining) {
    shutting_down_ = shutting_down;
    draining_ = draining;
  }

 private:
  void readInputs(HealthInputs& inputs) const;
  void render(HealthBody& rendered) const;

  const core::Clock& clock_;
  const metrics::HostInfo& host_;
  const metrics::HostSampler& sampler_;
  const docker::EngineStatusView& engine_;
  const jobs::Scheduler& scheduler_;
  core::MonoTime started_;
  HealthPolicy policy_;
  const jobs::JobJournal* journal_ = nullptr;
  std::string journal_moved_aside_;
  bool shutting_down_ = false;
  bool draining_ = false;
  // The last body and the inputs read for the request being answered (kept to reuse
  // their strings' storage).
  mutable std::optional<HealthBody> body_;
  mutable HealthInputs inputs_;
};

}  // namespace wa::api
