#include "daemon/daemon.h"

#include <signal.h>

#include <algorithm>

#include "api/worker_api.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/signal_watcher.h"
#include "daemon/systemd_notifier.h"
#include "docker/docker_client.h"
#include "docker/engine_monitor.h"
#include "http/http_server.h"
#include "jobs/docker_job_runner.h"
#include "jobs/job_store.h"
#include "jobs/scheduler.h"
#include "metrics/host_info.h"
#include "metrics/host_sampler.h"
#include "version.h"

namespace wa::daemon {
namespace {
constexpr core::Millis kEnginePingInterval{2000};
constexpr core::Millis kSampleInterval{1000};
constexpr core::Millis kPruneInterval{1000};
// How long shutdown waits for the engine to kill and remove containers.
constexpr core::Millis kShutdownDeadline{20'000};
}  // namespace

struct Daemon::Parts {
  explicit Parts(config::Config c)
      : config(std::move(c)),
        loop(clock),
        docker(loop, config.docker_host),
        engine(loop, docker, kEnginePingInterval),
        host(metrics::HostInfo::read("/")),
        sampler(loop, "/", kSampleInterval),
        store(jobs::RetentionPolicy{config.finished_job_retention_seconds * 1000,
                                    static_cast<size_t>(config.max_finished_jobs)}),
        runner(loop, docker,
               jobs::RunnerOptions{config.worker_id, static_cast<size_t>(config.output_limit_bytes)}),
        scheduler(loop, store, runner, static_cast<size_t>(config.max_concurrent_jobs),
                  static_cast<size_t>(config.max_queued_jobs)),
        api(clock, identity(config), host, sampler, engine, store, scheduler, parser(config)),
        server(loop, router, serverOptions(config), &api::WorkerApi::renderError),
        notifier(loop, [this] { return summary(); }) {}

  // The one-line STATUS= shown by `systemctl status`.
  std::string summary() const {
    std::string line = std::to_string(scheduler.running()) + " running, " +
                       std::to_string(scheduler.queued()) + " queued";
    if (!engine.status().reachable) line += "; docker engine unreachable";
    if (shutting_down) line += "; shutting down";
    return line;
  }

  static api::WorkerIdentity identity(const config::Config& c) {
    // Advertise only the modes this worker will actually run.
    std::vector<std::string> modes;
    const auto implemented = api::JobPolicy{}.implemented_runtime_modes;
    for (const auto& mode : c.allowed_runtime_modes) {
      if (std::find(implemented.begin(), implemented.end(), mode) != implemented.end()) modes.push_back(mode);
    }
    return api::WorkerIdentity{c.worker_id, WORKER_AGENT_VERSION, c.labels, modes, c.allowed_images};
  }
  static api::JobRequestParser parser(const config::Config& c) {
    api::JobPolicy policy;
    policy.allowed_runtime_modes = c.allowed_runtime_modes;
    policy.default_memory_mb = c.default_memory_mb;
    policy.default_max_runtime_seconds = c.default_max_runtime_seconds;
    policy.max_memory_mb = c.max_memory_mb;
    policy.max_runtime_seconds = c.max_runtime_seconds;
    return api::JobRequestParser(policy, jobs::ImagePolicy(c.allowed_images));
  }
  static http::HttpServerOptions serverOptions(const config::Config& c) {
    http::HttpServerOptions options;
    options.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
    return options;
  }

  config::Config config;
  core::SystemClock clock;
  core::EventLoop loop;
  docker::DockerClient docker;
  docker::EngineMonitor engine;
  metrics::HostInfo host;
  metrics::HostSampler sampler;
  jobs::JobStore store;
  jobs::DockerJobRunner runner;
  jobs::Scheduler scheduler;
  http::Router router;
  api::WorkerApi api;
  http::HttpServer server;
  SystemdNotifier notifier;
  std::unique_ptr<core::SignalWatcher> signals;
  std::unique_ptr<core::Timer> prune_timer;
  std::unique_ptr<core::Timer> drain_timer;
  std::unique_ptr<core::Timer> shutdown_deadline;
  bool shutting_down = false;
  bool cancelling = false;
  bool final_sweep_started = false;
  int exit_status = 0;

  // Removes every container labelled with this worker's id. At start-up this clears what
  // a crash left behind (the scheduler is paused until it is done, so no new job's
  // container can be caught in it); at shutdown it is the last word on leaks.
  void sweepContainers(const std::function<void()>& done) {
    const std::string label = std::string(jobs::kWorkerLabel) + "=" + config.worker_id;
    docker.listContainers(label, [this, done](docker::Result<std::vector<std::string>> r) {
      if (!r.ok()) {
        core::logWarning("listing this worker's containers failed error=", r.error().message);
        done();
        return;
      }
      auto remaining = std::make_shared<size_t>(r.value().size());
      if (*remaining == 0) {
        done();
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
          if (--*remaining == 0) done();
        });
      }
    });
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
    scheduler.setPaused(true);
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
      core::logWarning("shutdown deadline passed; exiting with ", runner.active(), " run(s) unfinished");
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
    sweepContainers([this] {
      core::logInfo("shutdown complete");
      loop.stop();
    });
  }
};

Daemon::Daemon(config::Config config) : parts_(std::make_unique<Parts>(std::move(config))) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  Parts& p = *parts_;
  ::signal(SIGPIPE, SIG_IGN);
  p.signals = std::make_unique<core::SignalWatcher>(
      p.loop, std::initializer_list<int>{SIGTERM, SIGINT, SIGHUP}, [&p](int signo) {
        if (signo == SIGHUP) {
          core::logInfo("SIGHUP received; reloading is not supported yet");
          return;
        }
        p.onStopSignal(signo);
      });
  p.api.registerRoutes(p.router);
  if (std::string error = p.server.listen(p.config.listen, static_cast<uint16_t>(p.config.port));
      !error.empty()) {
    core::logError("cannot listen: ", error);
    return 1;
  }
  core::logInfo("worker-agent ", WORKER_AGENT_VERSION, " listening on ", p.config.listen, ":",
                p.server.port(), " worker_id=", p.config.worker_id,
                " max_concurrent_jobs=", p.config.max_concurrent_jobs, " docker_host=", p.config.docker_host);

  p.notifier.ready();

  p.sampler.setJobsPath(p.config.jobs_path);
  p.sampler.start();
  p.engine.setOnChange([&p](const docker::EngineStatus& status) {
    if (status.reachable && !status.docker_root_dir.empty()) p.sampler.setDockerRootDir(status.docker_root_dir);
  });
  p.engine.start();
  p.prune_timer = p.loop.createTimer([&p] {
    p.store.prune(p.clock.wallMillis());
    p.prune_timer->enableAfter(kPruneInterval);
  });
  p.prune_timer->enableAfter(kPruneInterval);

  p.scheduler.setPaused(true);
  p.sweepContainers([&p] {
    if (!p.shutting_down) p.scheduler.setPaused(false);
  });

  p.scheduler.setOnJobEnded([&p](const jobs::Job&) {
    // The run is freed after this batch; look again then.
    if (p.shutting_down) p.loop.post([&p] { p.checkShutdown(); });
  });

  if (!p.loop.run()) return 1;
  return p.exit_status;
}

}  // namespace wa::daemon
