// WorkerApi: the routes of the ProcessorCluster Worker protocol v1 and the JSON shape
// of every answer. The only place that knows that shape; everything below it works
// with jobs, images and metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/health_view.h"
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

class WorkerApi {
 public:
  WorkerApi(const core::Clock& clock, WorkerIdentity identity, const metrics::HostInfo& host,
            const metrics::HostSampler& sampler, const docker::EngineStatusView& engine,
            jobs::JobStore& store, jobs::Scheduler& scheduler, JobRequestParser parser);

  void registerRoutes(http::Router& router);

  // While false, POST /jobs answers 503 SHUTTING_DOWN.
  void setAcceptingJobs(bool accepting);
  bool shuttingDown() const { return shutting_down_; }
  // The operator's drain: while set, POST /jobs answers 503 DRAINING, and /health and
  // /info say so; queued and running jobs go on and finish.
  void setDraining(bool draining);
  bool draining() const { return draining_; }
  // Whether POST /jobs would take a valid job now: not shutting down, not draining, an
  // engine that can enforce job limits and speaks an Engine API version the worker does,
  // and a journal that takes writes. (A full queue is not counted.)
  bool acceptingJobs() const;
  // Replaced by a configuration reload; the next request sees the new values.
  void setIdentity(WorkerIdentity identity) { identity_ = std::move(identity); }
  void setParser(JobRequestParser parser) { parser_ = std::move(parser); }
  void setHealthPolicy(HealthPolicy policy) { health_.setPolicy(policy); }
  void setJournal(const jobs::JobJournal* journal, std::string moved_aside) {
    journal_ = journal;
    health_.setJournal(journal, std::move(moved_aside));
  }
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
  // Always 200, the state in "status"; ?strict=1 answers 503 when degraded (for probes).
  http::HttpResponse health(const http::HttpRequest& request) const;
  // The Prometheus text exposition, as text/plain; version=0.0.4.
  http::HttpResponse prometheusMetrics(const http::HttpRequest& request) const;
  // With a journal the answer is deferred until the job is on disk (503
  // JOURNAL_UNAVAILABLE when it cannot be put there).
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
  // The answer to a submission that went as result (202, 409, 503).
  static http::HttpResponse submitted(const std::string& job_id,
                                      jobs::Scheduler::SubmitResult result);
  WorkerIdentity identity_;
  const metrics::HostInfo& host_;
  const docker::EngineStatusView& engine_;
  jobs::JobStore& store_;
  jobs::Scheduler& scheduler_;
  JobRequestParser parser_;
  bool shutting_down_ = false;
  bool draining_ = false;
  const WorkerMetrics* metrics_ = nullptr;
  const jobs::JobJournal* journal_ = nullptr;
  jobs::OutputFeed* output_feed_ = nullptr;
  HealthView health_;
};

}  // namespace wa::api
