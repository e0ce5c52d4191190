// EngineGate: lets jobs start only while the engine can run them, and wires the engine's
// signals to the parts that act on them. Queued jobs wait (Scheduler pause reasons) while
// the engine does not answer, until its /info says it enforces job limits and its
// /version tells Docker from Podman, and, after a job went back to the queue because the
// engine was away, until the engine has been asked again. A request that finds nothing
// listening marks the engine unreachable at once (before the failed request's own
// callback). When the engine is back, removals that failed meanwhile are tried again.
// The daemon and the tests that need an engine's comings and goings use this one wiring.
#pragma once

#include <functional>
#include <string_view>

#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "jobs/container_reaper.h"
#include "jobs/scheduler.h"

namespace wa::jobs {

class EngineGate {
 public:
  // Installs itself as docker's error observer, monitor's change hook and scheduler's
  // requeue hook, and holds the queue until the engine's limits are known.
  EngineGate(docker::DockerClient& docker, docker::EngineMonitor& monitor, Scheduler& scheduler,
             ContainerReaper& reaper);
  EngineGate(const EngineGate&) = delete;
  EngineGate& operator=(const EngineGate&) = delete;

  // Runs after the gate has acted on each status change (the daemon's own follow-ups).
  void setOnStatus(std::function<void(const docker::EngineStatus&)> fn) {
    on_status_ = std::move(fn);
  }
  // Runs for every failed engine call, before the call's own callback (metrics).
  void setOnDockerError(docker::DockerErrorObserver fn) { on_docker_error_ = std::move(fn); }

 private:
  void onStatus(const docker::EngineStatus& status);
  void onRequeued();

  docker::EngineMonitor& monitor_;
  Scheduler& scheduler_;
  ContainerReaper& reaper_;
  std::function<void(const docker::EngineStatus&)> on_status_;
  docker::DockerErrorObserver on_docker_error_;
};

}  // namespace wa::jobs
