#include "jobs/engine_gate.h"

#include "core/log.h"

namespace wa::jobs {

using Reason = Scheduler::PauseReason;

EngineGate::EngineGate(docker::DockerClient& docker, docker::EngineMonitor& monitor,
                       Scheduler& scheduler, ContainerReaper& reaper)
    : monitor_(monitor), scheduler_(scheduler), reaper_(reaper) {
  docker.setErrorObserver([this](std::string_view endpoint, const docker::DockerError& error) {
    if (on_docker_error_) on_docker_error_(endpoint, error);
    // Before the failed request's own callback: a job that fails this way frees its slot
    // only after the scheduler has been told to hold the queue.
    if (error.connect_failed) monitor_.reportConnectFailed(error.message);
  });
  monitor_.setOnChange([this](const docker::EngineStatus& status) { onStatus(status); });
  scheduler_.setOnRequeued([this](const Job&) { onRequeued(); });
  // Until the engine's /info says it enforces job limits (onStatus).
  scheduler_.setPaused(Reason::kEngineLimits, true);
}

void EngineGate::onStatus(const docker::EngineStatus& status) {
  // A job must not run with limits the engine ignores: queued jobs wait until its /info
  // says it can enforce them (and new ones are refused meanwhile: WorkerApi::submitJob),
  // and until its /version tells Docker from Podman (they are spelled differently).
  const bool limits_held =
      !status.info_known || !status.version || !status.limits_unenforced.empty();
  if (limits_held != scheduler_.paused(Reason::kEngineLimits)) {
    scheduler_.setPaused(Reason::kEngineLimits, limits_held);
    if (limits_held && !status.limits_unenforced.empty())
      core::logInfo("queued jobs wait: ", status.limits_unenforced,
                    " queued=", scheduler_.queued());
  }
  // Queued jobs wait while the engine is away: starting them would only fail them. When
  // it answers again they start, and the removals that failed meanwhile are tried at once.
  // Runs on every change, including a request's failed connect (no engine request may be
  // made then, and none is: only the reachable branch makes one).
  if (status.reachable == scheduler_.paused(Reason::kEngineUnreachable)) {
    scheduler_.setPaused(Reason::kEngineUnreachable, !status.reachable);
    if (status.reachable) {
      core::logInfo("docker engine is back; queued jobs may start queued=", scheduler_.queued(),
                    " removals_pending=", reaper_.pending());
      reaper_.retryNow();
    } else {
      core::logInfo("queued jobs wait until the docker engine answers queued=",
                    scheduler_.queued());
    }
  }
  if (on_status_) on_status_(status);
}

void EngineGate::onRequeued() {
  // A job that found the engine away before it had a container went back to the queue:
  // hold the queue until the engine has been asked again, or the same job would start at
  // once and find it away again. An engine that does not answer holds the queue on its
  // own (kEngineUnreachable) from then on.
  scheduler_.setPaused(Reason::kEngineCheck, true);
  monitor_.checkNow(
      [this](const docker::EngineStatus&) { scheduler_.setPaused(Reason::kEngineCheck, false); });
}

}  // namespace wa::jobs
