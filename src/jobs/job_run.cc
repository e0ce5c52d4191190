#include "jobs/job_run.h"

#include <utility>

#include "core/assert.h"
#include "docker/engine_json.h"
#include "jobs/container_spec.h"

namespace wa::jobs {

using docker::DockerError;
using docker::Result;
using docker::StreamKind;
using docker::Unit;

namespace {
// Leads the message of a job whose engine stopped (or crashed) under it.
constexpr std::string_view kEngineLost = "the Docker engine went away while the job ran; ";
constexpr int kNotFound = 404;
// How long after an inspect without OOMKilled a likely OOM kill is asked about again.
constexpr core::Millis kOomRecheckDelay{250};
}  // namespace

const char* JobRun::phaseName(Phase phase) {
  switch (phase) {
    case Phase::kSupplying:
      return "supplying";
    case Phase::kSupplyingKeeper:
      return "supplying_keeper";
    case Phase::kCreatingKeeper:
      return "creating_keeper";
    case Phase::kStartingKeeper:
      return "starting_keeper";
    case Phase::kCreating:
      return "creating";
    case Phase::kPlacingFiles:
      return "placing_files";
    case Phase::kAttaching:
      return "attaching";
    case Phase::kStarting:
      return "starting";
    case Phase::kRunning:
      return "running";
    case Phase::kDraining:
      return "draining";
    case Phase::kAdopting:
      return "adopting";
    case Phase::kFollowing:
      return "following";
    case Phase::kReadingLog:
      return "reading_log";
    case Phase::kInspecting:
      return "inspecting";
    case Phase::kCollecting:
      return "collecting";
    case Phase::kAccounting:
      return "accounting";
    case Phase::kRemoving:
      return "removing";
    case Phase::kRemovingKeeper:
      return "removing_keeper";
    case Phase::kDone:
      return "done";
  }
  return "unknown";
}

JobRun::JobRun(const RunContext& context, RunnerOptions options, Job& job, Ended ended)
    : context_(context), options_(std::move(options)), job_(job), ended_(std::move(ended)) {
  core::EventLoop& loop = context_.loop;
  runtime_timer_ = loop.createTimer([this] { onRuntimeExceeded(); });
  grace_timer_ = loop.createTimer([this] { onDrainGraceOver(); });
  kill_deadline_ = loop.createTimer([this] { onKillDeadline(); });
  step_timer_ = loop.createTimer([this] {
    auto step = std::exchange(step_, nullptr);
    if (step != nullptr) (this->*step)();
  });
}

// Freed by its owner after it ended, or with the runner (at exit, its requests cancelled).
JobRun::~JobRun() = default;

void JobRun::begin() {
  job_.run_settings = runSettingsFor(job_.spec, options_);
  enter(Phase::kSupplying);
}

void JobRun::enter(Phase next) {
  phase_ = next;
  switch (next) {
    case Phase::kSupplying:
      // The pull or build may outlive this run (a cancel), and serves other jobs too.
      supply_ = context_.images.supply(
          job_.spec, [this](std::optional<SuppliedImage> image, std::optional<JobError> error) {
            onSupplied(std::move(image), std::move(error));
          });
      return;
    case Phase::kSupplyingKeeper: {
      JobSpec keeper;
      keeper.job_id = job_.spec.job_id;
      keeper.runtime_mode = "build";
      keeper.build = keeperImageBuild();
      supply_ = context_.images.supply(
          keeper, [this](std::optional<SuppliedImage> image, std::optional<JobError> error) {
            onKeeperSupplied(std::move(image), std::move(error));
          });
      return;
    }
    case Phase::kCreatingKeeper:
      request_ =
          context_.engine.create(keeperSpecFor(job_.spec, options_, keeper_image_),
                                 [this](const Result<std::string>& r) { onKeeperCreated(r); });
      return;
    case Phase::kStartingKeeper:
      request_ =
          context_.engine.start(keeper_id_, [this](const Result<Unit>& r) { onKeeperStarted(r); });
      return;
    case Phase::kCreating: {
      create_sent_ = context_.loop.clock().now();
      if (context_.accounting != nullptr) {
        cgroup_parent_ = context_.accounting->cgroupParent(job_);
      }
      docker::ContainerSpec spec = containerSpecFor(job_.spec, options_, engine_image_, keeper_id_);
      spec.cgroup_parent = cgroup_parent_;
      request_ =
          context_.engine.create(spec, [this](const Result<std::string>& r) { onCreated(r); });
      return;
    }
    case Phase::kPlacingFiles:
      request_ = context_.engine.putArchive(container_id_, options_.isolation.workspace_path,
                                            workspaceArchive(job_.spec, options_.isolation.user),
                                            [this](const Result<Unit>& r) { onFilesPlaced(r); });
      return;
    case Phase::kAttaching: {
      docker::AttachStream::Callbacks callbacks;
      callbacks.on_attached = [this] { onAttached(); };
      callbacks.on_output = [this](StreamKind kind, std::string_view data) {
        onOutput(kind, data);
      };
      callbacks.on_closed = [this](const std::optional<DockerError>& error) {
        onStreamClosed(error);
      };
      attach_ = context_.engine.attach(container_id_, std::move(callbacks));
      // The engine buffers nothing for us: stdin goes out once attached, then is closed.
      attach_->writeStdinAndClose(job_.spec.job_json);
      return;
    }
    case Phase::kStarting:
      request_ =
          context_.engine.start(container_id_, [this](const Result<Unit>& r) { onStarted(r); });
      return;
    case Phase::kRunning:
      runtime_timer_->enableAfter(std::chrono::seconds(job_.spec.limits.max_runtime_seconds));
      request_ =
          context_.engine.wait(container_id_, [this](const Result<int64_t>& r) { onWaited(r); });
      if (facts_.cancelled) kill();
      return;
    case Phase::kDraining:
      // The process is gone; its last output may still be in flight on the stream. Each
      // chunk that arrives re-arms the grace (onOutput), so only a stalled stream ends it.
      grace_timer_->enableAfter(options_.output_drain_grace);
      return;
    case Phase::kAdopting:
      request_ = context_.engine.inspect(
          container_id_, true,
          [this](const Result<docker::ContainerState>& r) { onAdoptInspected(r); });
      return;
    case Phase::kFollowing: {
      request_ =
          context_.engine.wait(container_id_, [this](const Result<int64_t>& r) { onWaited(r); });
      // Live output again: the log from the start, joined to what the journal kept.
      stdout_replay_.emplace(job_.stdout_output);
      stderr_replay_.emplace(job_.stderr_output);
      docker::AttachStream::Callbacks callbacks;
      callbacks.on_output = [this](StreamKind kind, std::string_view data) {
        onFollowedOutput(kind, data);
      };
      callbacks.on_closed = [this](const std::optional<DockerError>& error) {
        onStreamClosed(error);
      };
      attach_ = context_.engine.follow(container_id_, std::move(callbacks));
      if (facts_.cancelled) kill();
      return;
    }
    case Phase::kReadingLog:
      request_ = context_.engine.logs(container_id_,
                                      [this](const Result<std::string>& r) { onLogRead(r); });
      return;
    case Phase::kInspecting:
      // Inspect tells State.OOMKilled (also for a job that exits 0: an OOM kill may have
      // hit another of its processes) and the id of the image that ran. After an exit 0
      // nobody forced, it goes on the kept-alive connection; after anything else on a new
      // one, whose refusal shows an engine that went away under the job.
      request_ = context_.engine.inspect(
          container_id_, !exitedUnforced(facts_),
          [this](const Result<docker::ContainerState>& r) { onInspected(r); });
      return;
    case Phase::kCollecting:
      request_ = context_.engine.getArchive(
          container_id_, options_.isolation.workspace_path + "/" + job_.spec.outputs[next_output_],
          [this](const Result<std::string>& r) { onOutputCollected(r); });
      return;
    case Phase::kAccounting:
      // The container has stopped and still exists: what it used is read now, before the
      // outcome is told (the journal keeps the record with it). Files only, at once.
      if (facts_.started && context_.accounting != nullptr) {
        job_.usage = context_.accounting->usage(job_, container_id_);
      }
      enter(Phase::kRemoving);
      return;
    case Phase::kRemoving:
      // Told first: a restart during the removal must not take the job for lost.
      if (context_.hooks.on_outcome) {
        context_.hooks.on_outcome(job_, outcomeOf(facts_, job_.spec.limits));
      }
      request_ =
          context_.engine.remove(container_id_, [this](const Result<Unit>& r) { onRemoved(r); });
      return;
    case Phase::kRemovingKeeper:
      request_ =
          context_.engine.remove(keeper_id_, [this](const Result<Unit>& r) { onKeeperRemoved(r); });
      return;
    case Phase::kDone:
      complete();
      return;
  }
}

void JobRun::schedule(core::Millis delay, void (JobRun::*fn)()) {
  step_ = fn;
  step_timer_->enableAfter(delay);
}

void JobRun::cancel() {
  if (facts_.cancelled || !live()) return;
  facts_.cancelled = true;
  core::Log::write(core::LogLevel::kInfo, "job cancel requested", fields());
  switch (phase_) {
    case Phase::kSupplying:
    case Phase::kSupplyingKeeper:
      // No container of the job exists in the engine yet (a keeper may: finish removes
      // it). The run ends from the loop: never inside the call that cancelled it.
      supply_.reset();
      schedule(core::Millis(0), &JobRun::finish);
      return;
    case Phase::kCreatingKeeper:
    case Phase::kStartingKeeper:
    case Phase::kCreating:
    case Phase::kPlacingFiles:
    case Phase::kAttaching:
    case Phase::kStarting:
    case Phase::kAdopting:
      // The answer of the phase's request sees the flag: the container never starts (or,
      // for kStarting, is killed as soon as it runs).
      return;
    case Phase::kRunning:
    case Phase::kDraining:
    case Phase::kFollowing:
      kill();
      return;
    default:
      WA_ASSERT(false, "cancel in an ending phase");
      return;
  }
}

void JobRun::onSupplied(std::optional<SuppliedImage> image, std::optional<JobError> error) {
  WA_ASSERT(phase_ == Phase::kSupplying, "an image supplied outside kSupplying");
  supply_ = core::RequestHandle();
  if (!image) {
    facts_.error = std::move(error);
    finish();
    return;
  }
  engine_image_ = image->reference;
  image_id_ = image->image_id;
  // The record names the image as the master did; a built image by its tag.
  job_.image_ref = job_.spec.build ? image->reference : job_.spec.image;
  job_.image_pulled = image->pulled;
  job_.image_built = image->built;
  // After a create that found the image gone, the keeper made before is still there.
  enter(usesVolumeWorkspace(job_.spec) && keeper_id_.empty() ? Phase::kSupplyingKeeper
                                                             : Phase::kCreating);
}

void JobRun::advanceAfter(const Result<Unit>& r, std::string_view failure, Phase next) {
  if (!r.ok()) {
    failWith("DOCKER_ERROR", std::string(failure) + ": " + describeDockerError(r.error()));
    finish();
  } else if (facts_.cancelled) {
    finish();
  } else {
    enter(next);
  }
}

void JobRun::onCreated(const Result<std::string>& r) {
  WA_ASSERT(phase_ == Phase::kCreating, "a create answer outside kCreating");
  if (!r.ok() && r.error().http_status == kNotFound && !image_id_.empty() && !create_retried_ &&
      !facts_.cancelled) {
    // The image the supplier found (now, or remembered from an earlier inspect) is gone:
    // the supplier asks the engine again (inspect, then pull or refuse as the pull policy
    // says), and create is tried once more.
    core::LogFields f = fields();
    f.emplace_back("image_id", image_id_);
    core::Log::write(core::LogLevel::kInfo, "image gone, supplying it again", f);
    create_retried_ = true;
    context_.images.forgetImage(image_id_);
    enter(Phase::kSupplying);
    return;
  }
  if (!r.ok()) {
    failWith("DOCKER_ERROR", "creating the container failed: " + describeDockerError(r.error()));
    // Nothing took the request, so no container exists: the job may run once the engine
    // is back. A connection that broke may have made one, so that job ends as before.
    if (r.error().connect_failed) facts_.error->engine_unreached = true;
    finish();
    return;
  }
  container_id_ = r.value();
  job_.container_id = container_id_;
  core::Log::write(core::LogLevel::kDebug, "container created", fields());
  if (context_.hooks.on_container_created) context_.hooks.on_container_created(job_, container_id_);
  if (facts_.cancelled) {
    finish();
  } else if (usesVolumeWorkspace(job_.spec)) {
    enter(Phase::kPlacingFiles);
  } else {
    enter(Phase::kAttaching);
  }
}

void JobRun::onFilesPlaced(const Result<Unit>& r) {
  WA_ASSERT(phase_ == Phase::kPlacingFiles, "an archive answer outside kPlacingFiles");
  advanceAfter(r, "placing runtime.files in the workspace failed", Phase::kAttaching);
}

void JobRun::onAttached() {
  WA_ASSERT(phase_ == Phase::kAttaching, "attached outside kAttaching");
  if (facts_.cancelled) {
    finish();
  } else {
    enter(Phase::kStarting);
  }
}

void JobRun::onOutput(StreamKind kind, std::string_view data) {
  if (options_.podman && kind == StreamKind::kStderr && docker::isPodmanAttachError(data)) {
    // Podman ended the stream here, dropping output still queued: the log has it.
    attach_failed_ = true;
    core::LogFields f = fields();
    f.emplace_back("message", data.substr(0, data.size() - 1));
    core::Log::write(core::LogLevel::kDebug, "dropped Podman's attach error from stderr", f);
    return;
  }
  capture(kind, data);
  // After the exit the grace is for a stream that stalls, not for one still draining: a
  // large output read by a slow or busy worker may take longer than the grace.
  if (phase_ == Phase::kDraining) grace_timer_->enableAfter(options_.output_drain_grace);
}

void JobRun::onStreamClosed(const std::optional<DockerError>& error) {
  stream_closed_ = true;
  if (error) {
    core::LogFields f = fields();
    f.emplace_back("error", describeDockerError(*error));
    core::Log::write(core::LogLevel::kWarning, "output stream failed", f);
    // Before the container runs, a failed attach means the job cannot get its stdin (or,
    // during kStarting, its output): give up. The start request in flight is dropped.
    if (phase_ == Phase::kAttaching || phase_ == Phase::kStarting) {
      failWith("DOCKER_ERROR", "attaching to the container failed: " + describeDockerError(*error));
      finish();
      return;
    }
  }
  if (phase_ == Phase::kDraining) finish();
}

void JobRun::onStarted(const Result<Unit>& r) {
  WA_ASSERT(phase_ == Phase::kStarting, "a start answer outside kStarting");
  if (!r.ok()) {
    failWith("DOCKER_ERROR", "starting the container failed: " + describeDockerError(r.error()));
    finish();
    return;
  }
  facts_.started = true;
  core::Log::write(core::LogLevel::kInfo, "container started", fields());
  if (context_.hooks.on_container_started) {
    context_.hooks.on_container_started(job_, std::chrono::duration_cast<std::chrono::microseconds>(
                                                  context_.loop.clock().now() - create_sent_));
  }
  enter(Phase::kRunning);
}

void JobRun::onWaited(const Result<int64_t>& r) {
  WA_ASSERT(phase_ == Phase::kRunning || phase_ == Phase::kFollowing,
            "a wait answer outside kRunning and kFollowing");
  facts_.waited = true;
  runtime_timer_->disable();
  if (!r.ok()) {
    // A 200 carrying an error is the engine's own account of the wait, already worded.
    failWith("DOCKER_ERROR", r.error().http_status == 200 ? r.error().message
                                                          : "waiting for the container failed: " +
                                                                describeDockerError(r.error()));
    finish();
    return;
  }
  facts_.exit_code = r.value();
  if (stream_closed_ || phase_ == Phase::kFollowing) {
    finish();
  } else {
    enter(Phase::kDraining);
  }
}

void JobRun::onRuntimeExceeded() {
  WA_ASSERT(phase_ == Phase::kRunning || phase_ == Phase::kFollowing,
            "the runtime limit outside kRunning and kFollowing");
  facts_.timed_out = true;
  core::LogFields f = fields();
  f.emplace_back("limit_seconds", std::to_string(job_.spec.limits.max_runtime_seconds));
  core::Log::write(core::LogLevel::kInfo, "job timed out", f);
  kill();
}

void JobRun::onDrainGraceOver() {
  WA_ASSERT(phase_ == Phase::kDraining, "the drain grace outside kDraining");
  // The grace is measured on the worker's clock: after a long turn of the loop (a large
  // record rendered on a slow machine) it can be due with the rest of the output waiting
  // unread. Only a stream with nothing to read has stalled.
  if (attach_ && attach_->hasUnreadOutput()) {
    grace_timer_->enableAfter(options_.output_drain_grace);
    return;
  }
  finish();
}

void JobRun::kill() {
  facts_.kill_sent = true;
  kill_request_ =
      context_.engine.kill(container_id_, [job_id = job_.spec.job_id](const Result<Unit>& r) {
        if (!r.ok()) {
          core::logWarning("killing container failed job_id=", job_id,
                           " error=", describeDockerError(r.error()));
        }
      });
  // If the engine never reports the container stopped, the slot must not be held for
  // ever: give up waiting (the wait's handle goes with the phase) and go on to inspect
  // and (force) remove.
  if (!kill_deadline_->enabled()) kill_deadline_->enableAfter(options_.kill_grace);
}

void JobRun::onKillDeadline() {
  WA_ASSERT(phase_ == Phase::kRunning || phase_ == Phase::kDraining || phase_ == Phase::kFollowing,
            "the kill deadline outside kRunning, kDraining and kFollowing");
  failWith("DOCKER_ERROR", "the engine did not stop the container after it was killed");
  finish();
}

void JobRun::finish() {
  WA_ASSERT(live(), "finish() of a run already ending");
  runtime_timer_->disable();
  grace_timer_->disable();
  kill_deadline_->disable();
  supply_.reset();
  request_.reset();  // a late wait or start answer now reaches nobody
  if (attach_) {
    // Possibly inside one of the stream's own callbacks: it is closed now and freed later.
    attach_->close();
    context_.loop.deferredDelete(std::move(attach_));
  }
  if (container_id_.empty()) {
    enter(keeper_id_.empty() ? Phase::kDone : Phase::kRemovingKeeper);
  } else if ((attach_failed_ || adopted_) && facts_.waited) {
    enter(Phase::kReadingLog);
  } else {
    enter(Phase::kInspecting);
  }
}

void JobRun::onInspected(const Result<docker::ContainerState>& r) {
  WA_ASSERT(phase_ == Phase::kInspecting, "an inspect answer outside kInspecting");
  if (r.ok() && !oom_rechecked_ &&
      oomMayBeUnreported(facts_, r.value(), job_.spec.limits, options_.podman)) {
    // Docker records an OOM kill from an event of its own that can come after the
    // container's exit: asked once more, a moment later.
    oom_rechecked_ = true;
    schedule(kOomRecheckDelay, &JobRun::inspectAgain);
    return;
  }
  if (r.ok()) {
    facts_.oom_killed = r.value().oom_killed;
    if (!facts_.exit_code && !r.value().running) facts_.exit_code = r.value().exit_code;
    job_.image_id = r.value().image_id;
  } else if (facts_.started && r.error().connect_failed) {
    // Inspect comes on a new connection: nothing listening means the engine is going or
    // gone, and a stopping engine stops its containers, so whatever the wait said (137
    // after its grace, or a cut connection), the engine ended this job.
    facts_.error = JobError{
        "DOCKER_ERROR",
        std::string(kEngineLost) +
            (facts_.error ? facts_.error->message
                          : "inspecting the container failed: " + describeDockerError(r.error()))};
  } else if (!facts_.error) {
    failWith("DOCKER_ERROR", "inspecting the container failed: " + describeDockerError(r.error()));
  }
  if (facts_.started && !facts_.cancelled && !job_.spec.outputs.empty()) {
    next_output_ = 0;
    enter(Phase::kCollecting);
  } else {
    enter(Phase::kAccounting);
  }
}

void JobRun::inspectAgain() { enter(Phase::kInspecting); }

void JobRun::onOutputCollected(const Result<std::string>& r) {
  WA_ASSERT(phase_ == Phase::kCollecting, "an archive answer outside kCollecting");
  const std::string& path = job_.spec.outputs[next_output_];
  std::string warning;
  job_.output_files.push_back(outputFileFrom(path, r, options_.output_file_limit_bytes, &warning));
  if (!warning.empty()) {
    core::LogFields f = fields();
    f.emplace_back("path", path);
    f.emplace_back("error", warning);
    core::Log::write(core::LogLevel::kWarning, "collecting an output failed", f);
  }
  if (++next_output_ < job_.spec.outputs.size()) {
    enter(Phase::kCollecting);
  } else {
    enter(Phase::kAccounting);
  }
}

void JobRun::onRemoved(const Result<Unit>& r) {
  WA_ASSERT(phase_ == Phase::kRemoving, "a remove answer outside kRemoving");
  leaveToReaperIfFailed(r, container_id_, "removing container failed");
  // Stopped, its own cgroup gone: the job's may go (or is tried again later).
  if (context_.accounting != nullptr) context_.accounting->release(job_);
  enter(keeper_id_.empty() ? Phase::kDone : Phase::kRemovingKeeper);
}

void JobRun::leaveToReaperIfFailed(const Result<Unit>& r, const std::string& id,
                                   std::string_view failure) {
  if (r.ok()) return;
  core::logWarning(failure, ", will retry container_id=", id,
                   " error=", describeDockerError(r.error()));
  context_.reaper.removeLater(id);
}

void JobRun::complete() {
  WA_ASSERT(ended_ != nullptr, "a run completed twice");
  kill_request_.reset();
  step_timer_->disable();
  job_.container_id.clear();
  job_.keeper_id.clear();
  Ended ended = std::move(ended_);
  ended_ = nullptr;
  ended(*this, outcomeOf(facts_, job_.spec.limits));
}

void JobRun::capture(StreamKind kind, std::string_view data) {
  CapturedOutput& out = kind == StreamKind::kStderr ? job_.stderr_output : job_.stdout_output;
  const size_t kept = out.append(data, options_.output_limit_bytes);
  if (kept > 0 && context_.hooks.on_output) {
    context_.hooks.on_output(job_, kind, data.substr(0, kept));
  }
}

void JobRun::failWith(std::string code, std::string message) {
  if (!facts_.error) facts_.error = JobError{std::move(code), std::move(message)};
}

core::LogFields JobRun::fields() const {
  core::LogFields f = {{"job_id", job_.spec.job_id}};
  if (!container_id_.empty()) f.emplace_back("container_id", container_id_);
  return f;
}

}  // namespace wa::jobs
