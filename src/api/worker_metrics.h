// WorkerMetrics: the worker's Prometheus metrics, all named worker_agent_*. Events (a job
// ended, a container started, an HTTP request, a failed Engine API call) are counted as
// they happen; states (queue depth, running jobs, the engine, host, thermal and cgroup
// samples) are read from their owners' caches when /metrics is scraped, so a scrape
// reads no file and waits for nothing. protocol/WORKER_HTTP_API.md lists every name.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "core/clock.h"
#include "docker/docker_types.h"
#include "docker/engine_monitor.h"
#include "http/dispatcher.h"
#include "jobs/image_collector.h"
#include "jobs/job.h"
#include "jobs/scheduler.h"
#include "metrics/host_sampler.h"
#include "metrics/metrics_registry.h"

namespace wa::api {

class WorkerMetrics {
 public:
  // Everything passed is read at scrape time and must outlive this object.
  WorkerMetrics(const core::Clock& clock, std::string version, const jobs::Scheduler& scheduler,
                const metrics::HostSampler& sampler, const docker::EngineStatusView& engine);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // A job reached finished or failed: its state and error code, run time, queue wait,
  // the bytes its container wrote and its usage (CPU seconds, peak memory).
  void onJobEnded(const jobs::Job& job);
  void onContainerStarted(std::chrono::microseconds latency);
  void onHttpRequest(const http::RequestRecord& record);
  void onDockerError(std::string_view endpoint);
  // Where worker_agent_accepting_jobs and worker_agent_draining are read at scrape time
  // (WorkerApi's admission); without them the two are left out.
  // The image collector whose counts /metrics shows; without one they are left out.
  void setImageCollector(const jobs::ImageCollector* collector) { image_collector_ = collector; }
  void setAdmission(std::function<bool()> accepting_jobs, std::function<bool()> draining) {
    accepting_jobs_ = std::move(accepting_jobs);
    draining_ = std::move(draining);
  }

  // The text exposition for GET /metrics.
  std::string render() const { return registry_.render(); }
  const metrics::MetricsRegistry& registry() const { return registry_; }

 private:
  void collect(metrics::MetricsWriter& w) const;

  std::string version_;
  const jobs::Scheduler& scheduler_;
  const metrics::HostSampler& sampler_;
  const docker::EngineStatusView& engine_;
  int64_t started_unix_ms_;
  std::function<bool()> accepting_jobs_;
  std::function<bool()> draining_;
  const jobs::ImageCollector* image_collector_ = nullptr;
  metrics::MetricsRegistry registry_;
  metrics::Histogram* job_duration_;
  metrics::Histogram* queue_wait_;
  metrics::Histogram* container_start_;
  metrics::Histogram* job_cpu_;
  metrics::Histogram* job_memory_peak_;
  // The HTTP series met so far, so that counting a request looks up no metric by name
  // (the labels are bounded: route patterns, known methods, statuses): by route, its
  // duration histogram and its request counters by method label and status.
  struct RouteSeries {
    metrics::Histogram* duration = nullptr;
    std::map<std::pair<std::string_view, int>, metrics::Counter*> requests;
  };
  std::map<std::string, RouteSeries, std::less<>> http_series_;
};

}  // namespace wa::api
