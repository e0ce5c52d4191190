// FakeRunner: a JobRunner that records what it was asked and ends runs on command.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/event_loop.h"
#include "jobs/job_runner.h"

namespace wa::jobs::testing {

class FakeRunner final : public JobRunner {
 public:
  explicit FakeRunner(core::EventLoop& loop) : loop_(loop) {}

  void start(Job& job, Completion done) override {
    started.push_back(job.spec.job_id);
    running.push_back({&job, std::move(done)});
    peak = std::max(peak, running.size());
  }
  void adopt(Job& job, const std::string& container_id, Completion done) override {
    adopted.push_back(job.spec.job_id + "@" + container_id);
    running.push_back({&job, std::move(done)});
  }
  void cancel(Job& job) override {
    cancelled.push_back(job.spec.job_id);
    if (!cancel_ends_run) return;
    finish(job.spec.job_id, JobOutcome{std::nullopt, false, JobError{"CANCELLED", "cancelled"}});
  }
  // Ends a running job with outcome, through the loop as a real runner would.
  void finish(const std::string& job_id, JobOutcome outcome) {
    for (auto it = running.begin(); it != running.end(); ++it) {
      if (it->job->spec.job_id != job_id) continue;
      Entry entry = std::move(*it);
      running.erase(it);
      loop_.post([entry = std::move(entry), outcome = std::move(outcome)]() mutable {
        entry.done(*entry.job, outcome);
      });
      return;
    }
  }

  struct Entry {
    Job* job;
    Completion done;
  };
  std::vector<std::string> started;
  std::vector<std::string> adopted;  // "job_id@container_id"
  std::vector<std::string> cancelled;
  std::vector<Entry> running;
  size_t peak = 0;
  // cancel() ends the run at once, as CANCELLED; false leaves it to finish().
  bool cancel_ends_run = true;

 private:
  core::EventLoop& loop_;
};

}  // namespace wa::jobs::testing
