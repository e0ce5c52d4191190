#include "api/health_view.h"

#include <rapidjson/stringbuffer.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "api/json_fields.h"

namespace wa::api {

using namespace json;

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

HealthView::HealthView(const core::Clock& clock, const metrics::HostInfo& host,
                       const metrics::HostSampler& sampler, const docker::EngineStatusView& engine,
                       const jobs::Scheduler& scheduler)
    : clock_(clock),
      host_(host),
      sampler_(sampler),
      engine_(engine),
      scheduler_(scheduler),
      started_(clock.now()) {}

void HealthView::readInputs(HealthInputs& inputs) const {
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
  inputs.policy = policy_;
  inputs.journal_problem = journal_ != nullptr ? journal_->problem() : std::string();
  inputs.shutting_down = shutting_down_;
  inputs.draining = draining_;
}

http::HttpResponse HealthView::respond(bool strict) const {
  readInputs(inputs_);
  if (!body_ || !(body_->inputs == inputs_)) {
    if (!body_) body_.emplace();
    body_->inputs = inputs_;
    render(*body_);
  }
  const HealthBody& rendered = *body_;
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
  return http::HttpResponse::json(strict ? rendered.strict_status : 200, std::move(body));
}

void HealthView::render(HealthBody& rendered) const {
  const metrics::HostSample& sample = sampler_.latest();
  const auto& engine = engine_.status();
  std::vector<std::string> reasons =
      healthReasons(sample, engine, policy_, sampler_.jobsPath(), sampler_.dockerRootDir());
  if (journal_ != nullptr && !journal_->problem().empty()) {
    reasons.push_back("the job journal cannot take writes (new jobs are refused): " +
                      journal_->problem());
  }
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
  field(w, "accepting_jobs",
        !shutting_down_ && !draining_ && engine.limits_unenforced.empty() &&
            engine.api_unsupported.empty() && (journal_ == nullptr || journal_->problem().empty()));
  field(w, "draining", draining_);
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
  key(w, "journal");
  if (journal_ != nullptr) {
    w.StartObject();
    field(w, "path", journal_->path());
    field(w, "writable", journal_->problem().empty());
    stringOrNull(w, "error", journal_->problem());
    stringOrNull(w, "moved_aside", journal_moved_aside_);
    w.EndObject();
  } else {
    w.Null();
  }
  key(w, "health_limits");
  w.StartObject();
  field(w, "thermal_limit_c", policy_.thermal_limit_c);
  field(w, "disk_min_free_percent", policy_.disk_min_free_percent);
  w.EndObject();
  w.EndObject();
  rendered.strict_status = degraded ? 503 : 200;
  rendered.body.assign(buffer.GetString(), buffer.GetSize());
}

}  // namespace wa::api
