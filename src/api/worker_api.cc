#include "api/worker_api.h"

#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <deque>
#include <memory>
#include <type_traits>

#include "api/json_writer.h"
#include "core/log.h"
#include "core/text.h"

namespace wa::api {
namespace {

using Writer = JsonWriter;
using Name = JsonWriter::Name;

void key(Writer& w, Name name) { w.MemberName(name); }

// Writes text as a JSON string; bytes that are not UTF-8 become U+FFFD.
void string(Writer& w, std::string_view text) {
  if (core::isValidUtf8(text)) {
    w.EscapedString(text);
  } else {
    w.EscapedString(core::toValidUtf8(text));
  }
}

void stringList(Writer& w, const std::vector<std::string>& list) {
  w.StartArray();
  for (const auto& s : list) string(w, s);
  w.EndArray();
}

void timestamp(Writer& w, const std::optional<int64_t>& unix_ms) {
  if (!unix_ms) {
    w.Null();
  } else if (const auto text = core::formatRfc3339MillisInPlace(*unix_ms)) {
    w.EscapedString(std::string_view(text->data(), text->size()));  // ASCII digits
  } else {
    string(w, core::formatRfc3339Millis(*unix_ms));
  }
}

template <typename T>
void optionalInt(Writer& w, const std::optional<T>& v) {
  if (v) {
    w.Int64(static_cast<int64_t>(*v));
  } else {
    w.Null();
  }
}

void optionalDouble(Writer& w, const std::optional<double>& v, double scale = 100.0) {
  if (v && std::isfinite(*v)) {
    w.Double(std::round(*v * scale) / scale);
  } else {
    w.Null();
  }
}

// One "name": value member. The overloads keep each member of a JSON object on one line.
void field(Writer& w, Name name, std::string_view text) {
  key(w, name);
  string(w, text);
}
// A string literal would otherwise pick the bool overload (a standard conversion beats
// the conversion to string_view): make such a call fail to compile instead.
void field(Writer& w, Name name, const char* text) = delete;
void field(Writer& w, Name name, bool value) {
  key(w, name);
  w.Bool(value);
}
template <std::integral T>
void field(Writer& w, Name name, T value) {
  key(w, name);
  if constexpr (std::is_signed_v<T>) {
    w.Int64(static_cast<int64_t>(value));
  } else {
    w.Uint64(static_cast<uint64_t>(value));
  }
}
template <std::integral T>
void field(Writer& w, Name name, const std::optional<T>& value) {
  key(w, name);
  optionalInt(w, value);
}
void field(Writer& w, Name name, const std::vector<std::string>& list) {
  key(w, name);
  stringList(w, list);
}
// A string, or null when it is empty (not known, or none).
void stringOrNull(Writer& w, Name name, std::string_view text) {
  key(w, name);
  if (text.empty()) {
    w.Null();
  } else {
    string(w, text);
  }
}
// An integer, or null when it is 0 (no limit).
void limitOrNull(Writer& w, Name name, int64_t value) {
  key(w, name);
  if (value == 0) {
    w.Null();
  } else {
    w.Int64(value);
  }
}

void jobError(Writer& w, const std::optional<jobs::JobError>& error) {
  if (!error) {
    w.Null();
    return;
  }
  w.StartObject();
  field(w, "code", error->code);
  field(w, "message", error->message);
  w.EndObject();
}

http::HttpResponse respond(int status, const rapidjson::StringBuffer& buffer) {
  return http::HttpResponse::json(status, std::string(buffer.GetString(), buffer.GetSize()));
}

std::optional<int64_t> durationMs(const jobs::Job& job) {
  if (!job.started_at_ms) return std::nullopt;
  if (job.finished_at_ms) return *job.finished_at_ms - *job.started_at_ms;
  return std::nullopt;
}

// The fields every view of a job shares.
void jobSummary(Writer& w, const jobs::Job& job) {
  field(w, "job_id", job.spec.job_id);
  field(w, "state", std::string_view(jobs::stateName(job.state)));
  key(w, "created_at");
  timestamp(w, job.created_at_ms);
  key(w, "started_at");
  timestamp(w, job.started_at_ms);
  key(w, "finished_at");
  timestamp(w, job.finished_at_ms);
  field(w, "exit_code", job.exit_code);
  key(w, "error");
  jobError(w, job.error);
  field(w, "task_type", job.spec.task_type);
  // What the container was created from (a built image's tag too), once known.
  field(w, "image", job.image_ref.empty() ? job.spec.image : job.image_ref);
  field(w, "duration_ms", durationMs(job));
}

// The full record of GET /jobs/{job_id} (without queue_position).
void jobRecord(Writer& w, const jobs::Job& job, bool with_base64) {
  jobSummary(w, job);
  field(w, "stdout", job.stdout_output.data);
  field(w, "stderr", job.stderr_output.data);
  if (with_base64) {
    field(w, "stdout_base64", core::base64Encode(job.stdout_output.data));
    field(w, "stderr_base64", core::base64Encode(job.stderr_output.data));
  }
  field(w, "stdout_truncated", job.stdout_output.truncated);
  field(w, "stderr_truncated", job.stderr_output.truncated);
  field(w, "oom_killed", job.oom_killed);
  key(w, "limits");
  w.StartObject();
  field(w, "memory_mb", job.spec.limits.memory_mb);
  field(w, "max_runtime_seconds", job.spec.limits.max_runtime_seconds);
  key(w, "cpus");
  if (job.spec.limits.nano_cpus > 0) {
    w.Double(static_cast<double>(job.spec.limits.nano_cpus) / 1e9);
  } else {
    w.Null();
  }
  // Settled when the run starts (RunSettings): null before, and when there is none.
  limitOrNull(w, "pids_limit", job.run_settings.pids_limit);
  w.EndObject();
  stringOrNull(w, "image_id", job.image_id);
  field(w, "runtime_mode", job.spec.runtime_mode);
  field(w, "image_pulled", job.image_pulled);
  field(w, "image_built", job.image_built);
  key(w, "isolation");
  // RunSettings is filled when the run starts: until then there is nothing to report.
  if (job.started_at_ms) {
    const jobs::RunSettings& run = job.run_settings;
    w.StartObject();
    field(w, "network", run.network);
    field(w, "read_only_rootfs", run.read_only_rootfs);
    stringOrNull(w, "user", run.user);
    stringOrNull(w, "runtime", run.container_runtime);
    stringOrNull(w, "workspace", run.workspace);
    w.EndObject();
  } else {
    w.Null();
  }
  if (!job.spec.outputs.empty()) {
    key(w, "outputs");
    w.StartArray();
    for (const jobs::OutputFile& file : job.output_files) {
      w.StartObject();
      field(w, "path", file.path);
      field(w, "found", file.found);
      field(w, "size", file.size);
      field(w, "truncated", file.truncated);
      // Files are bytes: always base64 here, whatever ?encoding says.
      key(w, "content_base64");
      if (file.found) {
        string(w, core::base64Encode(file.data));
      } else {
        w.Null();
      }
      w.EndObject();
    }
    w.EndArray();
  }
}

// The last value of query parameter name in request, nullopt when absent. False when the
// query string has a malformed %-escape.
bool queryValue(const http::HttpRequest& request, std::string_view name,
                std::optional<std::string>* value) {
  std::vector<std::pair<std::string, std::string>> query;
  if (!http::parseQuery(request.query, &query)) return false;
  value->reset();
  for (auto& [k, v] : query) {
    if (k == name) *value = std::move(v);
  }
  return true;
}

bool mediaTypeIsJson(const std::string& content_type) {
  std::string_view type(content_type);
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower == "application/json" || (lower.size() > 5 && lower.ends_with("+json"));
}

}  // namespace

WorkerApi::WorkerApi(const core::Clock& clock, WorkerIdentity identity,
                     const metrics::HostInfo& host, const metrics::HostSampler& sampler,
                     const docker::EngineMonitor& engine, jobs::JobStore& store,
                     jobs::Scheduler& scheduler, JobRequestParser parser)
    : clock_(clock),
      identity_(std::move(identity)),
      host_(host),
      sampler_(sampler),
      engine_(engine),
      store_(store),
      scheduler_(scheduler),
      parser_(std::move(parser)),
      started_(clock.now()) {}

void WorkerApi::registerRoutes(http::Router& router) {
  router.add("GET", "/info",
             [this](const http::HttpRequest& r, const http::RouteParams&) { return info(r); });
  router.add("GET", "/health",
             [this](const http::HttpRequest& r, const http::RouteParams&) { return health(r); });
  router.add("GET", "/metrics", [this](const http::HttpRequest& r, const http::RouteParams&) {
    return prometheusMetrics(r);
  });
  router.add("POST", "/jobs",
             [this](const http::HttpRequest& r, const http::RouteParams&) { return submitJob(r); });
  router.add("GET", "/jobs",
             [this](const http::HttpRequest& r, const http::RouteParams&) { return listJobs(r); });
  router.add("GET", "/jobs/{job_id}",
             [this](const http::HttpRequest& r, const http::RouteParams& p) {
               return getJob(r, p.get("job_id"));
             });
  router.add("GET", "/jobs/{job_id}/output",
             [this](const http::HttpRequest& r, const http::RouteParams& p) {
               return jobOutput(r, p.get("job_id"));
             });
  router.add("DELETE", "/jobs/{job_id}",
             [this](const http::HttpRequest&, const http::RouteParams& p) {
               return cancelJob(p.get("job_id"));
             });
}

http::HttpResponse WorkerApi::renderError(int status, std::string_view code,
                                          std::string_view message) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "error");
  w.StartObject();
  field(w, "code", code);
  field(w, "message", message);
  w.EndObject();
  w.EndObject();
  return respond(status, buffer);
}

