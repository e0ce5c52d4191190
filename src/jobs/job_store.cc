#include "jobs/job_store.h"

#include <algorithm>
#include <cstdlib>

namespace wa::jobs {

Job* JobStore::insert(std::unique_ptr<Job> job) {
  auto [it, inserted] = by_id_.try_emplace(job->spec.job_id, nullptr);
  if (!inserted) return nullptr;
  job->sequence = next_sequence_++;
  job->state = JobState::kQueued;
  Job* raw = job.get();
  it->second = std::move(job);
  by_sequence_.emplace(raw->sequence, raw);
  ++counts_[static_cast<size_t>(JobState::kQueued)];
  return raw;
}

void JobStore::restore(std::vector<std::unique_ptr<Job>>&& jobs) {
  std::vector<Job*> ended;
  for (std::unique_ptr<Job>& job : jobs) {
    Job* raw = job.get();
    auto [it, inserted] = by_id_.try_emplace(raw->spec.job_id, std::move(job));
    if (!inserted) continue;  // the journal's job_id column is unique: cannot happen
    by_sequence_.emplace(raw->sequence, raw);
    next_sequence_ = std::max(next_sequence_, raw->sequence + 1);
    ++counts_[static_cast<size_t>(raw->state)];
    if (isTerminal(raw->state)) ended.push_back(raw);
  }
  std::stable_sort(ended.begin(), ended.end(), [](const Job* a, const Job* b) {
    return a->finished_at_ms.value_or(0) < b->finished_at_ms.value_or(0);
  });
  terminal_.insert(terminal_.end(), ended.begin(), ended.end());
}

void JobStore::withdraw(Job* job) {
  if (job->state != JobState::kQueued) std::abort();  // only a job nothing has touched
  erase(job);
}

Job* JobStore::find(std::string_view job_id) {
  auto it = by_id_.find(std::string(job_id));
  return it == by_id_.end() ? nullptr : it->second.get();
}

const Job* JobStore::find(std::string_view job_id) const {
  auto it = by_id_.find(std::string(job_id));
  return it == by_id_.end() ? nullptr : it->second.get();
}

void JobStore::transition(Job& job, JobState state, int64_t now_ms) {
  // Terminal states are final: leaving one would corrupt the retention queue.
  if (isTerminal(job.state)) std::abort();
  --counts_[static_cast<size_t>(job.state)];
  job.state = state;
  ++counts_[static_cast<size_t>(state)];
  if (state == JobState::kRunning && !job.started_at_ms) job.started_at_ms = now_ms;
  if (isTerminal(state)) {
    job.finished_at_ms = now_ms;
    terminal_.push_back(&job);
  }
}

std::vector<const Job*> JobStore::list(std::optional<JobState> state, size_t limit) const {
  std::vector<const Job*> out;
  for (const auto& [sequence, job] : by_sequence_) {
    if (out.size() >= limit) break;
    if (state && job->state != *state) continue;
    out.push_back(job);
  }
  return out;
}

size_t JobStore::prune(int64_t now_ms) {
  size_t dropped = 0;
  while (!terminal_.empty()) {
    Job* oldest = terminal_.front();
    const bool too_many = terminal_.size() > policy_.max_finished;
    const bool too_old =
        policy_.retention_ms > 0 && *oldest->finished_at_ms + policy_.retention_ms <= now_ms;
    if (!too_many && !too_old) break;
    terminal_.pop_front();
    if (on_dropped_) on_dropped_(*oldest);
    erase(oldest);
    ++dropped;
  }
  dropped_total_ += dropped;
  return dropped;
}

void JobStore::erase(Job* job) {
  --counts_[static_cast<size_t>(job->state)];
  by_sequence_.erase(job->sequence);
  by_id_.erase(job->spec.job_id);  // frees job
}

}  // namespace wa::jobs
