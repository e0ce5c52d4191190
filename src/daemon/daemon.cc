#include "daemon/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "core/heap.h"
#include "core/journal_stream.h"
#include "core/log.h"
#include "daemon/daemon_parts.h"
#include "daemon/journal_log.h"
#include "version.h"

namespace wa::daemon {
namespace {
constexpr core::Millis kEnginePingInterval{2000};
constexpr core::Millis kPruneInterval{1000};
// How often the heap's free pages may go back to the kernel after job records were dropped.
constexpr core::Millis kHeapTrimInterval{10'000};
// listen_unix's file: the worker's user and group may connect, nobody else.
constexpr mode_t kUnixSocketMode = 0660;

// The collector's engine calls, bound to the daemon's client.
jobs::ImageCollectorEngine imageCollectorEngine(docker::DockerClient& docker) {
  return {[&docker](docker::Callback<std::vector<docker::ImageSummary>> done) {
            return docker.listImages(std::move(done));
          },
          [&docker](const std::string& id, docker::Callback<docker::Unit> done) {
            return docker.removeImage(id, std::move(done));
          }};
}
}  // namespace

Daemon::Parts::Parts(config::Config c, std::function<config::LoadResult()> reload_fn)
    : config(std::move(c)),
      reload_config(std::move(reload_fn)),
      descriptors(core::fitDescriptorLimit(static_cast<size_t>(config.max_connections),
                                           reservedDescriptors(config))),
      loop(clock),
      docker(loop, config.docker_host),
      engine(loop, docker, kEnginePingInterval),
      host(metrics::HostInfo::read("/")),
      sampler(loop, config.metrics_root, core::Millis(config.sample_interval_ms)),
      // The engine makes its cgroups on the real host: a fixture tree (tests) has none.
      accounting(loop, sampler, config.metrics_root, config.worker_id, config.metrics_root == "/"),
      store(retentionPolicy(config)),
      images(loop, jobs::engineCalls(docker), jobs::SupplyOptions{}),
      image_collector(loop, imageCollectorEngine(docker), store,
                      {[this] {
                         const metrics::DiskUsage& disk = sampler.latest().docker_disk;
                         return std::make_pair(disk.total_mb, disk.available_mb);
                       },
                       [this] { return images.pulling(); }},
                      imageCollectorOptions(config)),
      container_engine(docker),
      reaper(loop, container_engine, jobs::RunnerOptions{}.removal_retry_interval),
      runner(loop, container_engine, images, reaper, runnerOptions(config)),
      scheduler(loop, store, runner, static_cast<size_t>(config.max_concurrent_jobs),
                static_cast<size_t>(config.max_queued_jobs)),
      gate(docker, engine, scheduler, reaper),
      metrics(clock, WORKER_AGENT_VERSION, scheduler, sampler, engine),
      api(clock, workerIdentity(config), host, sampler, engine, store, scheduler,
          jobRequestParser(config)),
      operator_api(api, store, scheduler),
      server(loop, router, serverOptions(config, descriptors), &api::WorkerApi::renderError),
      notifier(loop, [this] { return summary(); }),
      shutdown(loop, api, scheduler, runner, server, notifier,
               [this](std::function<void(bool)> done) { sweepContainers(std::move(done)); }) {}

std::string Daemon::Parts::summary() const {
  std::string line = std::to_string(scheduler.running()) + " running, " +
                     std::to_string(scheduler.queued()) + " queued";
  if (!engine.status().reachable) line += "; docker engine unreachable";
  if (!engine.status().limits_unenforced.empty()) line += "; engine cannot enforce job limits";
  if (!engine.status().api_unsupported.empty()) line += "; engine API version unsupported";
  if (api.draining()) line += "; draining";
  if (shutdown.started()) line += "; shutting down";
  return line;
}

void Daemon::Parts::applyAuth() {
  const bool was_enabled = auth.enabled();
  auth.setToken(config.auth_token);
  auth.setOpenRoutes(config.auth_open_paths);
  if (auth.enabled() != was_enabled) {
    core::logInfo(auth.enabled() ? "authentication on: requests need the bearer token"
                                 : "authentication off: requests need no token");
  }
}

void Daemon::Parts::logDescriptorLimit() const {
  const core::DescriptorPlan& d = descriptors;
  const auto text = [](uint64_t n) {
    return n == core::DescriptorLimit::kUnlimited ? std::string("unlimited") : std::to_string(n);
  };
  const size_t wanted = static_cast<size_t>(config.max_connections);
  if (d.after.soft > d.before.soft) {
    core::logInfo("raised the open-file limit (RLIMIT_NOFILE) from ", text(d.before.soft), " to ",
                  text(d.after.soft), " (hard limit ", text(d.after.hard),
                  ") for max_connections=", wanted, " and ", reservedDescriptors(config),
                  " descriptors of the worker's own");
  }
  if (d.max_connections < wanted) {
    core::logWarning("the open-file limit (RLIMIT_NOFILE) is ", text(d.after.soft), " (hard limit ",
                     text(d.after.hard), "), too low for max_connections=", wanted, " and ",
                     reservedDescriptors(config),
                     " descriptors of the worker's own: connections beyond ", d.max_connections,
                     " will get 503",
                     d.error.empty() ? "" : " (raising it failed: " + d.error + ")",
                     "; raise the hard limit (LimitNOFILE= under systemd) to serve them all");
  } else if (!d.error.empty()) {
    core::logWarning("the open-file limit (RLIMIT_NOFILE) was left as it is: ", d.error);
  }
}

void Daemon::Parts::applyMemoryBudget() {
  const int64_t budget = memoryBudgetMb(config, host.memory_mb);
  if (budget == scheduler.memoryBudgetMb()) return;
  scheduler.setMemoryBudgetMb(budget);
  if (budget == 0) {
    core::logWarning("no memory budget for jobs: the host's memory is unknown");
  } else {
    core::logInfo("memory budget for jobs ", budget, " MB",
                  config.memory_budget_mb > 0
                      ? std::string(" (memory_budget_mb)")
                      : " (host " + std::to_string(host.memory_mb) +
                            " MB minus memory_reserve_mb " +
                            std::to_string(config.memory_reserve_mb) + " MB)");
  }
}

void Daemon::Parts::sweepContainers(std::function<void(bool listed)> done) {
  // At start-up this clears what a crash left behind (the scheduler is paused until it is
  // done, so no new job's container can be caught in it); at shutdown it is the last word
  // on leaks.
  reaper.sweep(std::string(jobs::kWorkerLabel) + "=" + config.worker_id, nullptr, std::move(done));
}

void Daemon::Parts::onEngineStatus(const docker::EngineStatus& status) {
  if (status.reachable && !status.docker_root_dir.empty())
    sampler.setDockerRootDir(status.docker_root_dir);
  if (status.version) {
    runner.setPodman(status.version->podman);
    images.setPodman(status.version->podman);
  }
  if (status.reachable && status.info_known) {
    // The engine's cgroups are this host's only when the engine is reached on a socket.
    accounting.setEngine(status.cgroup_driver, config.docker_host.starts_with("unix://"));
  }
  // The start-up recovery waits for an Engine API version: an engine may refuse any other
  // (Docker 29.0 refuses 1.41).
  if (startup_sweep_pending && status.reachable && status.api_version && !shutdown.started()) {
    startupSweep();
  } else if (startup_sweep_pending && !status.reachable) {
    core::logInfo("the start-up sweep of this worker's containers waits for the docker engine");
  }
}

Daemon::Daemon(config::Config config, std::function<config::LoadResult()> reload)
    : parts_(std::make_unique<Parts>(std::move(config), std::move(reload))) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  Parts& p = *parts_;
  ::signal(SIGPIPE, SIG_IGN);
  // Under systemd, stderr is the journal's stream: send structured entries instead.
  if (core::fdIsJournalStream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO)) {
    useJournal(p.config.worker_id);
    core::logInfo("logging to the systemd journal");
  }
  p.signals = std::make_unique<core::SignalWatcher>(
      p.loop, std::initializer_list<int>{SIGTERM, SIGINT, SIGHUP}, [&p](int signo) {
        if (signo == SIGHUP) {
          core::logInfo("SIGHUP received: reloading the configuration");
          p.reload();
          return;
        }
        p.shutdown.onStopSignal(signo, p.config.stop_action == "keep",
                                std::chrono::seconds(p.config.shutdown_drain_seconds));
      });
  std::string supply_error;
  std::optional<jobs::SupplyOptions> supply = supplyOptions(p.config, &supply_error);
  if (!supply) {
    core::logError("cannot start: ", supply_error);
    return 1;
  }
  p.images.setOptions(std::move(*supply));
  if (std::string error; !p.openJournal(&error)) {
    core::logError("cannot start: ", error);
    return 1;
  }
  p.api.setHealthPolicy(healthPolicy(p.config));
  p.api.setMetrics(&p.metrics);
  p.api.registerRoutes(p.router);
  // The operator's routes, on the unix socket alone: its file mode (0660, the worker's user
  // and group) says who the operator is.
  p.operator_api.setReload([&p] { return p.reload(); });
  p.operator_api.registerRoutes(p.router);
  p.server.setUnixOnlyRoutes(api::OperatorApi::routePatterns());
  p.metrics.setImageCollector(&p.image_collector);
  p.metrics.setAdmission([&p] { return p.api.acceptingJobs(); }, [&p] { return p.api.draining(); });
  p.server.setObserver([&p](const http::RequestRecord& r) { p.metrics.onHttpRequest(r); });
  p.applyAuth();
  p.server.setAuth(&p.auth);
  p.gate.setOnDockerError([&p](std::string_view endpoint, const docker::DockerError&) {
    p.metrics.onDockerError(endpoint);
  });
  p.gate.setOnStatus([&p](const docker::EngineStatus& status) { p.onEngineStatus(status); });
  p.api.setOutputFeed(&p.output_feed);
  p.runner.setOnOutput([&p](const jobs::Job& job, docker::StreamKind kind, std::string_view data) {
    p.output_feed.publish(job.spec.job_id,
                          kind == docker::StreamKind::kStderr ? jobs::OutputStream::kStderr
                                                              : jobs::OutputStream::kStdout,
                          data);
    if (p.journal) p.journal->output(job, kind, data);
  });
  p.runner.setOnContainerStarted([&p](const jobs::Job&, std::chrono::microseconds latency) {
    p.metrics.onContainerStarted(latency);
  });
  p.sampler.setJobContainers([&p] { return p.runner.containers(); });
  p.runner.setAccounting(&p.accounting);
  {
    // What a crash left of the job cgroups goes, but for the jobs taken up again.
    std::vector<const jobs::Job*> recovering;
    for (const Parts::Recovering& r : p.recovering) recovering.push_back(r.job);
    p.accounting.removeLeftovers(recovering);
  }
  p.logDescriptorLimit();
  if (std::string error = p.server.listen(p.config.listen, static_cast<uint16_t>(p.config.port));
      !error.empty()) {
    core::logError("cannot listen: ", error);
    return 1;
  }
  if (!p.config.listen_unix.empty()) {
    if (std::string error = p.server.listenUnix(p.config.listen_unix, kUnixSocketMode);
        !error.empty()) {
      core::logError("cannot listen: ", error);
      return 1;
    }
  }
  core::logInfo("worker-agent ", WORKER_AGENT_VERSION, " listening on ", p.config.listen, ":",
                p.server.port(),
                p.config.listen_unix.empty() ? "" : " and on unix socket " + p.config.listen_unix,
                " auth=", p.auth.enabled() ? "bearer" : "off", " worker_id=", p.config.worker_id,
                " max_concurrent_jobs=", p.config.max_concurrent_jobs,
                " docker_host=", p.config.docker_host);