http::HttpResponse WorkerApi::info(const http::HttpRequest&) const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "worker_id", identity_.worker_id);
  field(w, "hostname", host_.hostname);
  field(w, "protocol_version", 1);
  field(w, "cpu_cores", host_.cpu_cores);
  field(w, "cpu_threads", host_.cpu_threads);
  field(w, "memory_mb", host_.memory_mb);
  field(w, "labels", identity_.labels);
  field(w, "os", host_.os);
  field(w, "os_architecture", host_.os_architecture);
  field(w, "cpu_model", host_.cpu_model);
  field(w, "version", identity_.version);
  field(w, "runtime_modes", identity_.runtime_modes);
  field(w, "allowed_images", identity_.allowed_images);
  key(w, "docker");
  const auto& engine = engine_.status();
  if (engine.version) {
    w.StartObject();
    field(w, "server_version", engine.version->version);
    field(w, "api_version", engine.version->api_version);
    // The engine's oldest version, and the one the worker negotiated (null: none fits).
    key(w, "min_api_version");
    if (engine.api_range.min) {
      string(w, engine.api_range.min->text());
    } else {
      w.Null();
    }
    key(w, "negotiated_api_version");
    if (engine.api_version) {
      string(w, engine.api_version->text());
    } else {
      w.Null();
    }
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  return respond(200, buffer);
}

