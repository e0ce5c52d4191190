#include "api/job_views.h"

#include <rapidjson/stringbuffer.h>

#include "core/text.h"

namespace wa::api {

using namespace json;

namespace {

std::optional<int64_t> durationMs(const jobs::Job& job) {
  if (!job.started_at_ms) return std::nullopt;
  if (job.finished_at_ms) return *job.finished_at_ms - *job.started_at_ms;
  return std::nullopt;
}

}  // namespace

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
  key(w, "usage");
  // Read when the container stopped: null before, and for a job whose container never ran.
  if (const std::optional<jobs::JobUsage>& usage = job.usage) {
    w.StartObject();
    key(w, "cpu_seconds");
    optionalDouble(w, usage->cpu_seconds, 1000.0);  // to the millisecond
    field(w, "memory_peak_bytes", usage->memory_peak_bytes);
    field(w, "io_read_bytes", usage->io_read_bytes);
    field(w, "io_write_bytes", usage->io_write_bytes);
    field(w, "pids_peak", usage->pids_peak);
    field(w, "source", usage->source);
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

http::HttpResponse jobNotFound(const std::string& job_id) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "job_id", job_id);
  field(w, "state", std::string_view("not_found"));
  w.EndObject();
  return respond(404, buffer);
}
http::HttpResponse jobRejected(const Rejection& rejection) {
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

}  // namespace wa::api
