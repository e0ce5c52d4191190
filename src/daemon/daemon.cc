#include "daemon/daemon.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "api/worker_api.h"
#include "api/worker_metrics.h"
#include "config/config_key.h"
#include "core/descriptor_limit.h"
#include "core/event_loop.h"
#include "core/heap.h"
#include "core/journal_stream.h"
#include "core/log.h"
#include "core/signal_watcher.h"
#include "daemon/journal_log.h"
#include "daemon/systemd_notifier.h"
#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "http/http_server.h"
#include "jobs/docker_job_runner.h"
#include "jobs/image_supplier.h"
#include "jobs/job_store.h"
#include "jobs/output_feed.h"
#include "jobs/scheduler.h"
#include "metrics/host_info.h"
#include "metrics/host_sampler.h"
#include "version.h"

namespace wa::daemon {
namespace {
constexpr core::Millis kEnginePingInterval{2000};
constexpr core::Millis kPruneInterval{1000};
// How often the heap's free pages may go back to the kernel after job records were dropped.
constexpr core::Millis kHeapTrimInterval{10'000};
// How long shutdown waits for the engine to kill and remove containers.
constexpr core::Millis kShutdownDeadline{20'000};
// listen_unix's file: the worker's user and group may connect, nobody else.
constexpr mode_t kUnixSocketMode = 0660;
}  // namespace

struct Daemon::Parts {
  Parts(config::Config c, std::function<config::LoadResult()> reload_fn)
      : config(std::move(c)),
        reload_config(std::move(reload_fn)),
        descriptors(core::fitDescriptorLimit(static_cast<size_t>(config.max_connections),
                                             reservedDescriptors(config))),
        loop(clock),
        docker(loop, config.docker_host),
        engine(loop, docker, kEnginePingInterval),
        host(metrics::HostInfo::read("/")),
        sampler(loop, config.metrics_root, core::Millis(config.sample_interval_ms)),
        store(retention(config)),
        images(loop, jobs::engineCalls(docker), jobs::SupplyOptions{}),
        runner(loop, docker, images, runnerOptions(config)),
        scheduler(loop, store, runner, static_cast<size_t>(config.max_concurrent_jobs),
                  static_cast<size_t>(config.max_queued_jobs)),
        metrics(clock, WORKER_AGENT_VERSION, scheduler, sampler, engine),
        api(clock, identity(config), host, sampler, engine, store, scheduler, parser(config)),
        server(loop, router, serverOptions(config, descriptors), &api::WorkerApi::renderError),
        notifier(loop, [this] { return summary(); }) {}

  // The one-line STATUS= shown by `systemctl status`.
  std::string summary() const {
    std::string line = std::to_string(scheduler.running()) + " running, " +
                       std::to_string(scheduler.queued()) + " queued";
    if (!engine.status().reachable) line += "; docker engine unreachable";
    if (!engine.status().limits_unenforced.empty()) line += "; engine cannot enforce job limits";
    if (!engine.status().api_unsupported.empty()) line += "; engine API version unsupported";
    if (shutting_down) line += "; shutting down";
    return line;
  }

  static api::WorkerIdentity identity(const config::Config& c) {
    // Advertise only the modes this worker will actually run.
    std::vector<std::string> modes;
    const auto implemented = api::JobPolicy{}.implemented_runtime_modes;
    for (const auto& mode : c.allowed_runtime_modes) {
      if (std::find(implemented.begin(), implemented.end(), mode) != implemented.end())
        modes.push_back(mode);
    }
    return api::WorkerIdentity{c.worker_id, WORKER_AGENT_VERSION, c.labels, modes,
                               c.allowed_images};
  }
  // The CPUs this process may run on, which is what the engine allows NanoCpus up to.
  static double usableCpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
      return CPU_COUNT(&set);
    }
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<double>(online) : 1.0;
  }
  static api::JobRequestParser parser(const config::Config& c) {
    api::JobPolicy policy;
    policy.allowed_runtime_modes = c.allowed_runtime_modes;
    policy.default_memory_mb = c.default_memory_mb;
    policy.default_max_runtime_seconds = c.default_max_runtime_seconds;
    policy.max_memory_mb = c.max_memory_mb;
    policy.max_runtime_seconds = c.max_runtime_seconds;
    policy.default_cpus = c.default_cpus;
    policy.max_cpus = c.max_cpus > 0 ? c.max_cpus : usableCpus();
    policy.allow_network = c.allow_network;
    policy.max_job_files_bytes = c.max_job_files_bytes;
    policy.max_build_context_bytes = c.max_build_context_bytes;
    return api::JobRequestParser(policy, jobs::ImagePolicy(c.allowed_images));
  }
  static jobs::RunnerOptions runnerOptions(const config::Config& c) {
    jobs::RunnerOptions options;
    options.worker_id = c.worker_id;
    options.output_limit_bytes = static_cast<size_t>(c.output_limit_bytes);
    options.output_file_limit_bytes = static_cast<size_t>(c.output_file_limit_bytes);
    jobs::IsolationOptions& iso = options.isolation;
    iso.pids_limit = c.pids_limit;
    iso.read_only_rootfs = c.read_only_rootfs;
    iso.tmp_size_mb = c.tmp_size_mb;
    iso.workspace_path = c.workspace_path;
    iso.workspace_size_mb = c.workspace_size_mb;
    iso.user = c.job_user;
    iso.container_runtime = c.container_runtime;
    return options;
  }
  // The image options of c, with its registry credentials file read; nullopt (and
  // *error) when that file cannot be used.
  static std::optional<jobs::SupplyOptions> supplyOptions(const config::Config& c,
                                                          std::string* error) {
    jobs::SupplyOptions options;
    if (!jobs::parsePullPolicy(c.pull_policy, &options.pull_policy)) {
      *error = "pull_policy \"" + c.pull_policy + "\" is not never, missing or always";
      return std::nullopt;
    }
    options.pull_timeout = std::chrono::seconds(c.pull_timeout_seconds);
    options.build_timeout = std::chrono::seconds(c.build_timeout_seconds);
    if (!c.registry_auth_file.empty()) {
      std::optional<jobs::RegistryAuth> auth =
          jobs::RegistryAuth::load(c.registry_auth_file, error);
      if (!auth) {
        *error = "registry_auth_file " + *error;
        return std::nullopt;
      }
      options.registry_auth = std::move(*auth);
    }
    return options;
  }
  static api::HealthPolicy healthPolicy(const config::Config& c) {
    return api::HealthPolicy{c.thermal_limit_c, c.disk_min_free_percent};
  }
  static jobs::RetentionPolicy retention(const config::Config& c) {
    return jobs::RetentionPolicy{c.finished_job_retention_seconds * 1000,
                                 static_cast<size_t>(c.max_finished_jobs)};
  }
  // The token and open routes of config, into the server's check. Says so when the check
  // is turned on or off; never logs the token.
  void applyAuth() {
    const bool was_enabled = auth.enabled();
    auth.setToken(config.auth_token);
    auth.setOpenRoutes(config.auth_open_paths);
    if (auth.enabled() != was_enabled) {
      core::logInfo(auth.enabled() ? "authentication on: requests need the bearer token"
                                   : "authentication off: requests need no token");
    }
  }
  static http::HttpServerOptions serverOptions(const config::Config& c,
                                               const core::DescriptorPlan& descriptors) {
    http::HttpServerOptions options;
    options.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
    // max_connections, or fewer if the open-file limit could not be raised to fit them.
    options.max_connections = descriptors.max_connections;
    return options;
  }
  // Descriptors kept out of max_connections' share of RLIMIT_NOFILE: the daemon's own
  // (stdio, epoll, timers, signals, the listening socket, files read under /proc) and, per
  // running job, the engine's connections (its wait, its output, its inspections: 4) and
  // the cgroup files the sampler holds open for its container (6).
  // Fixed at start: a reload that raises max_concurrent_jobs does not grow it.
  static size_t reservedDescriptors(const config::Config& c) {
    return 64 + 10 * static_cast<size_t>(c.max_concurrent_jobs);
  }
  // Says at start what fitDescriptorLimit did to RLIMIT_NOFILE, if anything.
  void logDescriptorLimit() const {
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
      core::logWarning(
          "the open-file limit (RLIMIT_NOFILE) is ", text(d.after.soft), " (hard limit ",
          text(d.after.hard), "), too low for max_connections=", wanted, " and ",
          reservedDescriptors(config), " descriptors of the worker's own: connections beyond ",
          d.max_connections, " will get 503",
          d.error.empty() ? "" : " (raising it failed: " + d.error + ")",
          "; raise the hard limit (LimitNOFILE= under systemd) to serve them all");
    } else if (!d.error.empty()) {
      core::logWarning("the open-file limit (RLIMIT_NOFILE) was left as it is: ", d.error);
    }
  }