std::vector<std::string> healthReasons(const metrics::HostSample& sample,
                                       const docker::EngineStatus& engine,
                                       const HealthPolicy& policy, const std::string& jobs_path,
                                       const std::string& docker_root_dir) {
  std::vector<std::string> reasons;
  if (!engine.reachable) {
    reasons.push_back("docker engine unreachable" +
                      (engine.last_error.empty() ? "" : ": " + engine.last_error));
  }
  if (!engine.limits_unenforced.empty()) {
    reasons.push_back("docker engine cannot enforce job limits: " + engine.limits_unenforced);
  }
  if (!engine.api_unsupported.empty()) {
    reasons.push_back("docker engine API version unsupported: " + engine.api_unsupported);
  }
  const auto disk = [&](const char* what, const std::string& path,
                        const metrics::DiskUsage& usage) {
    if (policy.disk_min_free_percent <= 0 || !usage.total_mb || !usage.available_mb ||
        *usage.total_mb <= 0) {
      return;
    }
    const double free_percent =
        100.0 * static_cast<double>(*usage.available_mb) / static_cast<double>(*usage.total_mb);
    if (free_percent >= static_cast<double>(policy.disk_min_free_percent)) return;
    char text[64];
    std::snprintf(text, sizeof text, "%.1f", free_percent);
    reasons.push_back(std::string("disk nearly full: ") + what + " " + path + " has " + text +
                      "% free (minimum " + std::to_string(policy.disk_min_free_percent) + "%)");
  };
  disk("jobs_path", jobs_path, sample.jobs_disk);
  disk("docker_root_dir", docker_root_dir, sample.docker_disk);
  if (policy.thermal_limit_c > 0 && sample.temperature_c &&
      *sample.temperature_c > static_cast<double>(policy.thermal_limit_c)) {
    std::string zone;
    for (const metrics::ThermalZone& z : sample.thermal_zones) {
      if (z.temperature_c == *sample.temperature_c) {
        zone = " (" + z.zone + (z.type.empty() ? "" : " " + z.type) + ")";
        break;
      }
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.1f", *sample.temperature_c);
    reasons.push_back(std::string("temperature ") + text + " C is above thermal_limit_c " +
                      std::to_string(policy.thermal_limit_c) + zone);
  }
  return reasons;
}

namespace {
void cgroupUsage(Writer& w, const metrics::CgroupUsage& u) {
  const auto field = [&](Name name, const std::optional<uint64_t>& v) {
    key(w, name);
    optionalInt(w, v);
  };
  key(w, "cpu_usage_seconds");
  if (u.cpu_usage_usec) {
    w.Double(std::round(static_cast<double>(*u.cpu_usage_usec) / 1e4) / 100.0);
  } else {
    w.Null();
  }
  field("memory_current_bytes", u.memory_current_bytes);
  field("memory_max_bytes", u.memory_max_bytes);
  field("oom_kills", u.oom_kills);
  field("pids_current", u.pids_current);
  field("io_read_bytes", u.io_read_bytes);
  field("io_write_bytes", u.io_write_bytes);
}
}  // namespace

void WorkerApi::readHealthInputs(HealthInputs& inputs) const {
  const docker::EngineStatus& engine = engine_.status();
  inputs.samples = sampler_.samples();
  inputs.engine_reachable = engine.reachable;
  inputs.ping_ms = engine.ping_ms;
  inputs.engine_error = engine.last_error;
  inputs.limits_unenforced = engine.limits_unenforced;
  inputs.api_unsupported = engine.api_unsupported;
  inputs.jobs_path = sampler_.jobsPath();
  inputs.docker_root_dir = sampler_.dockerRootDir();
  inputs.running = scheduler_.running();
  inputs.queued = scheduler_.queued();
  inputs.max_concurrent = scheduler_.maxConcurrent();
  inputs.accepted = scheduler_.totalEntered(jobs::JobState::kQueued);
  inputs.finished = scheduler_.totalEntered(jobs::JobState::kFinished);
  inputs.failed = scheduler_.totalEntered(jobs::JobState::kFailed);
  inputs.policy = health_policy_;
}

http::HttpResponse WorkerApi::health(const http::HttpRequest&) const {
  readHealthInputs(health_inputs_);
  if (!health_body_ || !(health_body_->inputs == health_inputs_)) {
    if (!health_body_) health_body_.emplace();
    health_body_->inputs = health_inputs_;
    renderHealth(*health_body_);
  }
  const HealthBody& rendered = *health_body_;
  char timestamp[24];
  char uptime[24];
  char* timestamp_end =
      std::to_chars(timestamp, timestamp + sizeof timestamp, clock_.wallMillis()).ptr;
  char* uptime_end =
      std::to_chars(
          uptime, uptime + sizeof uptime,
          std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - started_).count())
          .ptr;
  std::string body;
  body.reserve(rendered.body.size() + sizeof timestamp + sizeof uptime);
  body.append(rendered.body, 0, rendered.timestamp_at);
  body.append(timestamp, static_cast<size_t>(timestamp_end - timestamp));
  body.append(rendered.body, rendered.timestamp_at + 1,
              rendered.uptime_at - rendered.timestamp_at - 1);
  body.append(uptime, static_cast<size_t>(uptime_end - uptime));
  body.append(rendered.body, rendered.uptime_at + 1);
  return http::HttpResponse::json(rendered.status, std::move(body));
}

