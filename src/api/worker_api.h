// WorkerApi: the routes of the ProcessorCluster Worker protocol v1 and the JSON shape
// of every answer. The only place that knows that shape; everything below it works
// with jobs, images and metrics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/job_request_parser.h"
#include "core/clock.h"
#include "docker/engine_monitor.h"
#include "http/http_request.h"
#include "http/router.h"
#include "jobs/job_store.h"
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

class WorkerApi {
 public:
  WorkerApi(const core::Clock& clock, WorkerIdentity identity, const metrics::HostInfo& host,
            const metrics::HostSampler& sampler, const docker::EngineMonitor& engine,
            jobs::JobStore& store, jobs::Scheduler& scheduler, JobRequestParser parser);

  void registerRoutes(http::Router& router);

  // While false, POST /jobs answers 503 SHUTTING_DOWN.
  void setAcceptingJobs(bool accepting) { accepting_jobs_ = accepting; }

  // {"error": {"code": ..., "message": ...}}: the body of errors not tied to a job.
  static http::HttpResponse renderError(int status, std::string_view code, std::string_view message);

  http::HttpResponse info(const http::HttpRequest& request) const;
  http::HttpResponse health(const http::HttpRequest& request) const;
  http::HttpResponse submitJob(const http::HttpRequest& request);
  http::HttpResponse getJob(const http::HttpRequest& request, const std::string& job_id) const;
  http::HttpResponse listJobs(const http::HttpRequest& request) const;
  http::HttpResponse cancelJob(const std::string& job_id);

 private:
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
};

}  // namespace wa::api
