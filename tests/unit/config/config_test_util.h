// Helpers shared by the config unit tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "config/config_loader.h"

namespace wa::config::testing {

inline const std::string kHost = "box";

// Every field, so that two configs compare (and print) field by field.
inline auto fields(const Config& c) {
  return std::tie(c.worker_id, c.listen, c.port, c.listen_unix, c.auth_token, c.auth_token_file,
                  c.auth_open_paths, c.max_concurrent_jobs, c.max_queued_jobs, c.labels,
                  c.allowed_images, c.allowed_runtime_modes, c.docker_host, c.docker_api_version,
                  c.default_memory_mb, c.default_max_runtime_seconds, c.max_memory_mb,
                  c.max_runtime_seconds, c.output_limit_bytes, c.finished_job_retention_seconds,
                  c.max_finished_jobs, c.max_body_bytes, c.max_connections, c.jobs_path,
                  c.log_level, c.shutdown_drain_seconds, c.metrics_root, c.sample_interval_ms,
                  c.thermal_limit_c, c.disk_min_free_percent, c.pull_policy, c.pull_timeout_seconds,
                  c.registry_auth_file, c.build_timeout_seconds, c.max_build_context_bytes,
                  c.workspace_path, c.workspace_size_mb, c.max_job_files_bytes,
                  c.output_file_limit_bytes, c.allow_network, c.pids_limit, c.default_cpus,
                  c.max_cpus, c.read_only_rootfs, c.tmp_size_mb, c.job_user, c.container_runtime);
}

inline Config defaultsFor(const std::string& hostname) {
  Config c;
  c.worker_id = "worker-" + hostname;
  return c;
}

inline LoadResult load(const std::string& yaml, const Environment& env = {}) {
  return ConfigLoader::loadString(yaml, "test.yaml", env, kHost);
}

// The config yaml loads to; fails the test (and returns defaults) if it does not load.
inline Config loadOk(const std::string& yaml, const Environment& env = {}) {
  LoadResult r = load(yaml, env);
  EXPECT_TRUE(r.config.has_value()) << r.error.format();
  return r.config.value_or(Config{});
}

// The error yaml fails with; fails the test if it loads.
inline ConfigError loadError(const std::string& yaml, const Environment& env = {}) {
  LoadResult r = load(yaml, env);
  EXPECT_FALSE(r.config.has_value()) << "loaded, expected an error";
  return r.error;
}

}  // namespace wa::config::testing
