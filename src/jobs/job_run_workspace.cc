// JobRun's workspace keeper phases (container_spec.h says why a volume workspace needs
// one): its image, its container made and started before the job's, and removed after.
#include <string>
#include <utility>

#include "core/assert.h"
#include "core/log.h"
#include "docker/engine_json.h"
#include "jobs/job_run.h"

namespace wa::jobs {

using docker::Result;
using docker::Unit;

namespace {
constexpr int kNotFound = 404;
constexpr int kServerError = 500;
}  // namespace

void JobRun::onKeeperSupplied(std::optional<SuppliedImage> image, std::optional<JobError> error) {
  WA_ASSERT(phase_ == Phase::kSupplyingKeeper, "a keeper image supplied outside kSupplyingKeeper");
  supply_ = core::RequestHandle();
  if (!image) {
    const bool engine_unreached = error && error->engine_unreached;
    failWith("DOCKER_ERROR",
             "the workspace keeper's image (for runtime.files and "
             "runtime.outputs) could not be made: " +
                 (error ? error->message : std::string("no reason given")));
    facts_.error->engine_unreached = engine_unreached;
    finish();
    return;
  }
  keeper_image_ = image->reference;
  keeper_image_id_ = image->image_id;
  enter(Phase::kCreatingKeeper);
}

void JobRun::onKeeperCreated(const Result<std::string>& r) {
  WA_ASSERT(phase_ == Phase::kCreatingKeeper, "a keeper create answer outside kCreatingKeeper");
  if (!r.ok() && r.error().http_status == kNotFound && !keeper_image_id_.empty() &&
      !keeper_create_retried_ && !facts_.cancelled) {
    // The keeper's image went (removed by hand: the image collector never takes it, no
    // job record names it): made again, once, as for a job's image.
    keeper_create_retried_ = true;
    context_.images.forgetImage(keeper_image_id_);
    enter(Phase::kSupplyingKeeper);
    return;
  }
  if (!r.ok()) {
    failWith("DOCKER_ERROR",
             "creating the workspace keeper's container failed: " + describeDockerError(r.error()));
    if (r.error().connect_failed) facts_.error->engine_unreached = true;
    finish();
    return;
  }
  keeper_id_ = r.value();
  job_.keeper_id = keeper_id_;
  if (facts_.cancelled) {
    finish();
  } else {
    enter(Phase::kStartingKeeper);
  }
}

void JobRun::onKeeperStarted(const Result<Unit>& r) {
  WA_ASSERT(phase_ == Phase::kStartingKeeper, "a keeper start answer outside kStartingKeeper");
  if (!r.ok() && r.error().http_status == kServerError && !keeper_start_retried_ &&
      !facts_.cancelled) {
    // The engine could not start it (seen once in a soak: "cannot start a stopped process",
    // the runtime's init gone before the start): the reaper removes it (and its volume),
    // and a new one is made, once. Nothing of the job is in it yet.
    keeper_start_retried_ = true;
    core::logWarning(
        "starting the workspace keeper failed, making another job_id=", job_.spec.job_id,
        " container_id=", keeper_id_, " error=", describeDockerError(r.error()));
    context_.reaper.removeLater(keeper_id_);
    keeper_id_.clear();
    job_.keeper_id.clear();
    enter(Phase::kCreatingKeeper);
    return;
  }
  advanceAfter(r, "starting the workspace keeper's container failed", Phase::kCreating);
}

void JobRun::onKeeperRemoved(const Result<Unit>& r) {
  WA_ASSERT(phase_ == Phase::kRemovingKeeper, "a keeper remove answer outside kRemovingKeeper");
  leaveToReaperIfFailed(r, keeper_id_, "removing the workspace keeper failed");
  enter(Phase::kDone);
}

}  // namespace wa::jobs
