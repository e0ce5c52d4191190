// Start-up: the journal read back, and the containers of the jobs that were running taken
// up again (docs/WORKER_LIFECYCLE.md, "Restarts").
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/log.h"
#include "daemon/daemon_parts.h"
#include "jobs/container_spec.h"

namespace wa::daemon {
namespace {

// How long a start-up recovery whose listing the engine refused waits to ask again.
constexpr core::Millis kRecoveryRetry{5000};

// The journal's file: journal_path, or journal-<worker_id>.sqlite under jobs_path.
std::string journalPath(const config::Config& c) {
  if (!c.journal_path.empty()) return c.journal_path;
  std::string name;
  for (char ch : c.worker_id) {
    const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
    name += plain ? ch : '_';
  }
  return c.jobs_path + "/journal-" + name + ".sqlite";
}

}  // namespace

bool Daemon::Parts::openJournal(std::string* error) {
  if (!config.journal) {
    core::logInfo("journal off: jobs live in memory only");
    return true;
  }
  jobs::JournalOpening opening = jobs::JobJournal::open(
      loop, jobs::JournalOptions{journalPath(config), config.journal_sync == "full"});
  if (!opening.journal) {
    *error = "the job journal: " + opening.problem;
    return false;
  }
  journal = std::move(opening.journal);
  journal_moved_aside = std::move(opening.moved_aside);
  size_t ended = 0;
  std::vector<jobs::Job*> queued;
  std::vector<std::unique_ptr<jobs::Job>> jobs;
  for (jobs::JournaledJob& entry : opening.jobs) {
    jobs::Job* job = entry.job.get();
    switch (job->state) {
      case jobs::JobState::kQueued:
        queued.push_back(job);
        break;
      case jobs::JobState::kRunning:
        recovering.push_back(Recovering{job, std::move(entry.container_id), entry.outcome_known});
        break;
      case jobs::JobState::kFinished:
      case jobs::JobState::kFailed:
        ++ended;
        break;
    }
    jobs.push_back(std::move(entry.job));
  }
  store.restore(std::move(jobs));
  for (jobs::Job* job : queued) scheduler.restoreQueued(*job);
  core::logInfo("journal ", journal->path(), ": took back ", ended, " ended, ", queued.size(),
                " queued and ", recovering.size(), " running job(s)");
  scheduler.setJournal(journal.get());
  store.setOnDropped([this](const jobs::Job& job) { journal->dropped(job); });
  runner.setOnContainerCreated(
      [this](const jobs::Job& job, const std::string& id) { journal->containerCreated(job, id); });
  runner.setOnOutcome([this](const jobs::Job& job, const jobs::JobOutcome& outcome) {
    journal->outcomeKnown(job, outcome);
  });
  api.setJournal(journal.get(), journal_moved_aside);
  return true;
}

void Daemon::Parts::startupSweep() {
  if (!engine.status().api_version) {
    startup_sweep_pending = true;  // onEngineStatus runs it once a version is negotiated
    return;
  }
  startup_sweep_pending = false;
  const std::string label = std::string(jobs::kWorkerLabel) + "=" + config.worker_id;
  recovery_list = container_engine.list(
      label, [this](const docker::Result<std::vector<docker::ContainerSummary>>& r) {
        if (shutdown.started()) return;  // the final sweep (or the exit) takes over
        if (!r.ok()) {
          core::logWarning("listing this worker's containers failed error=", r.error().message);
          if (!engine.status().reachable) {
            // The jobs and containers of a previous run wait for the engine, and the queue
            // with them, so that this runs before any new job's container exists.
            startup_sweep_pending = true;
            core::logInfo(
                "the start-up recovery of this worker's containers waits for the "
                "docker engine");
          } else {
            if (!recovery_retry) recovery_retry = loop.createTimer([this] { startupSweep(); });
            recovery_retry->enableAfter(kRecoveryRetry);
          }
          return;
        }
        std::unordered_map<std::string, const docker::ContainerSummary*> by_job;
        std::unordered_map<std::string, const docker::ContainerSummary*> keepers;
        for (const docker::ContainerSummary& c : r.value()) {
          if (!c.job_id.empty()) by_job[c.job_id] = &c;
          auto keeper = c.labels.find(jobs::kKeeperLabel);
          if (keeper != c.labels.end()) keepers[keeper->second] = &c;
        }
        std::unordered_set<std::string> claimed;
        // An adopted job keeps its workspace keeper (its volume holds the files and the
        // outputs still to collect), and removes it when it ends.
        auto adopt = [&](jobs::Job& job, const std::string& container_id) {
          claimed.insert(container_id);
          auto keeper = keepers.find(job.spec.job_id);
          if (keeper != keepers.end()) {
            claimed.insert(keeper->second->id);
            job.keeper_id = keeper->second->id;
          }
          scheduler.adopt(job, container_id);
        };
        for (const Recovering& rec : recovering) {
          jobs::Job& job = *rec.job;
          auto found = by_job.find(job.spec.job_id);
          if (rec.outcome_known) {
            // Its run had the outcome; only the removal was left (done below, unclaimed).
            jobs::JobOutcome outcome{job.exit_code, job.oom_killed, job.error};
            job.exit_code.reset();
            job.error.reset();
            scheduler.finishRestored(job, std::move(outcome));
          } else if (found != by_job.end()) {
            adopt(job, found->second->id);
          } else if (rec.container_id.empty()) {
            // It never had a container (its image was being supplied): it did not run.
            scheduler.finishRestored(
                job, jobs::JobOutcome{std::nullopt, false,
                                      jobs::JobError{"WORKER_RESTARTED",
                                                     "the worker restarted before the job's "
                                                     "container was created",
                                                     true}});
          } else {
            scheduler.finishRestored(
                job,
                jobs::JobOutcome{std::nullopt, false,
                                 jobs::JobError{"CONTAINER_LOST",
                                                "the worker restarted while the job ran and its "
                                                "container was gone when it came back (removed by "
                                                "hand, or the engine was reset); its outcome is "
                                                "unknown"}});
          }
        }
        if (!recovering.empty()) {
          core::logInfo("start-up recovery: ", claimed.size(), " of ", recovering.size(),
                        " running job(s) adopted by their containers");
        }
        recovering.clear();
        // A container of a job the journal still had as queued: the daemon stopped between
        // its creation and the journal's record of it. It is adopted like the others (one
        // never started goes back to the queue, its place kept).
        for (const docker::ContainerSummary& c : r.value()) {
          if (claimed.contains(c.id) || c.job_id.empty()) continue;
          jobs::Job* job = store.find(c.job_id);
          if (job == nullptr || job->state != jobs::JobState::kQueued) continue;
          adopt(*job, c.id);
        }
        for (const docker::ContainerSummary& c : r.value()) {
          if (claimed.contains(c.id)) continue;
          core::logInfo("removing a container no job claims container_id=", c.id,
                        " job_id=", c.job_id);
          reaper.remove(c.id);
        }
        scheduler.setPaused(jobs::Scheduler::PauseReason::kStartup, false);
      });
}

}  // namespace wa::daemon
