#include "api/worker_api.h"

#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <charconv>

#include "api/job_views.h"
#include "api/json_fields.h"
#include "api/output_streamer.h"

namespace wa::api {

using namespace json;

namespace {

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
                     const docker::EngineStatusView& engine, jobs::JobStore& store,
                     jobs::Scheduler& scheduler, JobRequestParser parser)
    : identity_(std::move(identity)),
      host_(host),
      engine_(engine),
      store_(store),
      scheduler_(scheduler),
      parser_(std::move(parser)),
      health_(clock, host, sampler, engine, scheduler) {}

void WorkerApi::setAcceptingJobs(bool accepting) {
  shutting_down_ = !accepting;
  health_.setAdmission(shutting_down_, draining_);
}

void WorkerApi::setDraining(bool draining) {
  draining_ = draining;
  health_.setAdmission(shutting_down_, draining_);
}

bool WorkerApi::acceptingJobs() const {
  const docker::EngineStatus& engine = engine_.status();
  return !shutting_down_ && !draining_ && engine.limits_unenforced.empty() &&
         engine.api_unsupported.empty() && (journal_ == nullptr || journal_->problem().empty());
}

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
  stringOrNull(w, "cpu_model", host_.cpu_model);  // null when unknown, as the reference says
  field(w, "machine", host_.machine);
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
  field(w, "accepting_jobs", acceptingJobs());
  field(w, "draining", draining_);
  w.EndObject();
  return respond(200, buffer);
}

http::HttpResponse WorkerApi::health(const http::HttpRequest& request) const {
  // A client that treats any non-2xx answer as a dead worker (the cluster dashboard) must
  // still see a degraded one; probes that want the state in the status code ask for it.
  std::optional<std::string> strict;
  if (!queryValue(request, "strict", &strict)) {
    return renderError(400, "INVALID_QUERY", "the query string has a malformed %-escape");
  }
  if (strict && *strict != "0" && *strict != "1") {
    return renderError(400, "INVALID_QUERY", "strict must be 0 or 1");
  }
  return health_.respond(strict == "1");
}

http::HttpResponse WorkerApi::prometheusMetrics(const http::HttpRequest& request) const {
  if (metrics_ == nullptr)
    return renderError(404, "NOT_FOUND", "no such resource: " + request.path);
  http::HttpResponse response{200, {}, metrics_->render()};
  response.headers.emplace_back("Content-Type", metrics::MetricsRegistry::kContentType);
  return response;
}

http::HttpResponse WorkerApi::submitJob(const http::HttpRequest& request) {
  if (shutting_down_) {
    return jobRejected(
        {503, "SHUTTING_DOWN", "this worker is shutting down and takes no new jobs", {}});
  }
  if (draining_) {
    return jobRejected({503,
                        "DRAINING",
                        "this worker is draining: it finishes the jobs it has and takes no new "
                        "ones until its operator resumes it",
                        {}});
  }
  // No Content-Type is tolerated (hand-written clients); a different one is not.
  if (const std::string* type = request.header("Content-Type"); type && !mediaTypeIsJson(*type)) {
    return jobRejected({415,
                        "UNSUPPORTED_MEDIA_TYPE",
                        "Content-Type must be application/json, not \"" + *type + "\"",
                        {}});
  }
  ParsedJob parsed = parser_.parse(request.body);
  if (!parsed.spec) return jobRejected(parsed.rejection);

  auto job = std::make_unique<jobs::Job>();
  job->spec = std::move(*parsed.spec);
  const std::string job_id = job->spec.job_id;
  // A job no budget can ever hold would wait in the queue for ever.
  if (const int64_t budget = scheduler_.memoryBudgetMb();
      budget > 0 && job->spec.limits.memory_mb > budget) {
    return jobRejected({400, "MEMORY_OVER_BUDGET",
                        "runtime.limits.memory_mb (or default_memory_mb when it gives none) is " +
                            std::to_string(job->spec.limits.memory_mb) +
                            " MB, more than this worker's memory budget for jobs of " +
                            std::to_string(budget) + " MB",
                        job_id});
  }
  if (const std::string& reason = engine_.status().limits_unenforced; !reason.empty()) {
    return jobRejected(
        {503, "ENGINE_CANNOT_ENFORCE_LIMITS", "this worker runs no jobs: " + reason, job_id});
  }
  if (const std::string& reason = engine_.status().api_unsupported; !reason.empty()) {
    return jobRejected(
        {503, "ENGINE_API_UNSUPPORTED", "this worker runs no jobs: " + reason, job_id});
  }
  if (!scheduler_.journaled()) return submitted(job_id, scheduler_.submit(std::move(job)));
  // With a journal, the answer waits for the job to be on disk: a 202 is a promise that a
  // crash of the worker from then on does not lose the job.
  auto pending = std::make_shared<std::unique_ptr<jobs::Job>>(std::move(job));
  return http::HttpResponse::later(202, [this, pending,
                                         job_id](const http::ResponderPtr& responder) {
    const auto result = scheduler_.submit(
        std::move(*pending), [responder, job_id](std::optional<std::string> error) {
          if (error) {
            responder->respond(jobRejected(
                {503, "JOURNAL_UNAVAILABLE",
                 "the job journal cannot take the job (" + *error + "); try again later", job_id}));
          } else {
            responder->respond(submitted(job_id, jobs::Scheduler::SubmitResult::kAccepted));
          }
        });
    if (result != jobs::Scheduler::SubmitResult::kAccepted) {
      responder->respond(submitted(job_id, result));
    }
  });
}

http::HttpResponse WorkerApi::submitted(const std::string& job_id,
                                        jobs::Scheduler::SubmitResult result) {
  switch (result) {
    case jobs::Scheduler::SubmitResult::kDuplicate:
      return jobRejected({409, "JOB_ID_ALREADY_EXISTS",
                          "job_id \"" + job_id + "\" is already known to this worker", job_id});
    case jobs::Scheduler::SubmitResult::kQueueFull:
      return jobRejected(
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
  if (job == nullptr) return jobNotFound(job_id);
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
  if (job == nullptr) return jobNotFound(job_id);
  if (output_feed_ == nullptr && !jobs::isTerminal(job->state)) {
    return renderError(503, "LIVE_OUTPUT_UNAVAILABLE",
                       "this worker cannot follow the output of a job that has not ended");
  }
  http::HttpResponse response = http::HttpResponse::streamed(
      200, "application/octet-stream",
      [this, job_id, want_stdout = which != "stderr",
       want_stderr = which != "stdout"](http::StreamWriterPtr writer) {
        streamJobOutput(store_, output_feed_, job_id, want_stdout, want_stderr, std::move(writer));
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
      return jobNotFound(job_id);
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
