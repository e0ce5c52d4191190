// WorkerApi: the routes of the ProcessorCluster Worker protocol v1 and the JSON shape
// of every answer. The only place that knows that shape; everything below it works
// with jobs, images and metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/job_request_parser.h"
#include "api/worker_metrics.h"
#include "core/clock.h"
#include "docker/engine_monitor.h"
#include "http/http_request.h"
#include "http/router.h"
#include "jobs/job_store.h"
#include "jobs/output_feed.h"
#include "jobs/scheduler.h"
#include "metrics/host_info.h"
#include "metrics/host_sampler.h"

namespace wa::api {

struct WorkerIdentity {
  std::string worker_id;
  std::string version;  // worker-agent's own version
  std::vector<std::string> labels;
  std::vector<std::string> runtime_modes;
  std::vector<std::string> allowed_images;
};

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
  bool operator==(const HealthInputs&) const = default;
};
struct HealthBody {
  HealthInputs inputs;
  int status = 200;
  std::string body;  // with a 0 where each time field's value goes
  size_t timestamp_at = 0;
  size_t uptime_at = 0;
};

class WorkerApi {
 public:
  WorkerApi(const core::Clock& clock, WorkerIdentity identity, const metrics::HostInfo& host,
            const metrics::HostSampler& sampler, const docker::EngineMonitor& engine,
            jobs::JobStore& store, jobs::Scheduler& scheduler, JobRequestParser parser);

  void registerRoutes(http::Router& router);

  // While false, POST /jobs answers 503 SHUTTING_DOWN.
  void setAcceptingJobs(bool accepting) { accepting_jobs_ = accepting; }
  // Replaced by a configuration reload; the next request sees the new values.
  void setIdentity(WorkerIdentity identity) { identity_ = std::move(identity); }
  void setParser(JobRequestParser parser) { parser_ = std::move(parser); }
  void setHealthPolicy(HealthPolicy policy) { health_policy_ = policy; }
  // The metrics GET /metrics renders; without them the route answers 404.
  void setMetrics(const WorkerMetrics* metrics) { metrics_ = metrics; }
  // The live output GET /jobs/{job_id}/output follows for jobs not yet ended; it must
  // outlive every stream (the HTTP server). Without it that route serves only ended jobs
  // and answers 503 LIVE_OUTPUT_UNAVAILABLE for the others.
  void setOutputFeed(jobs::OutputFeed* feed) { output_feed_ = feed; }

  // {"error": {"code": ..., "message": ...}}: the body of errors not tied to a job.
  static http::HttpResponse renderError(int status, std::string_view code,
                                        std::string_view message);

  http::HttpResponse info(const http::HttpRequest& request) const;
  http::HttpResponse health(const http::HttpRequest& request) const;
  // The Prometheus text exposition, as text/plain; version=0.0.4.
  http::HttpResponse prometheusMetrics(const http::HttpRequest& request) const;
  http::HttpResponse submitJob(const http::HttpRequest& request);
  // The job record; ?encoding=base64 adds stdout_base64 and stderr_base64.
  http::HttpResponse getJob(const http::HttpRequest& request, const std::string& job_id) const;
  // The job's output bytes as a streamed application/octet-stream body: what the record
  // holds (stdout, then stderr), then, for a job not yet ended, each chunk as the runner
  // publishes it, until the job ends. ?stream=stdout|stderr|both (default both).
  http::HttpResponse jobOutput(const http::HttpRequest& request, const std::string& job_id);
  http::HttpResponse listJobs(const http::HttpRequest& request) const;
  http::HttpResponse cancelJob(const std::string& job_id);

 private:
  void readHealthInputs(HealthInputs& inputs) const;
  void renderHealth(HealthBody& rendered) const;
  http::HttpResponse rejectJob(const Rejection& rejection) const;

  const core::Clock& clock_;
  WorkerIdentity identity_;
  const metrics::HostInfo& host_;
  const metrics::HostSampler& sampler_;
  const docker::EngineMonitor& engine_;
  jobs::JobStore& store_;
  jobs::Scheduler& scheduler_;
  JobRequestParser parser_;
  core::MonoTime started_;
  bool accepting_jobs_ = true;
  HealthPolicy health_policy_;
  const WorkerMetrics* metrics_ = nullptr;
  jobs::OutputFeed* output_feed_ = nullptr;
  // GET /health's last body and the inputs read for the request being answered (kept to
  // reuse their strings' storage).
  mutable std::optional<HealthBody> health_body_;
  mutable HealthInputs health_inputs_;
};

}  // namespace wa::api
