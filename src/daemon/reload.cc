#include <string>
#include <string_view>

#include "config/config_key.h"
#include "core/log.h"
#include "daemon/daemon_parts.h"

namespace wa::daemon {

void Daemon::Parts::reload() {
  if (shutdown.started()) return;
  if (!reload_config) {
    core::logWarning("SIGHUP: no configuration source to reload from");
    return;
  }
  notifier.reloading();
  config::LoadResult loaded = reload_config();
  if (!loaded.config) {
    core::logError("reload failed; keeping the running configuration: ", loaded.error.format());
    notifier.ready();
    return;
  }
  config::Config next = std::move(*loaded.config);
  std::string supply_error;
  std::optional<jobs::SupplyOptions> supply = supplyOptions(next, &supply_error);
  if (!supply) {
    core::logError("reload failed; keeping the running configuration: ", supply_error);
    notifier.ready();
    return;
  }
  std::string applied;
  std::string need_restart;
  for (std::string_view name : config::changedKeys(config, next)) {
    std::string& list = config::findConfigKey(name)->reloadable ? applied : need_restart;
    list += (list.empty() ? "" : ",") + std::string(name);
  }
  // Keys bound into sockets, the engine client, the sampler and container labels at
  // start-up keep their running values until a restart (the key table says which).
  config::keepRestartOnlyKeys(config, &next);
  config = std::move(next);

  core::LogLevel level;
  if (core::Log::parseLevel(config.log_level, &level)) core::Log::setLevel(level);
  api.setIdentity(workerIdentity(config));
  api.setParser(jobRequestParser(config));
  api.setHealthPolicy(healthPolicy(config));
  store.setPolicy(retentionPolicy(config));
  scheduler.setMaxQueued(static_cast<size_t>(config.max_queued_jobs));
  scheduler.setMaxConcurrent(static_cast<size_t>(config.max_concurrent_jobs));
  runner.setOptions(runnerOptions(config));
  images.setOptions(std::move(*supply));
  engine.setPinnedApiVersion(docker::ApiVersion::parse(config.docker_api_version));
  applyAuth();
  sampler.setJobsPath(config.jobs_path);
  core::Log::write(core::LogLevel::kInfo, "configuration reloaded",
                   {{"applied", applied.empty() ? "none" : applied}});
  if (!need_restart.empty()) {
    core::Log::write(core::LogLevel::kWarning,
                     "changed keys need a restart to take effect; running values kept",
                     {{"keys", need_restart}});
  }
  notifier.ready();
}

}  // namespace wa::daemon
