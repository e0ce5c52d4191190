#include "docker/engine_monitor.h"

#include "core/log.h"
#include "docker/engine_json.h"

namespace wa::docker {

EngineMonitor::EngineMonitor(core::EventLoop& loop, DockerClient& docker, core::Millis interval)
    : loop_(loop), docker_(docker), interval_(interval) {
  timer_ = loop_.createTimer([this] { ping(); });
}

void EngineMonitor::start() { ping(); }

void EngineMonitor::ping() {
  timer_->enableAfter(interval_);
  if (in_flight_) return;  // a slow engine gets one outstanding ping, not a pile of them
  in_flight_ = true;
  const core::MonoTime sent = loop_.clock().now();
  ping_request_ =
      docker_.ping([this, sent, waiters = std::move(check_waiters_)](const Result<Unit>& r) {
        in_flight_ = false;
        const double ms =
            std::chrono::duration<double, std::milli>(loop_.clock().now() - sent).count();
        onPinged(r.ok(), r.ok() ? std::string() : r.error().message, ms);
        for (const auto& answered : waiters) answered(status_);
        if (ping_again_) {
          ping_again_ = false;
          ping();
        }
      });
  check_waiters_.clear();  // moved from: left valid but unspecified
}

void EngineMonitor::checkNow(std::function<void(const EngineStatus&)> answered) {
  check_waiters_.push_back(std::move(answered));
  if (in_flight_) {
    ping_again_ = true;
    return;
  }
  ping();
}

void EngineMonitor::reportConnectFailed(const std::string& error) {
  if (status_.checked && !status_.reachable) return;
  onPinged(false, error, 0);
}

void EngineMonitor::onPinged(bool ok, const std::string& error, double ms) {
  const bool changed = !status_.checked || status_.reachable != ok;
  status_.checked = true;
  status_.reachable = ok;
  if (ok) {
    status_.ping_ms = ms;
    status_.last_error.clear();
  } else {
    status_.ping_ms.reset();
    status_.last_error = error;
  }
  // Version and root directory rarely change: fetch them once per reconnection, one request
  // of each at a time. Podman answers both only after running dpkg-query (or rpm) for each
  // of its components, seconds on a busy machine: a request per ping would pile up.
  if (ok && !status_.version && !version_in_flight_) {
    version_in_flight_ = true;
    version_request_ = docker_.version([this](Result<EngineVersion> r) {
      version_in_flight_ = false;
      if (!r.ok()) return;
      status_.version = r.value();
      // Which engine this is decides how the runner spells some requests: tell at once.
      if (on_change_) on_change_(status_);
    });
  }
  // Asked again after every reconnection: the engine may have come back as another one
  // (rootless, or on another cgroup layout).
  if (ok && !status_.info_known && !info_in_flight_) {
    info_in_flight_ = true;
    info_request_ = docker_.info([this](Result<EngineInfo> r) {
      info_in_flight_ = false;
      if (!r.ok() || !status_.reachable) return;
      status_.info_known = true;
      status_.docker_root_dir = r.value().docker_root_dir;
      std::string reason = limitsUnenforcedReason(r.value());
      if (reason != status_.limits_unenforced) {
        if (reason.empty()) {
          core::logInfo("docker engine enforces job limits again");
        } else {
          core::logError("docker engine cannot enforce job limits: ", reason);
        }
      }
      status_.limits_unenforced = std::move(reason);
      if (on_change_) on_change_(status_);
    });
  }
  if (changed) {
    if (ok) {
      core::logInfo("docker engine reachable ping_ms=", static_cast<int>(ms));
    } else {
      core::logWarning("docker engine unreachable error=", error);
      status_.version.reset();
      status_.info_known = false;
    }
    if (on_change_) on_change_(status_);
  }
}

}  // namespace wa::docker
