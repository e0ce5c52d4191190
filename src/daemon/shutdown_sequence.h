// ShutdownSequence: the daemon's way out on SIGTERM/SIGINT. New jobs are refused with 503
// at once; then, by stop_action:
// - keep: the containers that are being started are let start (a container started
//   without its attached stream would never get its stdin), then the loop stops and every
//   running container is left alone, for the next start to take up from the journal.
// - drain: three steps, each entered once: drain (running jobs may finish for
//   shutdown_drain_seconds, results stay readable), cancel (runs killed), and a final sweep
//   of this worker's containers, after which the loop stops. A second signal skips the
//   drain; a third exits at once, leaving the containers for the next start-up to remove.
// A deadline bounds the wait for the engine either way. Under systemd the stop timeout is
// kept longer than what is left of the sequence (EXTEND_TIMEOUT_USEC), so a long
// shutdown_drain_seconds needs no edit of TimeoutStopSec=.
#pragma once

#include <functional>
#include <memory>

#include "api/worker_api.h"
#include "core/event_loop.h"
#include "daemon/systemd_notifier.h"
#include "http/http_server.h"
#include "jobs/docker_job_runner.h"
#include "jobs/scheduler.h"

namespace wa::daemon {

class ShutdownSequence {
 public:
  // sweep removes this worker's containers and then calls its argument.
  using Sweep = std::function<void(std::function<void(bool listed)> done)>;

  ShutdownSequence(core::EventLoop& loop, api::WorkerApi& api, jobs::Scheduler& scheduler,
                   jobs::DockerJobRunner& runner, http::HttpServer& server,
                   SystemdNotifier& notifier, Sweep sweep);

  // A stop signal: begins the sequence (keep: leave the jobs to the next start; else
  // drain for drain), or skips ahead (see above).
  void onStopSignal(int signo, bool keep, core::Millis drain);
  // A job ended: the last one to end lets the final sweep begin.
  void onJobEnded();
  bool started() const { return started_; }
  // 0, or 1 when the sequence gave up on the engine or was cut short.
  int exitStatus() const { return exit_status_; }

  // How long the sequence waits for the engine to kill and remove containers.
  static constexpr core::Millis kDeadline{20'000};
  // How often the stop timeout is extended, and the room given beyond what is left of the
  // sequence (drain, then kDeadline).
  static constexpr core::Millis kExtendInterval{5'000};
  static constexpr core::Millis kExtendMargin{10'000};

 private:
  void begin(int signo, bool keep, core::Millis drain);
  // keep: stops the loop once no container is being started.
  void leaveWhenStarted();
  void cancelRuns();
  void armDeadline();
  // EXTEND_TIMEOUT_USEC for what is left of the sequence, again every kExtendInterval while
  // the loop runs: a loop that stalls stops extending, and systemd's timeout then applies.
  void extendStopTimeout();
  // After the last run: the final sweep, then the loop stops.
  void finishIfIdle();

  core::EventLoop& loop_;
  api::WorkerApi& api_;
  jobs::Scheduler& scheduler_;
  jobs::DockerJobRunner& runner_;
  http::HttpServer& server_;
  SystemdNotifier& notifier_;
  Sweep sweep_;
  bool started_ = false;
  bool cancelling_ = false;
  bool final_sweep_started_ = false;
  bool keeping_ = false;
  int exit_status_ = 0;
  core::MonoTime drain_end_{};  // when the drain ends, if there is one
  std::unique_ptr<core::Timer> drain_timer_;
  std::unique_ptr<core::Timer> extend_timer_;
  std::unique_ptr<core::Timer> deadline_;
  std::unique_ptr<core::Timer> starting_check_;
};

}  // namespace wa::daemon