  p.notifier.ready();

  p.sampler.setJobsPath(p.config.jobs_path);
  p.sampler.setDockerRootDir(docker::kDefaultDockerRootDir);  // until the engine names its own
  p.sampler.start();
  p.engine.setPinnedApiVersion(docker::ApiVersion::parse(p.config.docker_api_version));
  p.engine.start();
  p.image_collector.start();
  p.prune_timer = p.loop.createTimer([&p] {
    p.store.prune(p.clock.wallMillis());
    p.prune_timer->enableAfter(kPruneInterval);
  });
  p.prune_timer->enableAfter(kPruneInterval);
  // The records retention drops free their memory inside the heap only; without this the
  // worker's resident size would stay at its largest after a burst of jobs.
  p.heap_trim_timer = p.loop.createTimer([&p] {
    const uint64_t dropped = p.store.droppedTotal();
    if (dropped != p.dropped_at_last_trim) {
      const bool released = core::releaseFreeHeapPages();
      core::logDebug("heap trimmed after dropping job records dropped=",
                     dropped - p.dropped_at_last_trim, " released=", released);
      p.dropped_at_last_trim = dropped;
    }
    p.heap_trim_timer->enableAfter(kHeapTrimInterval);
  });
  p.heap_trim_timer->enableAfter(kHeapTrimInterval);

  p.applyMemoryBudget();
  p.scheduler.setPaused(jobs::Scheduler::PauseReason::kStartup, true);
  p.startupSweep();

  p.scheduler.setOnJobEnded([&p](const jobs::Job& job) {
    p.metrics.onJobEnded(job);
    // The record is terminal now (and not yet prunable): followers get their end.
    p.output_feed.end(job.spec.job_id);
    p.shutdown.onJobEnded();
  });

  p.loop.run();
  return p.shutdown.exitStatus();
}

}  // namespace wa::daemon
