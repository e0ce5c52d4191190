#include "api/worker_metrics.h"

#include <array>

namespace wa::api {
namespace {

using metrics::Labels;

constexpr double kMiB = 1024.0 * 1024.0;

// Bucket bounds in seconds. Jobs run from under a second to hours; the queue wait is
// usually short but can be long under load; a container start is a few engine calls.
const std::vector<double> kJobDurationBuckets = {0.1, 0.5, 1,   2.5, 5,    10,   30,
                                                 60,  120, 300, 600, 1800, 3600, 14400};
const std::vector<double> kQueueWaitBuckets = {0.01, 0.05, 0.1, 0.5, 1,   5,
                                               10,   30,   60,  300, 900, 3600};
const std::vector<double> kContainerStartBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
const std::vector<double> kHttpDurationBuckets = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1};
// Per job: CPU seconds from a quick script to hours of compilation; peak memory from a
// few MiB to many GiB.
const std::vector<double> kJobCpuBuckets = {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600};
const std::vector<double> kJobMemoryBuckets = {4 * kMiB,    16 * kMiB,   64 * kMiB,   256 * kMiB,
                                               512 * kMiB,  1024 * kMiB, 2048 * kMiB, 4096 * kMiB,
                                               8192 * kMiB, 16384 * kMiB};

// Methods become a label; anything a client invents is "other", so a scanner sending
// random methods cannot grow the series without bound.
std::string_view methodLabel(std::string_view method) {
  static constexpr std::array<std::string_view, 7> kKnown = {"GET",    "HEAD",    "POST", "PUT",
                                                             "DELETE", "OPTIONS", "PATCH"};
  if (method.empty()) return "none";  // refused before the request line was understood
  for (std::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "other";
}

void optionalGauge(metrics::MetricsWriter& w, std::string_view name, std::string_view help,
                   const Labels& labels, const std::optional<double>& value) {
  if (value) w.gauge(name, help, labels, *value);
}

template <typename T>
std::optional<double> asDouble(const std::optional<T>& v, double scale = 1.0) {
  if (!v) return std::nullopt;
  return static_cast<double>(*v) * scale;
}

}  // namespace

WorkerMetrics::WorkerMetrics(const core::Clock& clock, std::string version,
                             const jobs::Scheduler& scheduler, const metrics::HostSampler& sampler,
                             const docker::EngineStatusView& engine)
    : version_(std::move(version)),
      scheduler_(scheduler),
      sampler_(sampler),
      engine_(engine),
      started_unix_ms_(clock.wallMillis()) {
  job_duration_ = &registry_.histogram("worker_agent_job_duration_seconds",
                                       "Time from a job's start to its end, for jobs that started.",
                                       kJobDurationBuckets);
  queue_wait_ =
      &registry_.histogram("worker_agent_job_queue_wait_seconds",
                           "Time jobs waited in the queue before they started.", kQueueWaitBuckets);
  job_cpu_ = &registry_.histogram(
      "worker_agent_job_cpu_seconds",
      "CPU time (user and system) each job's container used, as its record's usage says.",
      kJobCpuBuckets);
  job_memory_peak_ = &registry_.histogram(
      "worker_agent_job_memory_peak_bytes",
      "The most memory each job's container had charged at once, as its record's usage says.",
      kJobMemoryBuckets);
  container_start_ = &registry_.histogram(
      "worker_agent_container_start_seconds",
      "Time from the create request to the engine's answer to start, per job container.",
      kContainerStartBuckets);
  // Declared up front so that a scrape shows them at zero before anything happened.
  registry_.counter("worker_agent_jobs_total", "Jobs that ended, by final state and error code.",
                    {{"state", "finished"}, {"error_code", "none"}});
  for (const char* code : {"NON_ZERO_EXIT", "TIMEOUT", "OOM_KILLED", "CANCELLED", "DOCKER_ERROR"}) {
    registry_.counter("worker_agent_jobs_total", "Jobs that ended, by final state and error code.",
                      {{"state", "failed"}, {"error_code", code}});
  }
  for (const char* stream : {"stdout", "stderr"}) {
    registry_.counter("worker_agent_job_output_bytes_total",
                      "Bytes job containers wrote, kept or not, by stream.", {{"stream", stream}});
  }
  registry_.addCollector([this](metrics::MetricsWriter& w) { collect(w); });
}

void WorkerMetrics::onJobEnded(const jobs::Job& job) {
  const bool failed = job.state == jobs::JobState::kFailed;
  registry_
      .counter("worker_agent_jobs_total", "Jobs that ended, by final state and error code.",
               {{"state", jobs::stateName(job.state)},
                {"error_code", failed && job.error ? job.error->code : "none"}})
      .inc();
  if (job.started_at_ms) {
    queue_wait_->observe(static_cast<double>(*job.started_at_ms - job.created_at_ms) / 1000.0);
    if (job.finished_at_ms) {
      job_duration_->observe(static_cast<double>(*job.finished_at_ms - *job.started_at_ms) /
                             1000.0);
    }
  }
  if (job.usage && job.usage->cpu_seconds) job_cpu_->observe(*job.usage->cpu_seconds);
  if (job.usage && job.usage->memory_peak_bytes) {
    job_memory_peak_->observe(static_cast<double>(*job.usage->memory_peak_bytes));
  }
  registry_
      .counter("worker_agent_job_output_bytes_total",
               "Bytes job containers wrote, kept or not, by stream.", {{"stream", "stdout"}})
      .inc(static_cast<double>(job.stdout_output.total_bytes));
  registry_
      .counter("worker_agent_job_output_bytes_total",
               "Bytes job containers wrote, kept or not, by stream.", {{"stream", "stderr"}})
      .inc(static_cast<double>(job.stderr_output.total_bytes));
}

void WorkerMetrics::onContainerStarted(std::chrono::microseconds latency) {
  container_start_->observe(std::chrono::duration<double>(latency).count());
}

void WorkerMetrics::onHttpRequest(const http::RequestRecord& record) {
  auto route = http_series_.find(record.route);
  if (route == http_series_.end()) {
    RouteSeries series;
    series.duration =
        &registry_.histogram("worker_agent_http_request_duration_seconds",
                             "Time to build the answer to a request, by route pattern.",
                             kHttpDurationBuckets, {{"route", std::string(record.route)}});
    route = http_series_.emplace(std::string(record.route), std::move(series)).first;
  }
  // A label from methodLabel's fixed set, so the key's view outlives the request.
  const std::pair<std::string_view, int> key(methodLabel(record.method), record.status);
  metrics::Counter*& requests = route->second.requests[key];
  if (requests == nullptr) {
    requests = &registry_.counter("worker_agent_http_requests_total",
                                  "HTTP requests answered, by method, route pattern and status.",
                                  {{"method", std::string(key.first)},
                                   {"route", route->first},
                                   {"status", std::to_string(record.status)}});
  }
  requests->inc();
  route->second.duration->observe(static_cast<double>(record.duration_us) / 1e6);
}

void WorkerMetrics::onDockerError(std::string_view endpoint) {
  registry_
      .counter("worker_agent_docker_api_errors_total",
               "Failed Docker Engine API calls, by endpoint.",
               {{"endpoint", std::string(endpoint)}})
      .inc();
}

void WorkerMetrics::collect(metrics::MetricsWriter& w) const {
  w.gauge("worker_agent_build_info", "Always 1; the version label says which worker-agent runs.",
          {{"version", version_}}, 1);
  w.gauge("worker_agent_start_time_seconds", "When the daemon started, in seconds since 1970.", {},
          static_cast<double>(started_unix_ms_) / 1000.0);
  w.gauge("worker_agent_jobs_queued", "Jobs waiting in the queue (queue depth).", {},
          static_cast<double>(scheduler_.queued()));
  w.gauge("worker_agent_jobs_running", "Jobs running now.", {},
          static_cast<double>(scheduler_.running()));
  w.gauge("worker_agent_max_concurrent_jobs", "Jobs that may run at the same time.", {},
          static_cast<double>(scheduler_.maxConcurrent()));
  w.counter("worker_agent_jobs_accepted_total", "Jobs accepted into the queue since start.", {},
            static_cast<double>(scheduler_.totalEntered(jobs::JobState::kQueued)));
  if (accepting_jobs_ && draining_) {
    w.gauge("worker_agent_accepting_jobs",
            "1 while POST /jobs takes new jobs (not draining, not shutting down, an engine that "
            "enforces job limits and speaks a version the worker does, a journal that takes "
            "writes).",
            {}, accepting_jobs_() ? 1 : 0);
    w.gauge("worker_agent_draining", "1 while the operator's drain holds new jobs off.", {},
            draining_() ? 1 : 0);
  }
  if (scheduler_.memoryBudgetMb() > 0) {
    w.gauge("worker_agent_job_memory_budget_bytes",
            "The memory the running jobs' limits may add up to (admission by memory).", {},
            static_cast<double>(scheduler_.memoryBudgetMb()) * kMiB);
  }
  w.gauge("worker_agent_job_memory_limits_bytes",
          "The memory limits of the running jobs, added up.", {},
          static_cast<double>(scheduler_.memoryInUseMb()) * kMiB);

  if (image_collector_ != nullptr) {
    const jobs::ImageCollectorCounts& gc = image_collector_->counts();
    w.counter("worker_agent_image_gc_runs_total", "Passes of the image collector.", {},
              static_cast<double>(gc.passes));
    w.counter("worker_agent_image_gc_removed_total",
              "Images of the worker's own the image collector removed.", {},
              static_cast<double>(gc.removed));
    w.counter("worker_agent_image_gc_removed_bytes_total",
              "The sizes of the images the collector removed, added up (shared layers "
              "counted in each).",
              {}, static_cast<double>(gc.removed_bytes));
    w.counter("worker_agent_image_gc_errors_total",
              "Image lists and removals the engine failed during the collector's passes.", {},
              static_cast<double>(gc.errors));
    w.gauge("worker_agent_images_owned",
            "Images the worker pulled or built that the engine had "
            "at the collector's last pass, less those it removed since.",
            {}, static_cast<double>(gc.owned));
    w.gauge("worker_agent_images_owned_bytes", "Their sizes, added up.", {},
            static_cast<double>(gc.owned_bytes));
  }

  const docker::EngineStatus& engine = engine_.status();
  w.gauge("worker_agent_docker_engine_up", "1 when the last ping of the Docker engine succeeded.",
          {}, engine.reachable ? 1 : 0);
  optionalGauge(w, "worker_agent_docker_ping_seconds",
                "Latency of the last successful engine ping.", {},
                engine.ping_ms ? std::optional<double>(*engine.ping_ms / 1000.0) : std::nullopt);
  if (engine.version) {
    const auto text = [](const std::optional<docker::ApiVersion>& v) {
      return v ? v->text() : std::string();
    };
    w.gauge("worker_agent_docker_api_info",
            "Always 1 once the engine's /version answered: the Engine API version the worker "
            "speaks (negotiated, \"\" when none fits) and the oldest and newest the engine speaks.",
            {{"negotiated", text(engine.api_version)},
             {"engine_min", text(engine.api_range.min)},
             {"engine_max", text(engine.api_range.max)}},
            1);
  }

  const metrics::HostSample& s = sampler_.latest();
  for (size_t i = 0; i < s.load_average.size(); ++i) {
    static constexpr std::array<const char*, 3> kPeriods = {"1m", "5m", "15m"};
    w.gauge("worker_agent_host_load_average", "Load average from /proc/loadavg.",
            {{"period", kPeriods[i]}}, s.load_average[i]);
  }
  optionalGauge(
      w, "worker_agent_host_cpu_busy_ratio",
      "Share of all CPUs' time spent busy between the last two samples (/proc/stat).", {},
      s.cpu_usage_percent ? std::optional<double>(*s.cpu_usage_percent / 100.0) : std::nullopt);
  optionalGauge(w, "worker_agent_host_memory_total_bytes", "MemTotal from /proc/meminfo.", {},
                asDouble(s.memory_total_mb, kMiB));
  optionalGauge(w, "worker_agent_host_memory_available_bytes", "MemAvailable from /proc/meminfo.",
                {}, asDouble(s.memory_available_mb, kMiB));
  const auto disk = [&](const char* which, const std::string& path,
                        const metrics::DiskUsage& usage) {
    if (path.empty()) return;
    optionalGauge(w, "worker_agent_host_disk_total_bytes",
                  "Size of the file system holding a directory.", {{"disk", which}, {"path", path}},
                  asDouble(usage.total_mb, kMiB));
    optionalGauge(w, "worker_agent_host_disk_available_bytes",
                  "Space available to unprivileged users on the file system holding a directory.",
                  {{"disk", which}, {"path", path}}, asDouble(usage.available_mb, kMiB));
  };
  disk("jobs", sampler_.jobsPath(), s.jobs_disk);
  disk("docker", sampler_.dockerRootDir(), s.docker_disk);
  for (const metrics::ThermalZone& zone : s.thermal_zones) {
    w.gauge("worker_agent_host_temperature_celsius", "Temperature of each thermal zone.",
            {{"zone", zone.zone}, {"type", zone.type}}, zone.temperature_c);
  }

  const metrics::CgroupSample& c = s.cgroup;
  w.gauge("worker_agent_cgroup_info",
          "Always 1; the version label says which cgroup hierarchy is read.",
          {{"version", metrics::cgroupVersionName(c.version)}}, 1);
  const metrics::CgroupUsage& own = c.worker;
  if (own.cpu_usage_usec) {
    w.counter("worker_agent_cgroup_cpu_usage_seconds_total",
              "CPU time used by the worker's cgroup.", {},
              static_cast<double>(*own.cpu_usage_usec) / 1e6);
  }
  optionalGauge(w, "worker_agent_cgroup_memory_usage_bytes",
                "Memory charged to the worker's cgroup.", {}, asDouble(own.memory_current_bytes));
  optionalGauge(w, "worker_agent_cgroup_memory_limit_bytes",
                "Memory limit of the worker's cgroup, when it has one.", {},
                asDouble(own.memory_max_bytes));
  if (own.oom_kills) {
    w.counter("worker_agent_cgroup_oom_kills_total",
              "Processes the OOM killer ended in the worker's cgroup.", {},
              static_cast<double>(*own.oom_kills));
  }
  optionalGauge(w, "worker_agent_cgroup_pids", "Tasks in the worker's cgroup.", {},
                asDouble(own.pids_current));
  if (own.io_read_bytes && own.io_write_bytes) {
    w.counter("worker_agent_cgroup_io_bytes_total",
              "Block I/O of the worker's cgroup, by direction.", {{"direction", "read"}},
              static_cast<double>(*own.io_read_bytes));
    w.counter("worker_agent_cgroup_io_bytes_total",
              "Block I/O of the worker's cgroup, by direction.", {{"direction", "write"}},
              static_cast<double>(*own.io_write_bytes));
  }
  // The jobs' containers come and go, so their sums are gauges, not counters.
  w.gauge("worker_agent_job_cgroups", "Running jobs' container cgroups found on this host.", {},
          static_cast<double>(c.job_containers_found));
  optionalGauge(w, "worker_agent_job_cgroups_memory_usage_bytes",
                "Memory charged to the running jobs' containers.", {},
                asDouble(c.jobs.memory_current_bytes));
  optionalGauge(w, "worker_agent_job_cgroups_cpu_usage_seconds",
                "CPU time used so far by the running jobs' containers.", {},
                asDouble(c.jobs.cpu_usage_usec, 1e-6));
  optionalGauge(w, "worker_agent_job_cgroups_pids", "Tasks in the running jobs' containers.", {},
                asDouble(c.jobs.pids_current));
}

}  // namespace wa::api