void WorkerApi::renderHealth(HealthBody& rendered) const {
  const metrics::HostSample& sample = sampler_.latest();
  const auto& engine = engine_.status();
  const std::vector<std::string> reasons =
      healthReasons(sample, engine, health_policy_, sampler_.jobsPath(), sampler_.dockerRootDir());
  const bool degraded = !reasons.empty();
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  // A 0 as a time field's value, where health() writes the time of each request.
  const auto placeholder = [&](Name name) {
    field(w, name, 0);
    return buffer.GetSize() - 1;
  };
  w.StartObject();
  field(w, "status", std::string_view(degraded ? "degraded" : "ok"));
  if (degraded) {
    field(w, "reasons", reasons);
  }
  field(w, "health_protocol_version", 2);
  rendered.timestamp_at = placeholder("timestamp_unix_ms");
  rendered.uptime_at = placeholder("uptime_seconds");
  key(w, "load_average");
  w.StartArray();
  for (double load : sample.load_average) w.Double(std::round(load * 100.0) / 100.0);
  w.EndArray();
  field(w, "running_jobs", scheduler_.running());
  field(w, "queued_jobs", scheduler_.queued());
  field(w, "max_concurrent_jobs", scheduler_.maxConcurrent());
  key(w, "temperature_c");
  optionalDouble(w, sample.temperature_c, 10.0);
  field(w, "cpu_threads", host_.cpu_threads);
  key(w, "dedicated_reserved_cpu_ids");
  w.StartArray();
  w.EndArray();
  field(w, "dedicated_reserved_count", 0);
  field(w, "memory_total_mb", sample.memory_total_mb);
  field(w, "memory_available_mb", sample.memory_available_mb);
  field(w, "jobs_path", sampler_.jobsPath());
  field(w, "jobs_disk_total_mb", sample.jobs_disk.total_mb);
  field(w, "jobs_disk_available_mb", sample.jobs_disk.available_mb);
  key(w, "docker_root_dir");
  if (sampler_.dockerRootDir().empty()) {
    w.Null();
  } else {
    string(w, sampler_.dockerRootDir());
  }
  field(w, "docker_disk_total_mb", sample.docker_disk.total_mb);
  field(w, "docker_disk_available_mb", sample.docker_disk.available_mb);
  key(w, "docker");
  w.StartObject();
  field(w, "reachable", engine.reachable);
  key(w, "ping_ms");
  optionalDouble(w, engine.ping_ms);
  key(w, "error");
  if (engine.reachable || engine.last_error.empty()) {
    w.Null();
  } else {
    string(w, engine.last_error);
  }
  w.EndObject();
  key(w, "cpu_usage_percent");
  optionalDouble(w, sample.cpu_usage_percent, 10.0);
  key(w, "thermal_zones");
  w.StartArray();
  for (const metrics::ThermalZone& zone : sample.thermal_zones) {
    w.StartObject();
    field(w, "zone", zone.zone);
    field(w, "type", zone.type);
    key(w, "temperature_c");
    optionalDouble(w, zone.temperature_c, 10.0);
    w.EndObject();
  }
  w.EndArray();
  const metrics::CgroupSample& cgroup = sample.cgroup;
  key(w, "cgroup");
  w.StartObject();
  field(w, "version", std::string_view(metrics::cgroupVersionName(cgroup.version)));
  key(w, "worker");
  if (cgroup.worker.found) {
    w.StartObject();
    key(w, "cpu_percent");
    optionalDouble(w, cgroup.worker_cpu_percent, 10.0);
    cgroupUsage(w, cgroup.worker);
    w.EndObject();
  } else {
    w.Null();
  }
  key(w, "jobs");
  w.StartObject();
  field(w, "containers", cgroup.job_containers);
  field(w, "containers_found", cgroup.job_containers_found);
  cgroupUsage(w, cgroup.jobs);
  w.EndObject();
  w.EndObject();
  key(w, "jobs");
  w.StartObject();
  field(w, "queued", scheduler_.queued());
  field(w, "running", scheduler_.running());
  field(w, "accepted_total", scheduler_.totalEntered(jobs::JobState::kQueued));
  field(w, "finished_total", scheduler_.totalEntered(jobs::JobState::kFinished));
  field(w, "failed_total", scheduler_.totalEntered(jobs::JobState::kFailed));
  w.EndObject();
  key(w, "health_limits");
  w.StartObject();
  field(w, "thermal_limit_c", health_policy_.thermal_limit_c);
  field(w, "disk_min_free_percent", health_policy_.disk_min_free_percent);
  w.EndObject();
  w.EndObject();
  rendered.status = degraded ? 503 : 200;
  rendered.body.assign(buffer.GetString(), buffer.GetSize());
}

