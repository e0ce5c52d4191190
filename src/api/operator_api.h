// OperatorApi: the routes for the worker's operator, beside protocol v1's: drain (take no
// new jobs, finish the ones held), resume, cancel every job, and reload the configuration
// with the outcome in the answer. The daemon serves them on the unix socket only
// (http::Dispatcher::setUnixOnlyRoutes), whose file mode says who the operator is;
// `worker-agent ctl` is their client. protocol/WORKER_HTTP_API.md, "Operator routes".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/worker_api.h"
#include "http/http_request.h"
#include "http/router.h"
#include "jobs/job_store.h"
#include "jobs/scheduler.h"

namespace wa::api {

// What a reload did: applied (keys that took their new value), restart_needed (changed
// keys that keep their running value until a restart); or, when the configuration was
// rejected, error (why; nothing changed).
struct ReloadOutcome {
  bool ok = false;
  std::string error;
  std::vector<std::string> applied;
  std::vector<std::string> restart_needed;
};

class OperatorApi {
 public:
  // Loads the configuration again and applies it, or rejects it and changes nothing.
  using Reload = std::function<ReloadOutcome()>;

  // Everything passed must outlive this object.
  OperatorApi(WorkerApi& api, jobs::JobStore& store, jobs::Scheduler& scheduler);

  // Registers every pattern of routePatterns().
  void registerRoutes(http::Router& router);
  // The routes' patterns, for the server's unix-socket-only list.
  static std::vector<std::string> routePatterns();
  // Without one, POST /operator/reload answers 409 RELOAD_UNAVAILABLE.
  void setReload(Reload reload) { reload_ = std::move(reload); }

  // POST /operator/drain: 200 with the state; 409 SHUTTING_DOWN once shutdown has begun.
  http::HttpResponse drain();
  // POST /operator/resume: 200 with the state; 409 SHUTTING_DOWN once shutdown has begun.
  http::HttpResponse resume();
  // POST /operator/cancel-all: every queued job ends failed CANCELLED at once, every
  // running one is asked to stop (as DELETE /jobs/{job_id} does); 200 with the counts.
  http::HttpResponse cancelAll();
  // POST /operator/reload: 200 with the applied and restart-only keys; 409 CONFIG_REJECTED
  // with the loader's message when the configuration does not load.
  http::HttpResponse reload();

 private:
  // {"draining", "accepting_jobs", "running_jobs", "queued_jobs"}.
  http::HttpResponse admissionState() const;

  WorkerApi& api_;
  jobs::JobStore& store_;
  jobs::Scheduler& scheduler_;
  Reload reload_;
};

}  // namespace wa::api
