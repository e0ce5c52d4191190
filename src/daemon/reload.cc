#include <string>
#include <string_view>
#include <vector>

#include "config/config_key.h"
#include "core/log.h"
#include "daemon/daemon_parts.h"

namespace wa::daemon {

namespace {
std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
  return text;
}
}  // namespace

api::ReloadOutcome Daemon::Parts::reload() {
  api::ReloadOutcome outcome;
  if (shutdown.started()) {
    outcome.error = "the worker is shutting down";
    return outcome;
  }
  if (!reload_config) {
    core::logWarning("SIGHUP: no configuration source to reload from");
    outcome.error = "no configuration source to reload from";
    return outcome;
  }
  notifier.reloading();
  // The one way a reload fails: nothing changes, and the outcome (the operator route's
  // answer, hence `systemctl reload`) says why.
  const auto reject = [&](std::string why) {
    core::logError("reload failed; keeping the running configuration: ", why);
    notifier.ready();
    outcome.error = std::move(why);
    return outcome;
  };
  config::LoadResult loaded = reload_config();
  if (!loaded.config) return reject(loaded.error.format());
  config::Config next = std::move(*loaded.config);
  std::string supply_error;
  std::optional<jobs::SupplyOptions> supply = supplyOptions(next, &supply_error);
  if (!supply) return reject(supply_error);
  for (std::string_view name : config::changedKeys(config, next)) {
    (config::findConfigKey(name)->reloadable ? outcome.applied : outcome.restart_needed)
        .emplace_back(name);
  }
  const std::string applied = joined(outcome.applied);
  const std::string need_restart = joined(outcome.restart_needed);
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
  applyMemoryBudget();
  images.setOptions(std::move(*supply));
  image_collector.setOptions(imageCollectorOptions(config));
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
  outcome.ok = true;
  return outcome;
}

}  // namespace wa::daemon