http::HttpResponse WorkerApi::prometheusMetrics(const http::HttpRequest& request) const {
  if (metrics_ == nullptr)
    return renderError(404, "NOT_FOUND", "no such resource: " + request.path);
  http::HttpResponse response{200, {}, metrics_->render()};
  response.headers.emplace_back("Content-Type", metrics::MetricsRegistry::kContentType);
  return response;
}

http::HttpResponse WorkerApi::rejectJob(const Rejection& rejection) const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "accepted", false);
  key(w, "job_id");
  if (rejection.job_id) {
    string(w, *rejection.job_id);
  } else {
    w.Null();
  }
  field(w, "state", std::string_view("rejected"));
  key(w, "error");
  w.StartObject();
  field(w, "code", rejection.code);
  field(w, "message", rejection.message);
  w.EndObject();
  w.EndObject();
  return respond(rejection.status, buffer);
}

http::HttpResponse WorkerApi::submitJob(const http::HttpRequest& request) {
  if (!accepting_jobs_) {
    return rejectJob(
        {503, "SHUTTING_DOWN", "this worker is shutting down and takes no new jobs", {}});
  }
  // No Content-Type is tolerated (hand-written clients); a different one is not.
  if (const std::string* type = request.header("Content-Type"); type && !mediaTypeIsJson(*type)) {
    return rejectJob({415,
                      "UNSUPPORTED_MEDIA_TYPE",
                      "Content-Type must be application/json, not \"" + *type + "\"",
                      {}});
  }
  ParsedJob parsed = parser_.parse(request.body);
  if (!parsed.spec) return rejectJob(parsed.rejection);

  auto job = std::make_unique<jobs::Job>();
  job->spec = std::move(*parsed.spec);
  const std::string job_id = job->spec.job_id;
  if (const std::string& reason = engine_.status().limits_unenforced; !reason.empty()) {
    return rejectJob(
        {503, "ENGINE_CANNOT_ENFORCE_LIMITS", "this worker runs no jobs: " + reason, job_id});
  }
  if (const std::string& reason = engine_.status().api_unsupported; !reason.empty()) {
    return rejectJob(
        {503, "ENGINE_API_UNSUPPORTED", "this worker runs no jobs: " + reason, job_id});
  }
  switch (scheduler_.submit(std::move(job))) {
    case jobs::Scheduler::SubmitResult::kDuplicate:
      return rejectJob({409, "JOB_ID_ALREADY_EXISTS",
                        "job_id \"" + job_id + "\" is already known to this worker", job_id});
    case jobs::Scheduler::SubmitResult::kQueueFull:
      return rejectJob(
          {503, "QUEUE_FULL", "the queue is full (max_queued_jobs); try again later", job_id});
    case jobs::Scheduler::SubmitResult::kAccepted:
      break;
  }
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "accepted", true);
  field(w, "job_id", job_id);
  field(w, "state", std::string_view("queued"));
  w.EndObject();
  return respond(202, buffer);
}

