// Daemon::Parts: every part of the worker, built from the config in dependency order (the
// daemon's internals, shared by daemon.cc, which wires and runs them, and reload.cc).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/operator_api.h"
#include "api/worker_api.h"
#include "api/worker_metrics.h"
#include "config/config.h"
#include "config/config_loader.h"
#include "core/descriptor_limit.h"
#include "core/event_loop.h"
#include "core/signal_watcher.h"
#include "daemon/config_mapping.h"
#include "daemon/daemon.h"
#include "daemon/shutdown_sequence.h"
#include "daemon/systemd_notifier.h"
#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "http/bearer_auth.h"
#include "http/http_server.h"
#include "http/router.h"
#include "jobs/cgroup_accounting.h"
#include "jobs/container_reaper.h"
#include "jobs/docker_container_engine.h"
#include "jobs/docker_job_runner.h"
#include "jobs/engine_gate.h"
#include "jobs/image_collector.h"
#include "jobs/image_supplier.h"
#include "jobs/job_journal.h"
#include "jobs/job_store.h"
#include "jobs/output_feed.h"
#include "jobs/scheduler.h"
#include "metrics/host_info.h"
#include "metrics/host_sampler.h"

namespace wa::daemon {

struct Daemon::Parts {
  Parts(config::Config c, std::function<config::LoadResult()> reload_fn);

  // The one-line STATUS= shown by `systemctl status`.
  std::string summary() const;
  // The token and open routes of config, into the server's check. Says so when the check
  // is turned on or off; never logs the token.
  void applyAuth();
  // Says at start what fitDescriptorLimit did to RLIMIT_NOFILE, if anything.
  void logDescriptorLimit() const;
  // SIGHUP and POST /operator/reload (reload.cc): load the configuration again; apply the
  // keys that can change while running, keep the running value of the others and say so.
  // A configuration that does not load changes nothing. Jobs queued or running are
  // untouched: new limits and policies apply to what is submitted or started next.
  api::ReloadOutcome reload();
  // The scheduler's memory budget from config and the host's memory; logged when it
  // changes.
  void applyMemoryBudget();
  // Removes every container labelled with this worker's id (ContainerReaper::sweep).
  void sweepContainers(std::function<void(bool listed)> done);
  // Opens the journal (config.journal) and takes back what it holds: ended jobs into the
  // store, queued ones into the queue, running ones to recover. False (and *error) when no
  // journal could be opened at all.
  bool openJournal(std::string* error);
  // The start-up recovery (recovery.cc): lists this worker's containers, takes up the jobs
  // that were running (adopted, collected, queued again or failed CONTAINER_LOST) and
  // removes every container no job claims. It holds the queue (PauseReason::kStartup)
  // until done; an engine that cannot be reached makes it wait for the engine to answer.
  void startupSweep();
  // The daemon's own follow-ups to an engine status change (after the EngineGate's).
  void onEngineStatus(const docker::EngineStatus& status);

  config::Config config;  // what runs now: reloads replace the keys they apply
  std::function<config::LoadResult()> reload_config;
  // RLIMIT_NOFILE as fitted at start; before the server, whose connection cap it sets.
  core::DescriptorPlan descriptors;
  core::SystemClock clock;
  core::EventLoop loop;
  // Before every part that writes to it, so that it outlives them; flushed when destroyed.
  std::unique_ptr<jobs::JobJournal> journal;
  std::string journal_moved_aside;
  // Jobs the journal had as running, until the start-up recovery has taken them up.
  struct Recovering {
    jobs::Job* job;
    std::string container_id;  // as journaled ("" if it had none yet)
    bool outcome_known;
  };
  std::vector<Recovering> recovering;
  core::RequestHandle recovery_list;
  std::unique_ptr<core::Timer> recovery_retry;
  docker::DockerClient docker;
  docker::EngineMonitor engine;
  metrics::HostInfo host;
  metrics::HostSampler sampler;
  // What each job used (the record's usage): reads the sampler, so it comes after it.
  jobs::CgroupAccounting accounting;
  jobs::JobStore store;
  jobs::ImageSupplier images;
  // Removes the worker's least recently used images on its timer (after the store and
  // the supplier, whose jobs and pulls it keeps).
  jobs::ImageCollector image_collector;
  jobs::DockerContainerEngine container_engine;
  jobs::ContainerReaper reaper;
  jobs::DockerJobRunner runner;
  jobs::Scheduler scheduler;
  jobs::EngineGate gate;
  api::WorkerMetrics metrics;
  // Followers of live output; declared before the api and the server, which hold
  // subscriptions into it until they are destroyed.
  jobs::OutputFeed output_feed;
  http::Router router;
  api::WorkerApi api;
  api::OperatorApi operator_api;
  http::BearerAuth auth;  // before the server, which holds a pointer to it
  http::HttpServer server;
  SystemdNotifier notifier;
  ShutdownSequence shutdown;
  std::unique_ptr<core::SignalWatcher> signals;
  std::unique_ptr<core::Timer> prune_timer;
  std::unique_ptr<core::Timer> heap_trim_timer;
  uint64_t dropped_at_last_trim = 0;
  bool startup_sweep_pending = false;  // its listing failed: it runs when the engine answers
};

}  // namespace wa::daemon
