// OutputFeed: live job output for whoever follows a job while it runs (an HTTP client
// streaming GET /jobs/{job_id}/output). The runner publishes each captured chunk; a
// subscriber gets the chunks of one job in capture order, then one end notice.
// The feed keeps no output and no memory of ended jobs: a subscriber first reads what
// the job record holds so far, then subscribes, and only to a job not yet terminal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wa::jobs {

enum class OutputStream { kStdout, kStderr };

// "stdout" or "stderr".
const char* outputStreamName(OutputStream stream);

class OutputFeed {
 public:
  using OnOutput = std::function<void(OutputStream stream, std::string_view chunk)>;
  using OnEnd = std::function<void()>;

  OutputFeed() = default;
  OutputFeed(const OutputFeed&) = delete;
  OutputFeed& operator=(const OutputFeed&) = delete;

  // Follows job_id: on_output runs for each later publish(), on_end once at end(job_id),
  // after which the subscription is gone. Returns the subscription's id (never 0).
  uint64_t subscribe(const std::string& job_id, OnOutput on_output, OnEnd on_end);
  // Drops a subscription: none of its callbacks runs after this returns. Unknown or
  // already ended ids are ignored. Safe from inside any callback of this feed.
  void unsubscribe(uint64_t id);

  // Hands chunk to every subscriber of job_id. The runner calls it for the bytes it kept
  // (within the output cap), in capture order. A job nobody follows costs one hash lookup.
  // Subscriptions made by a callback during this call do not get this chunk.
  void publish(const std::string& job_id, OutputStream stream, std::string_view chunk);
  // The job reached a terminal state: every subscriber's on_end runs, then they are
  // dropped. Call it once the record says finished or failed (subscribers check that
  // before subscribing) and before the store may prune the record (they may still read
  // it from on_end). Subscriptions made by a callback during this call are not ended.
  void end(const std::string& job_id);

  size_t subscriptions() const { return by_id_.size(); }
  size_t subscriptions(const std::string& job_id) const;

 private:
  struct Subscriber {
    uint64_t id = 0;
    std::string job_id;
    OnOutput on_output;
    OnEnd on_end;
    bool active = true;  // false once unsubscribed or ended: a pending call is skipped
  };
  using SubscriberPtr = std::shared_ptr<Subscriber>;

  uint64_t next_id_ = 1;
  // Callbacks run from copies of these lists; a Subscriber lives while a call needs it,
  // so a callback that unsubscribes itself never destroys the function that is running.
  std::unordered_map<std::string, std::vector<SubscriberPtr>> by_job_;
  std::unordered_map<uint64_t, SubscriberPtr> by_id_;
};

}  // namespace wa::jobs