namespace {
http::HttpResponse notFound(const std::string& job_id) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "job_id", job_id);
  field(w, "state", std::string_view("not_found"));
  w.EndObject();
  return respond(404, buffer);
}
}  // namespace

http::HttpResponse WorkerApi::getJob(const http::HttpRequest& request,
                                     const std::string& job_id) const {
  std::optional<std::string> encoding;
  if (!queryValue(request, "encoding", &encoding)) {
    return renderError(400, "INVALID_QUERY", "the query string has a malformed %-escape");
  }
  if (encoding && *encoding != "utf8" && *encoding != "base64") {
    return renderError(400, "INVALID_QUERY", "encoding must be utf8 or base64");
  }
  const jobs::Job* job = store_.find(job_id);
  if (job == nullptr) return notFound(job_id);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  jobRecord(w, *job, encoding == "base64");
  if (auto position = scheduler_.queuePosition(*job)) {
    field(w, "queue_position", *position);
  }
  w.EndObject();
  return respond(200, buffer);
}

namespace {

// Streams one job's output to one client: the bytes the record holds when the stream
// starts (stdout, then stderr), then the chunks the feed publishes, in capture order,
// until the job ends. Memory stays bounded: the record's bytes are written from the
// record itself, a piece at a time as the client reads (onDrain); only live chunks that
// arrive while the client is behind are copied, up to kMaxBacklog.
//
// Owned by its callbacks: the writer's hooks and the feed subscription. Whichever way the
// stream ends (the job ends and the body is complete, the client leaves, the record
// disappears) the subscription is dropped and the writer releases its hooks, which frees
// this object.
class OutputStreamer : public std::enable_shared_from_this<OutputStreamer> {
 public:
  // Pieces written from the record at a time.
  static constexpr size_t kPiece = size_t{64} * 1024;
  // Live output held for a client that does not keep up; past it the client is cut off
  // (the same bound as the HTTP layer's buffer for a client that does not read).
  static constexpr size_t kMaxBacklog = size_t{1024} * 1024;

  OutputStreamer(const jobs::JobStore& store, jobs::OutputFeed* feed, std::string job_id,
                 bool want_stdout, bool want_stderr, http::StreamWriterPtr writer)
      : store_(store),
        feed_(feed),
        job_id_(std::move(job_id)),
        wanted_{want_stdout, want_stderr},
        writer_(std::move(writer)) {}

