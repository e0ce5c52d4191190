#include "daemon/shutdown_sequence.h"

#include <chrono>
#include <utility>

#include "core/log.h"

namespace wa::daemon {

ShutdownSequence::ShutdownSequence(core::EventLoop& loop, api::WorkerApi& api,
                                   jobs::Scheduler& scheduler, jobs::DockerJobRunner& runner,
                                   http::HttpServer& server, SystemdNotifier& notifier, Sweep sweep)
    : loop_(loop),
      api_(api),
      scheduler_(scheduler),
      runner_(runner),
      server_(server),
      notifier_(notifier),
      sweep_(std::move(sweep)) {}

void ShutdownSequence::onStopSignal(int signo, bool keep, core::Millis drain) {
  if (!started_) {
    begin(signo, keep, drain);
  } else if (keeping_) {
    core::logWarning("signal ", signo, " again: exiting now; ", runner_.starting(),
                     " container(s) being started are left as they are");
    exit_status_ = 1;
    loop_.stop();
  } else if (!cancelling_) {
    core::logInfo("signal ", signo, " again: skipping the drain");
    cancelRuns();
  } else {
    core::logWarning("signal ", signo, " during clean-up: exiting now; ", runner_.active(),
                     " container(s) are left for the next start-up to remove");
    exit_status_ = 1;
    loop_.stop();
  }
}

void ShutdownSequence::begin(int signo, bool keep, core::Millis drain) {
  started_ = true;
  notifier_.stopping();
  api_.setAcceptingJobs(false);
  scheduler_.setPaused(jobs::Scheduler::PauseReason::kShutdown, true);
  if (notifier_.enabled()) extend_timer_ = loop_.createTimer([this] { extendStopTimeout(); });
  if (keep) {
    keeping_ = true;
    core::logInfo("stopping on signal ", signo, ": ", runner_.active(), " running and ",
                  scheduler_.queued(),
                  " queued job(s) are kept for the next start (stop_action keep)");
    armDeadline();
    extendStopTimeout();
    leaveWhenStarted();
    return;
  }
  if (drain.count() > 0 && runner_.active() > 0) {
    core::logInfo("shutting down on signal ", signo, ": letting ", runner_.active(),
                  " running job(s) finish for up to ", drain.count() / 1000, " s");
    drain_timer_ = loop_.createTimer([this] {
      core::logInfo("drain time is over");
      cancelRuns();
    });
    drain_timer_->enableAfter(drain);
    drain_end_ = loop_.clock().now() + drain;
  } else {
    core::logInfo("shutting down on signal ", signo);
    cancelRuns();
  }
  extendStopTimeout();
  finishIfIdle();
}

void ShutdownSequence::extendStopTimeout() {
  if (!extend_timer_) return;
  core::Millis left = kDeadline + kExtendMargin;
  const core::MonoTime now = loop_.clock().now();
  if (!cancelling_ && drain_end_ > now) {
    left += std::chrono::duration_cast<core::Millis>(drain_end_ - now);
  }
  notifier_.extendTimeout(left);
  extend_timer_->enableAfter(kExtendInterval);
}

void ShutdownSequence::cancelRuns() {
  if (cancelling_) return;
  cancelling_ = true;
  if (drain_timer_) drain_timer_->disable();
  if (runner_.active() > 0) core::logInfo("cancelling ", runner_.active(), " running job(s)");
  runner_.cancelAll();
  armDeadline();
}

void ShutdownSequence::armDeadline() {
  if (deadline_) return;
  deadline_ = loop_.createTimer([this] {
    core::logWarning("shutdown deadline passed; exiting with ", runner_.active(),
                     " run(s) unfinished");
    exit_status_ = 1;
    loop_.stop();
  });
  deadline_->enableAfter(kDeadline);
}

void ShutdownSequence::leaveWhenStarted() {
  // Polled: a run leaves kStarting from an engine answer, not from an event of ours.
  constexpr core::Millis kCheckInterval{50};
  if (runner_.starting() > 0) {
    if (!starting_check_) starting_check_ = loop_.createTimer([this] { leaveWhenStarted(); });
    starting_check_->enableAfter(kCheckInterval);
    return;
  }
  server_.stopListening();
  core::logInfo("stopped; running containers are left to the next start");
  loop_.stop();
}

void ShutdownSequence::onJobEnded() {
  // The run is freed after this batch; look again then.
  if (started_) loop_.post([this] { finishIfIdle(); });
}

void ShutdownSequence::finishIfIdle() {
  if (!started_ || keeping_ || runner_.active() > 0 || final_sweep_started_) return;
  final_sweep_started_ = true;
  cancelling_ = true;  // nothing left to cancel; a further signal means "exit now"
  if (drain_timer_) drain_timer_->disable();
  server_.stopListening();
  armDeadline();
  sweep_([this](bool) {
    core::logInfo("shutdown complete");
    loop_.stop();
  });
}

}  // namespace wa::daemon