  config::Config config;  // what runs now: reloads replace the keys they apply
  std::function<config::LoadResult()> reload_config;
  // RLIMIT_NOFILE as fitted at start; before the server, whose connection cap it sets.
  core::DescriptorPlan descriptors;
  core::SystemClock clock;
  core::EventLoop loop;
  docker::DockerClient docker;
  docker::EngineMonitor engine;
  metrics::HostInfo host;
  metrics::HostSampler sampler;
  jobs::JobStore store;
  jobs::ImageSupplier images;
  jobs::DockerJobRunner runner;
  jobs::Scheduler scheduler;
  api::WorkerMetrics metrics;
  // Followers of live output; declared before the api and the server, which hold
  // subscriptions into it until they are destroyed.
  jobs::OutputFeed output_feed;
  http::Router router;
  api::WorkerApi api;
  http::BearerAuth auth;  // before the server, which holds a pointer to it
  http::HttpServer server;
  SystemdNotifier notifier;
  std::unique_ptr<core::SignalWatcher> signals;
  std::unique_ptr<core::Timer> prune_timer;
  std::unique_ptr<core::Timer> heap_trim_timer;
  uint64_t dropped_at_last_trim = 0;
  std::unique_ptr<core::Timer> drain_timer;
  std::unique_ptr<core::Timer> shutdown_deadline;
  bool shutting_down = false;
  bool cancelling = false;
  bool final_sweep_started = false;
  bool startup_sweep_pending = false;  // its listing failed: it runs when the engine answers
  int exit_status = 0;

