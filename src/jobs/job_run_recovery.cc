// JobRun, taking a container's story up again: a container adopted after a restart of the
// worker (docs/WORKER_LIFECYCLE.md, "Restarts"), and the output a container logged while
// no one was attached (after a restart, or Podman's attach error).
#include <tuple>

#include "core/assert.h"
#include "core/text.h"
#include "jobs/container_spec.h"
#include "jobs/job_run.h"
#include "jobs/output_recovery.h"

namespace wa::jobs {

using docker::Result;
using docker::StreamKind;

namespace {
constexpr int kNotFound = 404;
}  // namespace

void JobRun::adopt(const std::string& container_id) {
  adopted_ = true;
  container_id_ = container_id;
  keeper_id_ = job_.keeper_id;  // the recovery found it by its label, or none
  // Created by the previous run of the daemon, under the parent the same job is given.
  if (context_.accounting != nullptr) cgroup_parent_ = context_.accounting->cgroupParent(job_);
  job_.container_id = container_id;
  job_.run_settings = runSettingsFor(job_.spec, options_);
  enter(Phase::kAdopting);
}

void JobRun::onAdoptInspected(const Result<docker::ContainerState>& r) {
  WA_ASSERT(phase_ == Phase::kAdopting, "an adoption inspect outside kAdopting");
  if (!r.ok() && r.error().http_status == kNotFound) {
    failWith("CONTAINER_LOST",
             "the worker restarted while the job ran and its container was gone when it came "
             "back (removed by hand, or the engine was reset); its outcome is unknown");
    container_id_.clear();
    job_.container_id.clear();
    finish();
    return;
  }
  if (!r.ok()) {
    failWith("DOCKER_ERROR", "inspecting the container of a job adopted after a restart failed: " +
                                 describeDockerError(r.error()));
    finish();
    return;
  }
  const docker::ContainerState& state = r.value();
  if (state.status == "created") {
    // Never started: the job never ran. It goes back to the queue, in its place, once its
    // container is removed.
    facts_.error = JobError{"WORKER_RESTARTED",
                            "the worker restarted before the job's container started", true};
    finish();
    return;
  }
  facts_.started = true;
  if (!state.running) {
    facts_.waited = true;
    facts_.exit_code = state.exit_code;
    finish();
    return;
  }
  // The runtime limit counts from the container's real start, not from the adoption.
  core::Millis left(job_.spec.limits.max_runtime_seconds * 1000);
  if (const std::optional<int64_t> started = core::parseRfc3339Millis(state.started_at)) {
    left -= core::Millis(context_.loop.clock().wallMillis() - *started);
  }
  runtime_timer_->enableAfter(std::max(left, core::Millis(0)));
  core::Log::write(core::LogLevel::kInfo, "following a container adopted after a restart",
                   fields());
  enter(Phase::kFollowing);
}

void JobRun::onFollowedOutput(StreamKind kind, std::string_view data) {
  std::optional<ReplayJoin>& replay = kind == StreamKind::kStderr ? stderr_replay_ : stdout_replay_;
  const std::optional<std::string_view> fresh = replay->next(data);
  if (!fresh) {
    // The log no longer starts where the stream did (it rotated while the worker was
    // away); the log read at the end marks the output incomplete. Said once.
    if (!follow_diverged_) {
      follow_diverged_ = true;
      core::Log::write(core::LogLevel::kWarning,
                       "the followed container's log does not continue the output held", fields());
    }
    return;
  }
  if (!fresh->empty()) capture(kind, *fresh);
}

void JobRun::onLogRead(const Result<std::string>& r) {
  WA_ASSERT(phase_ == Phase::kReadingLog, "a log answer outside kReadingLog");
  recoverFromLog(r);
  enter(Phase::kInspecting);
}

void JobRun::recoverFromLog(const Result<std::string>& r) {
  core::LogFields f = fields();
  std::optional<LoggedOutput> logged;
  if (!r.ok()) {
    f.emplace_back("error", describeDockerError(r.error()));
  } else if (logged = splitLoggedOutput(r.value()); !logged) {
    f.emplace_back("error", "malformed log");
  }
  if (!logged) {
    core::Log::write(core::LogLevel::kWarning,
                     "reading the job's log after Podman's attach error failed", f);
    return;
  }
  size_t recovered = 0;
  for (const auto& [kind, out, log] :
       {std::tuple{StreamKind::kStdout, &job_.stdout_output, &logged->stdout_data},
        std::tuple{StreamKind::kStderr, &job_.stderr_output, &logged->stderr_data}}) {
    const char* name = kind == StreamKind::kStdout ? "stdout_bytes" : "stderr_bytes";
    const std::optional<std::string_view> missed = missedByAttach(*out, *log);
    if (!missed && adopted_) {
      // The log no longer holds the start of what the journal kept (it rotated while the
      // worker was away): the rest cannot be placed, and the record says it is incomplete.
      out->truncated = true;
    }
    if (!missed) {
      f.emplace_back(name, "log does not continue the stream (" + std::to_string(log->size()) +
                               " logged, " + std::to_string(out->total_bytes) + " received)");
      continue;
    }
    f.emplace_back(name, std::to_string(missed->size()));
    recovered += missed->size();
    if (!missed->empty()) capture(kind, *missed);
  }
  // Most resets come after the stream had everything: worth a line only when it had not.
  core::Log::write(recovered > 0 ? core::LogLevel::kInfo : core::LogLevel::kDebug,
                   adopted_ ? "output written while the worker was away taken from the log"
                            : "output lost by Podman's attach taken from the log",
                   f);
}

}  // namespace wa::jobs
