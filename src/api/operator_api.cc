#include "api/operator_api.h"

#include <rapidjson/stringbuffer.h>

#include <cstddef>
#include <limits>
#include <string>

#include "api/json_fields.h"
#include "core/log.h"

namespace wa::api {

using namespace json;

namespace {

constexpr const char* kDrain = "/operator/drain";
constexpr const char* kResume = "/operator/resume";
constexpr const char* kCancelAll = "/operator/cancel-all";
constexpr const char* kReload = "/operator/reload";

http::HttpResponse shuttingDown() {
  return WorkerApi::renderError(409, "SHUTTING_DOWN",
                                "this worker is shutting down; drain and resume no longer apply");
}

}  // namespace

OperatorApi::OperatorApi(WorkerApi& api, jobs::JobStore& store, jobs::Scheduler& scheduler)
    : api_(api), store_(store), scheduler_(scheduler) {}

std::vector<std::string> OperatorApi::routePatterns() {
  return {kDrain, kResume, kCancelAll, kReload};
}

void OperatorApi::registerRoutes(http::Router& router) {
  router.add("POST", kDrain,
             [this](const http::HttpRequest&, const http::RouteParams&) { return drain(); });
  router.add("POST", kResume,
             [this](const http::HttpRequest&, const http::RouteParams&) { return resume(); });
  router.add("POST", kCancelAll,
             [this](const http::HttpRequest&, const http::RouteParams&) { return cancelAll(); });
  router.add("POST", kReload,
             [this](const http::HttpRequest&, const http::RouteParams&) { return reload(); });
}

http::HttpResponse OperatorApi::admissionState() const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "draining", api_.draining());
  field(w, "accepting_jobs", api_.acceptingJobs());
  field(w, "running_jobs", scheduler_.running());
  field(w, "queued_jobs", scheduler_.queued());
  w.EndObject();
  return respond(200, buffer);
}

http::HttpResponse OperatorApi::drain() {
  if (api_.shuttingDown()) return shuttingDown();
  if (!api_.draining()) {
    api_.setDraining(true);
    core::Log::write(core::LogLevel::kInfo,
                     "draining: new jobs are refused with 503 DRAINING; the jobs held finish",
                     {{"running", std::to_string(scheduler_.running())},
                      {"queued", std::to_string(scheduler_.queued())}});
  }
  return admissionState();
}

http::HttpResponse OperatorApi::resume() {
  if (api_.shuttingDown()) return shuttingDown();
  if (api_.draining()) {
    api_.setDraining(false);
    core::logInfo("drain ended: taking new jobs again");
  }
  return admissionState();
}

http::HttpResponse OperatorApi::cancelAll() {
  // Queued jobs first: a running job's end must not start one that is about to go. The
  // ids are copied first, since a cancelled job may be dropped from the store at once.
  std::vector<std::string> ids;
  for (jobs::JobState state : {jobs::JobState::kQueued, jobs::JobState::kRunning}) {
    for (const jobs::Job* job : store_.list(state, std::numeric_limits<size_t>::max())) {
      ids.push_back(job->spec.job_id);
    }
  }
  size_t cancelled = 0;
  size_t cancel_requested = 0;
  for (const std::string& id : ids) {
    switch (scheduler_.cancel(id)) {
      case jobs::Scheduler::CancelResult::kCancelled:
        ++cancelled;
        break;
      case jobs::Scheduler::CancelResult::kCancelRequested:
        ++cancel_requested;
        break;
      case jobs::Scheduler::CancelResult::kAlreadyEnded:
      case jobs::Scheduler::CancelResult::kNotFound:
        break;
    }
  }
  core::Log::write(core::LogLevel::kInfo, "every job cancelled by the operator",
                   {{"cancelled", std::to_string(cancelled)},
                    {"cancel_requested", std::to_string(cancel_requested)}});
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "cancelled", cancelled);
  field(w, "cancel_requested", cancel_requested);
  w.EndObject();
  return respond(200, buffer);
}

http::HttpResponse OperatorApi::reload() {
  if (api_.shuttingDown()) return shuttingDown();
  if (!reload_) {
    return WorkerApi::renderError(409, "RELOAD_UNAVAILABLE",
                                  "this worker has no configuration source to reload from");
  }
  const ReloadOutcome outcome = reload_();
  if (!outcome.ok) {
    return WorkerApi::renderError(
        409, "CONFIG_REJECTED",
        "the configuration was rejected and nothing changed: " + outcome.error);
  }
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  field(w, "reloaded", true);
  field(w, "applied", outcome.applied);
  field(w, "restart_needed", outcome.restart_needed);
  w.EndObject();
  return respond(200, buffer);
}

}  // namespace wa::api
