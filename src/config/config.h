// Config: every setting of the daemon, with its default. Loaded from YAML by
// ConfigLoader, then overridden from the environment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wa::config {

struct Config {
  std::string worker_id;  // default "worker-<hostname>"
  std::string listen = "0.0.0.0";
  int port = 9000;
  int max_concurrent_jobs = 2;
  int max_queued_jobs = 1000;
  std::vector<std::string> labels;
  std::vector<std::string> allowed_images;  // empty = any
  std::vector<std::string> allowed_runtime_modes = {"image"};
  std::string docker_host = "unix:///var/run/docker.sock";  // or DOCKER_HOST
  int64_t default_memory_mb = 512;
  int64_t default_max_runtime_seconds = 300;
  int64_t max_memory_mb = 8192;          // ceiling a job may not exceed
  int64_t max_runtime_seconds = 86400;   // ceiling a job may not exceed
  int64_t output_limit_bytes = 1048576;  // per stream
  int64_t finished_job_retention_seconds = 3600;
  int64_t max_finished_jobs = 10000;
  int64_t max_body_bytes = 8388608;                 // POST body limit (413 above)
  std::string jobs_path = "/var/lib/worker-agent";  // workspace root, reported by /health
  std::string log_level = "info";                   // debug | info | warning | error
  // On SIGTERM, how long running jobs may go on before they are cancelled (0 = at once).
  int64_t shutdown_drain_seconds = 30;
  // Prefix of the /proc and /sys paths the host sampler reads ("/" on a real host).
  std::string metrics_root = "/";
  int64_t sample_interval_ms = 1000;  // how often host, thermal and cgroup figures are read
  int64_t thermal_limit_c = 90;       // /health is degraded above it (0 = no limit)
  int64_t disk_min_free_percent = 5;  // /health is degraded below it on either disk (0 = never)
};

}  // namespace wa::config