  // Takes the record's current output as the first part of the body and, unless the job
  // has ended, follows the feed (the caller checked that there is one).
  void start() {
    const jobs::Job* job = store_.find(job_id_);
    if (job == nullptr) {  // cannot happen: the handler found it within this event
      writer_->end();
      return;
    }
    for (jobs::OutputStream stream : kStreams) {
      if (wants(stream)) record_[index(stream)].end = output(*job, stream).size();
    }
    if (jobs::isTerminal(job->state)) {
      job_ended_ = true;
    } else {
      auto self = shared_from_this();
      subscription_ = feed_->subscribe(
          job_id_,
          [self](jobs::OutputStream stream, std::string_view chunk) {
            self->onOutput(stream, chunk);
          },
          [self] { self->onEnd(); });
    }
    auto self = shared_from_this();
    writer_->onClose([self] { self->stop(); });
    writer_->onDrain([self] { self->pump(); });
    pump();
  }

 private:
  static constexpr std::array<jobs::OutputStream, 2> kStreams = {jobs::OutputStream::kStdout,
                                                                 jobs::OutputStream::kStderr};
  static size_t index(jobs::OutputStream stream) {
    return stream == jobs::OutputStream::kStdout ? 0 : 1;
  }
  static const std::string& output(const jobs::Job& job, jobs::OutputStream stream) {
    return stream == jobs::OutputStream::kStdout ? job.stdout_output.data : job.stderr_output.data;
  }
  bool wants(jobs::OutputStream stream) const { return wanted_[index(stream)]; }

  void onOutput(jobs::OutputStream stream, std::string_view chunk) {
    if (!wants(stream) || chunk.empty()) return;
    if (backlog_bytes_ + chunk.size() > kMaxBacklog) {
      core::logWarning("job output stream: the client is not keeping up; closing it job_id=",
                       job_id_);
      finish(false);
      return;
    }
    backlog_.emplace_back(chunk);
    backlog_bytes_ += chunk.size();
    pump();
  }

  void onEnd() {
    subscription_ = 0;  // the feed has dropped it
    job_ended_ = true;
    // The store may drop the record from now on: copy what is still to be sent from it
    // (bounded by the output cap), ahead of the live chunks.
    if (const jobs::Job* job = store_.find(job_id_)) {
      for (auto stream = kStreams.rbegin(); stream != kStreams.rend(); ++stream) {
        Range& range = record_[index(*stream)];
        if (range.next < range.end) {
          backlog_.emplace_front(output(*job, *stream).substr(range.next, range.end - range.next));
          backlog_bytes_ += range.end - range.next;
          range.next = range.end;
        }
      }
    }
    pump();
  }

  // Writes until the client has enough waiting, then waits for onDrain. Completes the
  // body once the job has ended and everything is written.
  void pump() {
    while (writer_->isOpen() && writer_->buffered() < http::StreamWriter::kDrainMark) {
      if (!writeNextPiece()) break;
    }
    if (writer_->isOpen() && job_ended_ && !pending()) finish(true);
  }

  bool pending() const {
    return !backlog_.empty() || record_[0].next < record_[0].end ||
           record_[1].next < record_[1].end;
  }

  // False when there is nothing to write, or the stream is over.
  bool writeNextPiece() {
    for (jobs::OutputStream stream : kStreams) {
      Range& range = record_[index(stream)];
      if (range.next == range.end) continue;
      const jobs::Job* job = store_.find(job_id_);
      if (job == nullptr || output(*job, stream).size() < range.end) {
        // Dropped by retention while an ended job's output was still going out.
        core::logInfo("job output stream: the job record is gone; closing job_id=", job_id_);
        finish(false);
        return false;
      }
      const size_t n = std::min(kPiece, range.end - range.next);
      const std::string_view piece = std::string_view(output(*job, stream)).substr(range.next, n);
      range.next += n;
      return writer_->write(piece);
    }
    if (backlog_.empty()) return false;
    const std::string& front = backlog_.front();
    const size_t n = std::min(kPiece, front.size() - backlog_offset_);
    // The writer copies: front may go right after.
    const bool written = writer_->write(std::string_view(front).substr(backlog_offset_, n));
    backlog_offset_ += n;
    backlog_bytes_ -= n;
    if (backlog_offset_ == front.size()) {
      backlog_.pop_front();
      backlog_offset_ = 0;
    }
    return written;
  }

  // Completes the body (complete) or cuts it short, and lets go of the feed.
  void finish(bool complete) {
    stop();
    if (complete) {
      writer_->end();
    } else {
      writer_->abort();
    }
  }

  // The stream is over for us: leave the feed and drop what is queued.
  void stop() {
    if (subscription_ != 0) feed_->unsubscribe(subscription_);
    subscription_ = 0;
    backlog_.clear();
    backlog_offset_ = 0;
    backlog_bytes_ = 0;
    record_ = {};
  }

