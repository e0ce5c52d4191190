// JobRun: one job's trip through the engine, as an explicit state machine.
//
//   kSupplying -> [kSupplyingKeeper -> kCreatingKeeper -> kStartingKeeper] -> kCreating
//     -> [kPlacingFiles] -> kAttaching -> kStarting -> kRunning -> kDraining
//     -> [kReadingLog] -> kInspecting -> [kCollecting] -> kAccounting -> kRemoving
//     -> [kRemovingKeeper] -> kDone
//
// The phases in brackets run for some jobs only: the keeper's for a volume workspace
// (container_spec.h says why it needs a keeper), which is made before the job's container
// and removed after it, whatever happened in between.
//
// A run adopted after a restart (the daemon stopped while its container ran) begins
// with the container it is given instead:
//
//   kAdopting -> kFollowing (still running: waited for and followed) -> kReadingLog -> ...
//   kAdopting -> kReadingLog (it ended meanwhile) -> ...
//
// and its output is the part the journal kept, then what the follow stream (the log
// replayed, then live output) has beyond it, completed from the container's log once it
// ended.
//
// Each phase has at most one engine request in flight (held as a handle: leaving the phase
// drops it, so an answer that comes late reaches nobody), plus the attach stream from
// kAttaching to kDraining (or the follow stream in kFollowing) and, once the container is killed,
// the kill request. Whatever goes wrong in the first six phases, and the kill deadline, ends the
// live part of the run in one place (finish), which goes on to inspect, collect and remove the
// container; a run without a container goes straight to kDone. Facts that are not phases
// (cancelled, timed out, the exit code, the first fault) are kept in RunFacts, and the outcome is a
// pure function of them (run_outcome.h). The run ends exactly once, through its Ended
// callback, never inside a call its owner made; the owner frees it after that batch.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/deletable.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/request_handle.h"
#include "docker/attach_stream.h"
#include "jobs/container_engine.h"
#include "jobs/container_reaper.h"
#include "jobs/image_supplier.h"
#include "jobs/job.h"
#include "jobs/job_accounting.h"
#include "jobs/job_runner.h"
#include "jobs/output_recovery.h"
#include "jobs/run_outcome.h"
#include "jobs/runner_options.h"

namespace wa::jobs {

// What the runner lets every run report (metrics, live output).
struct RunHooks {
  // Once per job whose container started, with the time from the create request to the
  // engine's answer to start.
  std::function<void(const Job&, std::chrono::microseconds)> on_container_started;
  // Every chunk of output as it is captured (only the bytes kept under the cap).
  std::function<void(const Job&, docker::StreamKind, std::string_view)> on_output;
  // The engine created the job's container (the journal keeps its id).
  std::function<void(const Job&, const std::string& container_id)> on_container_created;
  // The run's outcome is known; only the container's removal is left (the journal keeps
  // it, so that a restart in between does not take the job for lost).
  std::function<void(const Job&, const JobOutcome&)> on_outcome;
};

// What every run shares; the runner owns it and outlives its runs.
struct RunContext {
  core::EventLoop& loop;
  ContainerEngine& engine;
  ImageSupplier& images;
  ContainerReaper& reaper;
  const RunHooks& hooks;
  JobAccounting* accounting = nullptr;  // null: no usage in the record
};

class JobRun final : public core::Deletable {
 public:
  enum class Phase {
    kSupplying,        // the image: inspect, pull or build (ImageSupplier)
    kSupplyingKeeper,  // a volume workspace: the keeper's image (built once, then found)
    kCreatingKeeper,   // POST /containers/create of the keeper, with the tmpfs volume
    kStartingKeeper,   // POST start: from now on the volume stays mounted
    kCreating,         // POST /containers/create
    kPlacingFiles,     // PUT archive: runtime.files into the workspace volume
    kAttaching,        // the attach stream's handshake (stdin queued behind it)
    kStarting,         // POST start
    kRunning,          // wait in flight, output streaming, the runtime limit armed
    kDraining,         // exited: the stream's last output may still come (output_drain_grace)
    kAdopting,         // adopted after a restart: its container's state (inspect)
    kFollowing,        // adopted and still running: wait in flight, the runtime limit armed
    kReadingLog,       // Podman only: the log read back after its attach error
    kInspecting,       // exit code, OOM flag, image id (asked twice for a late OOM record)
    kCollecting,       // GET archive: each runtime.outputs path in turn
    kAccounting,       // the container's usage read (a few cgroup files, no engine request)
    kRemoving,         // DELETE, force; a failure is left to the reaper
    kRemovingKeeper,   // DELETE of the keeper, force, v=1: the volume goes with it
    kDone,             // ended: the outcome was handed over
  };
  static const char* phaseName(Phase phase);

  using Ended = std::function<void(JobRun& run, JobOutcome outcome)>;

  // options are fixed for the run's life (a reload changes later runs only).
  JobRun(const RunContext& context, RunnerOptions options, Job& job, Ended ended);
  ~JobRun() override;
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  // Records the run's settings and asks for the image.
  void begin();
  // Takes over container_id, the job's container a previous run of the daemon created.
  void adopt(const std::string& container_id);
  // Stops the job: in kSupplying the run ends (after this call) with CANCELLED; before
  // the container runs it is not started; once it runs it is killed. Ignored once the run
  // is ending.
  void cancel();

