// Config: every setting of the daemon, with its default. Loaded from YAML by
// ConfigLoader, then overridden from the environment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wa::config {

struct Config {
  std::string worker_id;  // default: the hostname ("worker" when it is empty)
  std::string listen = "0.0.0.0";
  int port = 9000;
  // Absolute path of a unix stream socket the API listens on as well; "" = none.
  std::string listen_unix;
  // Shared-token authentication, off by default as protocol v1 has none. When set, every
  // request but CORS preflights and auth_open_paths must carry "Authorization: Bearer
  // <auth_token>". When auth_token_file is set the loader fills auth_token from that file,
  // so auth_token is always the token in force. Never logged or shown.
  std::string auth_token;
  std::string auth_token_file;                             // absolute path; "" = none
  std::vector<std::string> auth_open_paths = {"/health"};  // routes open without the token
  int max_concurrent_jobs = 2;
  int max_queued_jobs = 1000;
  std::vector<std::string> labels;
  std::vector<std::string> allowed_images;  // empty = any
  std::vector<std::string> allowed_runtime_modes = {"image"};
  std::string docker_host = "unix:///var/run/docker.sock";  // or DOCKER_HOST
  // The Engine API version to speak ("1.45") instead of negotiating one; "" = negotiate.
  // Or DOCKER_API_VERSION, as the docker CLI reads it.
  std::string docker_api_version;
  int64_t default_memory_mb = 512;
  int64_t default_max_runtime_seconds = 300;
  int64_t max_memory_mb = 8192;          // ceiling a job may not exceed
  int64_t max_runtime_seconds = 86400;   // ceiling a job may not exceed
  int64_t output_limit_bytes = 1048576;  // per stream
  int64_t finished_job_retention_seconds = 3600;
  int64_t max_finished_jobs = 10000;
  int64_t max_body_bytes = 8388608;                 // POST body limit (413 above)
  int64_t max_connections = 10000;                  // open HTTP connections; excess get 503
  std::string jobs_path = "/var/lib/worker-agent";  // workspace root, reported by /health
  std::string log_level = "info";                   // debug | info | warning | error
  // On SIGTERM, how long running jobs may go on before they are cancelled (0 = at once);
  // only with stop_action "drain".
  int64_t shutdown_drain_seconds = 30;
  // What SIGTERM and SIGINT do to running jobs: "keep" leaves their containers running and
  // the journal keeps every job, so that the next start takes them up (a restart or an
  // upgrade loses nothing); "drain" lets them finish for shutdown_drain_seconds, then
  // cancels them and removes every container of this worker.
  std::string stop_action = "keep";
  // The job journal (jobs survive restarts and crashes): on by default.
  bool journal = true;
  // Its database file; "" = "<jobs_path>/journal-<worker_id>.sqlite".
  std::string journal_path;
  // "normal": a committed job survives a crash of the daemon; "full": also a power loss
  // (an fsync per commit).
  std::string journal_sync = "normal";
  // Prefix of the /proc and /sys paths the host sampler reads ("/" on a real host).
  std::string metrics_root = "/";
  int64_t sample_interval_ms = 1000;  // how often host, thermal and cgroup figures are read
  int64_t thermal_limit_c = 90;       // /health is degraded above it (0 = no limit)
  int64_t disk_min_free_percent = 5;  // /health is degraded below it on either disk (0 = never)
  // Admission by memory: a job starts only when the running jobs' memory limits plus its
  // own fit the budget. 0 = the host's memory (MemTotal) minus memory_reserve_mb.
  int64_t memory_budget_mb = 0;
  int64_t memory_reserve_mb = 512;  // what the host keeps for itself when the budget is derived

  // Images (execution backend).
  std::string pull_policy = "missing";  // never | missing | always
  int64_t pull_timeout_seconds = 600;   // one pull, start to end
  // A Docker-style credentials file ({"auths": {"registry": {"auth": base64(user:password)}}}
  // or username/password members); "" = none. Read at start and on reload; never shown.
  std::string registry_auth_file;
  int64_t build_timeout_seconds = 600;  // one build (runtime.mode "build")
  // The image collector: removes the images this worker pulled or built, least recently
  // used first, while they take more than image_gc_max_mb (0 = no budget) or the engine's
  // disk has less than image_gc_min_free_percent free (0 = no floor). It runs every
  // image_gc_interval_seconds (0 = never). Images matching image_gc_keep (allowed_images
  // patterns) are never removed, nor those allowed_images pins by digest.
  int64_t image_gc_interval_seconds = 300;
  int64_t image_gc_max_mb = 10240;
  int64_t image_gc_min_free_percent = 10;
  std::vector<std::string> image_gc_keep;
  int64_t max_build_context_bytes = 16777216;  // Dockerfile + context files, decoded
  // Payload and workspace.
  std::string workspace_path = "/workspace";  // inside the container; also the working directory
  int64_t workspace_size_mb = 256;            // every workspace's tmpfs size, with or without files
  int64_t max_job_files_bytes = 4194304;      // runtime.files, decoded, all files together
  int64_t output_file_limit_bytes = 1048576;  // each runtime.outputs file in the record
  // Isolation. Capabilities are always all dropped and no-new-privileges always set.
  bool allow_network = false;    // may a job ask for runtime.network "bridge"
  int64_t pids_limit = 256;      // 0: no limit
  double default_cpus = 1.0;     // runtime.limits.cpus when the job gives none (0: no limit)
  double max_cpus = 0;           // ceiling; 0: the host's CPU count
  bool read_only_rootfs = true;  // the workspace and /tmp stay writable
  int64_t tmp_size_mb = 64;      // the tmpfs at /tmp
  std::string job_user = "65534:65534";  // "uid:gid" the job runs as; "" = the image's user
  std::string container_runtime;         // e.g. "runsc"; "" = the engine's default
};

// Key by key, as the table in config_key.cc lists them.
bool operator==(const Config& a, const Config& b);

}  // namespace wa::config
