// Commands: what each `worker-agent ctl` command asks the worker and prints, through an
// HttpTransport (a fake one in the unit tests). Each returns the command's exit status
// (ctl_options.h). Tables go to out; with json, the worker's answers go there as they
// came. Errors go to err, one line each, saying what to do where it is known.
#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>

#include "ctl/http_transport.h"

namespace wa::ctl {

// The exit status and the message for a request that did not get the answer it wanted:
// no answer (3), the token refused (3), no such job (4), anything else the worker
// refused (1).
struct Failure {
  int exit_status = 1;
  std::string message;
};
Failure describeFailure(const HttpReply& reply, const std::string& where);

class Commands {
 public:
  using Sleep = std::function<void(std::chrono::milliseconds)>;
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  Commands(HttpTransport& worker, std::ostream& out, std::ostream& err, bool json);
  // For drain --wait; the real clock and sleep by default.
  void setClock(Now now, Sleep sleep) {
    now_ = std::move(now);
    sleep_ = std::move(sleep);
  }

  int status();
  int jobs(const std::string& state, int limit);
  int cancel(const std::string& job_id);
  int cancelAll();
  // With wait, polls GET /health until no job is queued or running, or wait_timeout (0: no
  // limit) passes (then 1).
  int drain(bool wait, std::chrono::seconds wait_timeout);
  int resume();
  // POST /operator/reload. When the worker does not take it there (no socket, a worker
  // without the route, or one reached on TCP), sets *answered to false and prints
  // nothing, so that the caller can fall back to a signal.
  int reload(bool* answered);

 private:
  // The answer parsed when its status is in ok; otherwise prints why and sets *exit_status.
  std::optional<rapidjson::Document> call(std::string_view method, const std::string& path,
                                          std::initializer_list<int> ok, int* exit_status);
  void printJson(const std::string& body);

  HttpTransport& worker_;
  std::ostream& out_;
  std::ostream& err_;
  bool json_;
  Now now_;
  Sleep sleep_;
};

}  // namespace wa::ctl
