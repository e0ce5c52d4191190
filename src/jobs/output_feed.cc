#include "jobs/output_feed.h"

#include <algorithm>
#include <utility>

namespace wa::jobs {

const char* outputStreamName(OutputStream stream) {
  return stream == OutputStream::kStdout ? "stdout" : "stderr";
}

uint64_t OutputFeed::subscribe(const std::string& job_id, OnOutput on_output, OnEnd on_end) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->id = next_id_++;
  subscriber->job_id = job_id;
  subscriber->on_output = std::move(on_output);
  subscriber->on_end = std::move(on_end);
  by_job_[job_id].push_back(subscriber);
  by_id_.emplace(subscriber->id, subscriber);
  return subscriber->id;
}

void OutputFeed::unsubscribe(uint64_t id) {
  auto found = by_id_.find(id);
  if (found == by_id_.end()) return;
  SubscriberPtr subscriber = std::move(found->second);
  by_id_.erase(found);
  subscriber->active = false;
  auto list = by_job_.find(subscriber->job_id);
  if (list == by_job_.end()) return;
  std::erase(list->second, subscriber);
  if (list->second.empty()) by_job_.erase(list);
}

void OutputFeed::publish(const std::string& job_id, OutputStream stream, std::string_view chunk) {
  auto list = by_job_.find(job_id);
  if (list == by_job_.end()) return;
  // A callback may subscribe or unsubscribe (itself or others) and so change the list.
  const std::vector<SubscriberPtr> subscribers = list->second;
  for (const SubscriberPtr& subscriber : subscribers) {
    if (subscriber->active && subscriber->on_output) subscriber->on_output(stream, chunk);
  }
}

void OutputFeed::end(const std::string& job_id) {
  auto list = by_job_.find(job_id);
  if (list == by_job_.end()) return;
  const std::vector<SubscriberPtr> subscribers = std::move(list->second);
  by_job_.erase(list);
  for (const SubscriberPtr& subscriber : subscribers) {
    // Unsubscribed by an earlier on_end of this loop: its own is skipped. The others
    // stay in by_id_ until their turn so that such an unsubscribe still finds them.
    if (!subscriber->active) continue;
    subscriber->active = false;
    by_id_.erase(subscriber->id);
    if (subscriber->on_end) subscriber->on_end();
  }
}

size_t OutputFeed::subscriptions(const std::string& job_id) const {
  auto list = by_job_.find(job_id);
  return list == by_job_.end() ? 0 : list->second.size();
}

}  // namespace wa::jobs