  Phase phase() const { return phase_; }
  const RunFacts& facts() const { return facts_; }
  Job& job() { return job_; }
  // "" until the engine has created the container.
  const std::string& containerId() const { return container_id_; }
  // The CgroupParent the container is (to be) created under; "" for the engine's default.
  const std::string& cgroupParent() const { return cgroup_parent_; }

 private:
  // The one place a phase is entered: it records the phase and sends its request.
  void enter(Phase next);
  // Runs fn from the loop after delay (a transition that must not happen inside the
  // caller's call, or a pause before asking again).
  void schedule(core::Millis delay, void (JobRun::*fn)());

  void onSupplied(std::optional<SuppliedImage> image, std::optional<JobError> error);
  void onKeeperSupplied(std::optional<SuppliedImage> image, std::optional<JobError> error);
  void onKeeperCreated(const docker::Result<std::string>& r);
  void onKeeperStarted(const docker::Result<docker::Unit>& r);
  // The answer of a step that succeeds or fails and nothing else: the next phase, or the
  // end of the run (its fault described as failure, or a cancel seen now).
  void advanceAfter(const docker::Result<docker::Unit>& r, std::string_view failure, Phase next);
  void onCreated(const docker::Result<std::string>& r);
  void onFilesPlaced(const docker::Result<docker::Unit>& r);
  void onAttached();
  void onOutput(docker::StreamKind kind, std::string_view data);
  void onStreamClosed(const std::optional<docker::DockerError>& error);
  // kFollowing: a replayed or live chunk of an adopted container's output.
  void onFollowedOutput(docker::StreamKind kind, std::string_view data);
  void onStarted(const docker::Result<docker::Unit>& r);
  void onAdoptInspected(const docker::Result<docker::ContainerState>& r);
  void onWaited(const docker::Result<int64_t>& r);
  void onRuntimeExceeded();
  void onDrainGraceOver();
  void onKillDeadline();
  void onLogRead(const docker::Result<std::string>& r);
  void onInspected(const docker::Result<docker::ContainerState>& r);
  void inspectAgain();
  void onOutputCollected(const docker::Result<std::string>& r);
  void onRemoved(const docker::Result<docker::Unit>& r);
  void onKeeperRemoved(const docker::Result<docker::Unit>& r);
  // A removal that failed is logged (as failure) and left to the reaper to retry.
  void leaveToReaperIfFailed(const docker::Result<docker::Unit>& r, const std::string& id,
                             std::string_view failure);

  // Kills the container and arms the kill deadline (once).
  void kill();
  // Ends the live part of the run: timers off, the phase's request and the stream
  // dropped; then the log (Podman), inspect, outputs and removal, or kDone without a
  // container.
  void finish();
  // Hands the outcome over (kDone's entry).
  void complete();
  // Whether the run is still live (before finish()).
  bool live() const { return phase_ < Phase::kReadingLog; }
  void capture(docker::StreamKind kind, std::string_view data);
  // After Podman's attach error: appends to each stream what its log has beyond what the
  // stream delivered (nothing twice), or leaves the stream as it is.
  void recoverFromLog(const docker::Result<std::string>& r);
  // The first fault is the one reported.
  void failWith(std::string code, std::string message);
  // job_id and, once created, container_id: the journal fields that tie a job's story.
  core::LogFields fields() const;

  const RunContext& context_;
  const RunnerOptions options_;
  Job& job_;
  Ended ended_;
  Phase phase_ = Phase::kSupplying;
  RunFacts facts_;

  std::string engine_image_;  // the reference the container is created from, fully spelled
  std::string image_id_;      // what the supplier's inspect found; "" when it did not inspect
  std::string container_id_;
  std::string keeper_image_;     // the keeper's image, as supplied
  std::string keeper_image_id_;  // what the supplier's inspect found of it
  std::string keeper_id_;        // the workspace keeper's container, once created
  std::string cgroup_parent_;
  core::MonoTime create_sent_{};
  bool create_retried_ = false;  // a create that found the image gone supplies it again, once
  bool keeper_create_retried_ = false;  // the same for the keeper's image
  bool keeper_start_retried_ = false;   // a keeper the engine could not start: another, once
  bool stream_closed_ = false;
  bool attach_failed_ = false;  // Podman ended the stream with its attach error
  bool adopted_ = false;        // adopt(): the output comes from the journal and the log
  bool follow_diverged_ = false;
  bool oom_rechecked_ = false;
  size_t next_output_ = 0;  // kCollecting: the runtime.outputs index asked for

  core::RequestHandle supply_;   // kSupplying
  core::RequestHandle request_;  // the current phase's engine request
  core::RequestHandle kill_request_;
  std::unique_ptr<docker::AttachStream> attach_;  // kAttaching .. kDraining, or kFollowing
  // kFollowing: each stream's replay joined to what the journal held of it.
  std::optional<ReplayJoin> stdout_replay_;
  std::optional<ReplayJoin> stderr_replay_;
  std::unique_ptr<core::Timer> runtime_timer_;
  std::unique_ptr<core::Timer> grace_timer_;
  std::unique_ptr<core::Timer> kill_deadline_;
  std::unique_ptr<core::Timer> step_timer_;
  void (JobRun::*step_)() = nullptr;
};

}  // namespace wa::jobs
