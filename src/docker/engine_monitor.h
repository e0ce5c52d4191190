// EngineMonitor: keeps a cached view of the Docker engine (reachable, ping latency,
// version, root directory) fresh with a periodic ping, so that /health and /info answer
// from memory and never wait for the engine. It also negotiates the Engine API version
// the client speaks (api_version.h) from the engine's unversioned /version.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "docker/api_version.h"
#include "docker/docker_client.h"

namespace wa::docker {

// Docker's default data-root. /health reports it as docker_root_dir until the engine has
// named its own, as the reference worker always does: an engine that never answered (say,
// its disk is full) leaves the disk it most likely fills in view.
inline constexpr const char* kDefaultDockerRootDir = "/var/lib/docker";

struct EngineStatus {
  bool reachable = false;
  bool checked = false;           // at least one ping has completed
  std::optional<double> ping_ms;  // latency of the last successful ping
  std::optional<EngineVersion> version;
  std::string docker_root_dir;  // "" until known
  std::string last_error;       // why the last ping failed
  // Since the last reconnection the engine's /info has answered (asked once per reconnection).
  bool info_known = false;
  // From that /info: why the engine cannot enforce job limits (limitsUnenforcedReason), "" if
  // it can. Jobs must not run while this is set.
  std::string limits_unenforced;
  // From that /info: CgroupDriver ("cgroupfs", "systemd"), "" when not said.
  std::string cgroup_driver;
  // The Engine API version, negotiated whenever /version answers: after every
  // (re)connection, and again when a ping's Api-Version header changes (an engine
  // upgraded between two pings) or the pin does. api_range is what the engine said of
  // itself; api_version what the client speaks to it, unset until negotiated and while no
  // version fits, when api_unsupported says why (jobs are refused meanwhile, and /info is
  // not asked, so they do not start either).
  EngineApiRange api_range;
  std::optional<ApiVersion> api_version;
  std::string api_unsupported;
};

// The engine's cached status, as its readers see it (the api renders it; tests fake it).
class EngineStatusView {
 public:
  virtual const EngineStatus& status() const = 0;

 protected:
  ~EngineStatusView() = default;
};

class EngineMonitor final : public EngineStatusView {
 public:
  EngineMonitor(core::EventLoop& loop, DockerClient& docker, core::Millis interval);
  // Pings now, then every interval.
  void start();
  const EngineStatus& status() const override { return status_; }
  // Another request found nothing listening where the engine should be: the engine is
  // taken as unreachable now rather than at the next ping, which then tells when it is
  // back. Does nothing if it is known to be unreachable already. Makes no request, so it
  // may be called from DockerClient's error observer.
  void reportConnectFailed(const std::string& error);
  // Asks the engine now, rather than at the next ping, and calls answered with the status
  // that answer gave. A ping already in flight was sent before the caller's reason to ask:
  // a new one follows it.
  void checkNow(std::function<void(const EngineStatus&)> answered);
  // Called when reachability changes (and after the first ping) and when the version or
  // the root directory becomes known.
  void setOnChange(std::function<void(const EngineStatus&)> fn) { on_change_ = std::move(fn); }
  // The version to speak instead of negotiating one (docker_api_version); nullopt:
  // negotiate. Applied at once when the engine's range is known (no request needed).
  void setPinnedApiVersion(std::optional<ApiVersion> pinned);

 private:
  void ping();
  void onPinged(bool ok, const std::string& error, double ms, const std::string& api_header);
  // Chooses the version from status_.api_range and pinned_, sets it on the client; true
  // when the outcome changed.
  bool negotiate();
  void askInfo();

  core::EventLoop& loop_;
  DockerClient& docker_;
  core::Millis interval_;
  std::unique_ptr<core::Timer> timer_;
  bool in_flight_ = false;
  bool ping_again_ = false;  // checkNow() came while a ping was in flight
  // Waiting for the next ping's answer (checkNow); those of the ping in flight are its own.
  std::vector<std::function<void(const EngineStatus&)>> check_waiters_;
  bool version_in_flight_ = false;
  bool info_in_flight_ = false;
  std::optional<ApiVersion> pinned_;
  std::string ping_api_header_;  // the last Api-Version header a ping brought
  // The requests in flight; destroying the monitor cancels them.
  core::RequestHandle ping_request_;
  core::RequestHandle version_request_;
  core::RequestHandle info_request_;
  EngineStatus status_;
  std::function<void(const EngineStatus&)> on_change_;
};

}  // namespace wa::docker
