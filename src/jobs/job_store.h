// JobStore: every job record the worker holds, in memory. Finished and failed jobs are
// kept for a retention time and up to a count, then dropped, so memory stays bounded;
// queued and running jobs are never dropped.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jobs/job.h"

namespace wa::jobs {

struct RetentionPolicy {
  int64_t retention_ms = 3'600'000;  // terminal jobs older than this are dropped; 0 = no age limit
  size_t max_finished = 10'000;      // and only this many are kept
};

class JobStore {
 public:
  explicit JobStore(RetentionPolicy policy) : policy_(policy) {}

  // Stores a new queued job and gives it its sequence number. nullptr if job_id is taken.
  Job* insert(std::unique_ptr<Job> job);
  // Stores jobs read back from the journal as they were (state, sequence, times): ended
  // ones enter retention in the order they ended. Call before any insert.
  void restore(std::vector<std::unique_ptr<Job>>&& jobs);
  // Removes a queued job as if it had never been accepted (its journal write failed).
  void withdraw(Job* job);
  Job* find(std::string_view job_id);
  const Job* find(std::string_view job_id) const;

  // Moves job to state, keeping the per-state counts; terminal states enter retention
  // (the job stays valid until the next prune()).
  void transition(Job& job, JobState state, int64_t now_ms);

  // Jobs oldest first, optionally only those in one state, at most limit of them.
  std::vector<const Job*> list(std::optional<JobState> state, size_t limit) const;
  size_t count(JobState state) const { return counts_[static_cast<size_t>(state)]; }
  size_t size() const { return by_id_.size(); }

  // Drops terminal jobs past the retention time or beyond the count. Returns how many.
  size_t prune(int64_t now_ms);
  // How many jobs prune() has dropped since the store was made.
  uint64_t droppedTotal() const { return dropped_total_; }
  void setPolicy(RetentionPolicy policy) { policy_ = policy; }
  // Told of each job prune() drops, before it goes (the journal forgets it too).
  void setOnDropped(std::function<void(const Job&)> fn) { on_dropped_ = std::move(fn); }

 private:
  void erase(Job* job);

  RetentionPolicy policy_;
  uint64_t next_sequence_ = 1;
  uint64_t dropped_total_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Job>> by_id_;
  std::map<uint64_t, Job*> by_sequence_;
  std::deque<Job*> terminal_;  // in the order they ended: the pruning order
  std::array<size_t, 4> counts_{};
  std::function<void(const Job&)> on_dropped_;
};

}  // namespace wa::jobs