  struct Range {
    size_t next = 0;  // the next record byte to send
    size_t end = 0;   // where the record stood when the stream started
  };

  const jobs::JobStore& store_;
  jobs::OutputFeed* feed_;
  const std::string job_id_;
  const std::array<bool, 2> wanted_;  // by index(stream)
  const http::StreamWriterPtr writer_;
  std::array<Range, 2> record_{};    // the record's output, by index(stream)
  std::deque<std::string> backlog_;  // live chunks (and, once ended, the record's rest)
  size_t backlog_offset_ = 0;        // of backlog_.front(), already written
  size_t backlog_bytes_ = 0;
  bool job_ended_ = false;
  uint64_t subscription_ = 0;
};

}  // namespace

http::HttpResponse WorkerApi::jobOutput(const http::HttpRequest& request,
                                        const std::string& job_id) {
  std::optional<std::string> stream;
  if (!queryValue(request, "stream", &stream)) {
    return renderError(400, "INVALID_QUERY", "the query string has a malformed %-escape");
  }
  const std::string which = stream.value_or("both");
  if (which != "stdout" && which != "stderr" && which != "both") {
    return renderError(400, "INVALID_QUERY", "stream must be stdout, stderr or both");
  }
  const jobs::Job* job = store_.find(job_id);
  if (job == nullptr) return notFound(job_id);
  if (output_feed_ == nullptr && !jobs::isTerminal(job->state)) {
    return renderError(503, "LIVE_OUTPUT_UNAVAILABLE",
                       "this worker cannot follow the output of a job that has not ended");
  }
  http::HttpResponse response = http::HttpResponse::streamed(
      200, "application/octet-stream",
      [this, job_id, want_stdout = which != "stderr",
       want_stderr = which != "stdout"](http::StreamWriterPtr writer) {
        std::make_shared<OutputStreamer>(store_, output_feed_, job_id, want_stdout, want_stderr,
                                         std::move(writer))
            ->start();
      });
  // Raw bytes: a browser must not guess HTML or script from them.
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

http::HttpResponse WorkerApi::listJobs(const http::HttpRequest& request) const {
  std::vector<std::pair<std::string, std::string>> query;
  if (!http::parseQuery(request.query, &query)) {
    return renderError(400, "INVALID_QUERY", "the query string has a malformed %-escape");
  }
  std::optional<jobs::JobState> state;
  size_t limit = 100;
  for (const auto& [name, value] : query) {
    if (name == "state") {
      jobs::JobState parsed;
      if (!jobs::parseState(value, &parsed)) {
        return renderError(400, "INVALID_QUERY",
                           "state must be one of queued, running, finished, failed");
      }
      state = parsed;
    } else if (name == "limit") {
      size_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 10000) {
        return renderError(400, "INVALID_QUERY", "limit must be a whole number from 1 to 10000");
      }
      limit = n;
    } else {
      return renderError(400, "INVALID_QUERY",
                         "unknown query parameter \"" + name + "\" (state, limit)");
    }
  }
  const auto jobs = store_.list(state, limit);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "jobs");
  w.StartArray();
  for (const jobs::Job* job : jobs) {
    w.StartObject();
    jobSummary(w, *job);
    w.EndObject();
  }
  w.EndArray();
  field(w, "count", jobs.size());
  w.EndObject();
  return respond(200, buffer);
}

http::HttpResponse WorkerApi::cancelJob(const std::string& job_id) {
  int status = 200;
  const char* note = nullptr;
  switch (scheduler_.cancel(job_id)) {
    case jobs::Scheduler::CancelResult::kNotFound:
      return notFound(job_id);
    case jobs::Scheduler::CancelResult::kCancelled:
      note = "Cancelled while queued";
      break;
    case jobs::Scheduler::CancelResult::kCancelRequested:
      status = 202;
      note = "Cancellation requested";
      break;
    case jobs::Scheduler::CancelResult::kAlreadyEnded:
      note = "The job has already ended; nothing to cancel";
      break;
  }
  const jobs::Job* job = store_.find(job_id);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "job_id", job_id);
  key(w, "state");
  // A cancelled job may already be pruned (max_finished_jobs 0): it ended failed.
  w.String(job ? jobs::stateName(job->state) : "failed");
  field(w, "note", std::string_view(note));
  w.EndObject();
  return respond(status, buffer);
}

}  // namespace wa::api
