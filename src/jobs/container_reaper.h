// ContainerReaper: removes the containers nobody else will: those whose removal failed at
// the end of their run (tried again every retry interval, and at once when the engine is
// back), and, on request, every container carrying a label (the start-up sweep of what a
// previous run of the worker left, the last sweep at shutdown). Shared by the runner and
// the daemon so that both go through one set of requests and one retry timer.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/liveness.h"
#include "core/request_handle.h"
#include "jobs/container_engine.h"

namespace wa::jobs {

class ContainerReaper {
 public:
  ContainerReaper(core::EventLoop& loop, ContainerEngine& engine, core::Millis retry_interval);
  ContainerReaper(const ContainerReaper&) = delete;
  ContainerReaper& operator=(const ContainerReaper&) = delete;

  // Removes id until that succeeds: now, then every retry interval.
  void removeLater(const std::string& id);
  // Tries the pending removals now rather than at the next retry (the engine is back).
  void retryNow();
  // Containers whose removal failed and is being retried.
  size_t pending() const { return pending_.size(); }

  // Removes id (a container of this worker no job claims) now, and again later until that
  // succeeds (removeLater's retries).
  void remove(const std::string& id);
  // Removes every container carrying label ("key=value") except those keep() claims, then
  // calls done(listed): whether the engine listed them (a removal that fails is logged
  // and retried like removeLater). done runs later, on the loop, unless the reaper is
  // destroyed first. One sweep at a time: a sweep asked for during another replaces it.
  void sweep(const std::string& label, std::function<bool(const std::string& id)> keep,
             std::function<void(bool listed)> done);

 private:
  // success: the log line once it is removed.
  void removeOne(const std::string& id, const char* success);
  void armRetry();

  core::EventLoop& loop_;
  ContainerEngine& engine_;
  core::Millis retry_interval_;
  // Removals still owed: the request in flight, or an empty handle between tries.
  std::unordered_map<std::string, core::RequestHandle> pending_;
  std::unique_ptr<core::Timer> retry_timer_;
  core::RequestHandle sweep_list_;
  // The sweep's own removals; when the last answers, its done runs.
  std::unordered_map<std::string, core::RequestHandle> sweeping_;
  std::function<void(bool)> sweep_done_;
};

}  // namespace wa::jobs
