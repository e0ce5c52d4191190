#include "jobs/container_reaper.h"

#include <utility>

#include "core/log.h"
#include "jobs/run_outcome.h"

namespace wa::jobs {

using docker::Result;
using docker::Unit;

ContainerReaper::ContainerReaper(core::EventLoop& loop, ContainerEngine& engine,
                                 core::Millis retry_interval)
    : loop_(loop), engine_(engine), retry_interval_(retry_interval) {
  retry_timer_ = loop_.createTimer([this] { retryNow(); });
}

void ContainerReaper::removeLater(const std::string& id) {
  if (pending_.contains(id)) return;
  pending_.emplace(id, core::RequestHandle());
  armRetry();
}

void ContainerReaper::remove(const std::string& id) {
  if (pending_.contains(id)) return;
  removeOne(id, "removed container left by this worker container_id=");
}

void ContainerReaper::armRetry() {
  if (!retry_timer_->enabled()) retry_timer_->enableAfter(retry_interval_);
}

void ContainerReaper::retryNow() {
  for (auto& [id, request] : pending_) {
    if (!request) removeOne(id, "removed container left behind earlier container_id=");
  }
}

void ContainerReaper::removeOne(const std::string& id, const char* success) {
  pending_[id] = engine_.remove(id, [this, id, success](const Result<Unit>& r) {
    auto it = pending_.find(id);
    if (r.ok()) {
      core::logInfo(success, id);
      pending_.erase(it);  // also the handle of this request, which has answered
      return;
    }
    it->second = core::RequestHandle();
    armRetry();
  });
}

void ContainerReaper::sweep(const std::string& label,
                            std::function<bool(const std::string& id)> keep,
                            std::function<void(bool listed)> done) {
  sweeping_.clear();
  sweep_done_ = std::move(done);
  sweep_list_ = engine_.list(label, [this, keep = std::move(keep)](
                                        const Result<std::vector<docker::ContainerSummary>>& r) {
    if (!r.ok()) {
      core::logWarning("listing this worker's containers failed error=",
                       describeDockerError(r.error()));
      std::function<void(bool)> done = std::move(sweep_done_);
      done(false);
      return;
    }
    for (const docker::ContainerSummary& container : r.value()) {
      const std::string& id = container.id;
      if (keep && keep(id)) continue;
      sweeping_.emplace(id, engine_.remove(id, [this, id](const Result<Unit>& removed) {
        if (removed.ok()) {
          core::logInfo("removed container left by this worker container_id=", id);
        } else {
          core::logWarning("removing container failed container_id=", id,
                           " error=", describeDockerError(removed.error()));
          removeLater(id);
        }
        sweeping_.erase(id);
        if (sweeping_.empty() && sweep_done_) {
          std::function<void(bool)> done = std::move(sweep_done_);
          done(true);
        }
      }));
    }
    if (sweeping_.empty()) {
      std::function<void(bool)> done = std::move(sweep_done_);
      done(true);
    }
  });
}

}  // namespace wa::jobs