  // SIGHUP: load the configuration again; apply the keys that can change while running
  // (config_key.cc marks them reloadable), keep the running value of the others and say
  // so. A configuration that does not load changes nothing. Jobs queued or running are
  // untouched: new limits and policies apply to what is submitted or started next.
  void reload() {
    if (shutting_down) return;
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
    // These keys are bound into sockets, the engine client, the sampler and container
    // labels at start-up: the running values stay until a restart. Keep in step with the
    // keys config_key.cc does not mark reloadable.
    next.worker_id = config.worker_id;
    next.listen = config.listen;
    next.port = config.port;
    next.listen_unix = config.listen_unix;
    next.docker_host = config.docker_host;
    next.max_body_bytes = config.max_body_bytes;
    next.max_connections = config.max_connections;
    next.metrics_root = config.metrics_root;
    next.sample_interval_ms = config.sample_interval_ms;
    config = std::move(next);

    core::LogLevel level;
    if (core::Log::parseLevel(config.log_level, &level)) core::Log::setLevel(level);
    api.setIdentity(identity(config));
    api.setParser(parser(config));
    api.setHealthPolicy(healthPolicy(config));
    store.setPolicy(retention(config));
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

  // Removes every container labelled with this worker's id. At start-up this clears what
  // a crash left behind (the scheduler is paused until it is done, so no new job's
  // container can be caught in it); at shutdown it is the last word on leaks. done(listed)
  // says whether the engine listed them (removals that fail are only logged).
  void sweepContainers(const std::function<void(bool listed)>& done) {
    const std::string label = std::string(jobs::kWorkerLabel) + "=" + config.worker_id;
    docker.listContainers(label, [this, done](docker::Result<std::vector<std::string>> r) {
      if (!r.ok()) {
        core::logWarning("listing this worker's containers failed error=", r.error().message);
        done(false);
        return;
      }
      auto remaining = std::make_shared<size_t>(r.value().size());
      if (*remaining == 0) {
        done(true);
        return;
      }
      for (const std::string& id : r.value()) {
        docker.remove(id, [id, remaining, done](const docker::Result<docker::Unit>& removed) {
          if (removed.ok()) {
            core::logInfo("removed container left by this worker container_id=", id);
          } else {
            core::logWarning("removing container failed container_id=", id,
                             " error=", removed.error().message);
          }
          if (--*remaining == 0) done(true);
        });
      }
    });
  }

  // The start-up sweep holds the queue (PauseReason::kStartup) until it is done. An engine
  // that cannot be reached cannot list the containers a previous run left: the sweep then
  // waits for the engine to answer (onEngineStatus) and the queue waits with it, so that
  // it runs before any new job's container exists. It waits likewise until an Engine API
  // version is negotiated: an engine may refuse any other (Docker 29.0 refuses 1.41). An
  // engine that answers with an error gets no second try: the queue goes on and the
  // shutdown sweep removes what is left.
  void startupSweep() {
    if (!engine.status().api_version) {
      startup_sweep_pending = true;  // onEngineStatus runs it once a version is negotiated
      return;
    }
    startup_sweep_pending = false;
    sweepContainers([this](bool listed) {
      if (shutting_down) return;  // the final sweep takes over
      if (!listed && !engine.status().reachable) {
        startup_sweep_pending = true;
        core::logInfo("the start-up sweep of this worker's containers waits for the docker engine");
        return;
      }
      scheduler.setPaused(jobs::Scheduler::PauseReason::kStartup, false);
    });
  }

  // Queued jobs wait while the engine is away: starting them would only fail them. When it
  // answers again they start, and the removals that failed meanwhile are tried at once.
  // Runs on every EngineMonitor change, including a request's failed connect (no engine
  // request may be made then, and none is: only the reachable branch makes one).
  void onEngineStatus(const docker::EngineStatus& status) {
    using Reason = jobs::Scheduler::PauseReason;
    // A job must not run with limits the engine ignores: queued jobs wait until its /info
    // says it can enforce them (and new ones are refused meanwhile: WorkerApi::submitJob),
    // and until its /version tells Docker from Podman (they are spelled differently).
    const bool limits_held =
        !status.info_known || !status.version || !status.limits_unenforced.empty();
    if (limits_held != scheduler.paused(Reason::kEngineLimits)) {
      scheduler.setPaused(Reason::kEngineLimits, limits_held);
      if (limits_held && !status.limits_unenforced.empty())
        core::logInfo("queued jobs wait: ", status.limits_unenforced,
                      " queued=", scheduler.queued());
    }
    if (startup_sweep_pending && status.api_version && !shutting_down) startupSweep();
    const bool held = scheduler.paused(Reason::kEngineUnreachable);
    if (status.reachable != held) return;  // no change in reachability
    scheduler.setPaused(Reason::kEngineUnreachable, !status.reachable);
    if (status.reachable) {
      core::logInfo("docker engine is back; queued jobs may start queued=", scheduler.queued(),
                    " removals_pending=", runner.pendingRemovals());
      runner.retryRemovalsNow();
      if (startup_sweep_pending && !shutting_down) startupSweep();
    } else {
      core::logInfo("queued jobs wait until the docker engine answers queued=", scheduler.queued());
      if (startup_sweep_pending)
        core::logInfo("the start-up sweep of this worker's containers waits for the docker engine");
    }
  }

  // Shutdown goes through three steps, each entered once: drain (new jobs refused with
  // 503, running ones may finish, results stay readable), cancel (runs killed), and a
  // final sweep of this worker's containers, after which the loop stops.
  void onStopSignal(int signo) {
    if (!shutting_down) {
      startShutdown(signo);
    } else if (!cancelling) {
      core::logInfo("signal ", signo, " again: skipping the drain");
      cancelRuns();
    } else {
      core::logWarning("signal ", signo, " during clean-up: exiting now; ", runner.active(),
                       " container(s) are left for the next start-up to remove");
      exit_status = 1;
      loop.stop();
    }
  }

  void startShutdown(int signo) {
    shutting_down = true;
    notifier.stopping();
    api.setAcceptingJobs(false);
    scheduler.setPaused(jobs::Scheduler::PauseReason::kShutdown, true);
    const auto drain = std::chrono::seconds(config.shutdown_drain_seconds);
    if (drain.count() > 0 && runner.active() > 0) {
      core::logInfo("shutting down on signal ", signo, ": letting ", runner.active(),
                    " running job(s) finish for up to ", drain.count(), " s");
      drain_timer = loop.createTimer([this] {
        core::logInfo("drain time is over");
        cancelRuns();
      });
      drain_timer->enableAfter(drain);
    } else {
      core::logInfo("shutting down on signal ", signo);
      cancelRuns();
    }
    checkShutdown();
  }

  void cancelRuns() {
    if (cancelling) return;
    cancelling = true;
    if (drain_timer) drain_timer->disable();
    if (runner.active() > 0) core::logInfo("cancelling ", runner.active(), " running job(s)");
    runner.cancelAll();
    armShutdownDeadline();
  }

  void armShutdownDeadline() {
    if (shutdown_deadline) return;
    shutdown_deadline = loop.createTimer([this] {
      core::logWarning("shutdown deadline passed; exiting with ", runner.active(),
                       " run(s) unfinished");
      exit_status = 1;
      loop.stop();
    });
    shutdown_deadline->enableAfter(kShutdownDeadline);
  }

  // Runs at the start of shutdown and again after each job ends (Scheduler's hook).
  void checkShutdown() {
    if (!shutting_down || runner.active() > 0 || final_sweep_started) return;
    final_sweep_started = true;
    cancelling = true;  // nothing left to cancel; a further signal means "exit now"
    if (drain_timer) drain_timer->disable();
    server.stopListening();
    armShutdownDeadline();
    sweepContainers([this](bool) {
      core::logInfo("shutdown complete");
      loop.stop();
    });
  }
};

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
        p.onStopSignal(signo);
      });
  std::string supply_error;
  std::optional<jobs::SupplyOptions> supply = Parts::supplyOptions(p.config, &supply_error);
  if (!supply) {
    core::logError("cannot start: ", supply_error);
    return 1;
  }
  p.images.setOptions(std::move(*supply));
  p.api.setHealthPolicy(Parts::healthPolicy(p.config));
  p.api.setMetrics(&p.metrics);
  p.api.registerRoutes(p.router);
  p.server.setObserver([&p](const http::RequestRecord& r) { p.metrics.onHttpRequest(r); });
  p.applyAuth();
  p.server.setAuth(&p.auth);
  p.docker.setErrorObserver([&p](std::string_view endpoint, const docker::DockerError& error) {
    p.metrics.onDockerError(endpoint);
    // Before the failed request's own callback: a job that fails this way frees its slot
    // only after the scheduler has been told to hold the queue.
    if (error.connect_failed) p.engine.reportConnectFailed(error.message);
  });
  p.api.setOutputFeed(&p.output_feed);
  p.runner.setOnOutput([&p](const jobs::Job& job, docker::StreamKind kind, std::string_view data) {
    p.output_feed.publish(job.spec.job_id,
                          kind == docker::StreamKind::kStderr ? jobs::OutputStream::kStderr
                                                              : jobs::OutputStream::kStdout,
                          data);
  });
  p.runner.setOnContainerStarted([&p](const jobs::Job&, std::chrono::microseconds latency) {
    p.metrics.onContainerStarted(latency);
  });
  p.sampler.setJobContainers([&p] { return p.runner.containerIds(); });
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
  p.sampler.start();
  p.engine.setOnChange([&p](const docker::EngineStatus& status) {
    if (status.reachable && !status.docker_root_dir.empty())
      p.sampler.setDockerRootDir(status.docker_root_dir);
    if (status.version) {
      p.runner.setPodman(status.version->podman);
      p.images.setPodman(status.version->podman);
    }
    p.onEngineStatus(status);
  });
  // A job that found the engine away before it had a container went back to the queue
  // (Scheduler::requeue): hold the queue until the engine has been asked again, or the same
  // job would start at once and find it away again. An engine that does not answer holds
  // the queue on its own (kEngineUnreachable) from then on.
  p.scheduler.setOnRequeued([&p](const jobs::Job&) {
    using Reason = jobs::Scheduler::PauseReason;
    p.scheduler.setPaused(Reason::kEngineCheck, true);
    p.engine.checkNow(
        [&p](const docker::EngineStatus&) { p.scheduler.setPaused(Reason::kEngineCheck, false); });
  });
  p.engine.setPinnedApiVersion(docker::ApiVersion::parse(p.config.docker_api_version));
  p.engine.start();
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

  p.scheduler.setPaused(jobs::Scheduler::PauseReason::kStartup, true);
  // Until the engine's /info says it enforces job limits (onEngineStatus).
  p.scheduler.setPaused(jobs::Scheduler::PauseReason::kEngineLimits, true);
  p.startupSweep();

  p.scheduler.setOnJobEnded([&p](const jobs::Job& job) {
    p.metrics.onJobEnded(job);
    // The record is terminal now (and not yet prunable): followers get their end.
    p.output_feed.end(job.spec.job_id);
    // The run is freed after this batch; look again then.
    if (p.shutting_down) p.loop.post([&p] { p.checkShutdown(); });
  });

  if (!p.loop.run()) return 1;
  return p.exit_status;
}

}  // namespace wa::daemon
