// EventLoop: the daemon's single reactor. One epoll set (level-triggered) carries every
// file descriptor; one timerfd carries every Timer; post() runs work after the current
// batch of events, and deferredDelete() frees objects there, never inside their own callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/clock.h"
#include "core/timer_queue.h"
#include "core/unique_fd.h"

namespace wa::core {

class EventLoop;

// Interest in one file descriptor. Destroying it removes the fd from the epoll set
// (the fd itself stays open: its owner closes it).
class FileEvent {
 public:
  enum : uint32_t { kReadable = 1, kWritable = 2 };
  using Callback = std::function<void(uint32_t ready)>;

  FileEvent(EventLoop& loop, int fd, uint32_t interest, Callback callback);
  ~FileEvent();
  FileEvent(const FileEvent&) = delete;
  FileEvent& operator=(const FileEvent&) = delete;

  // Changes the interest set with EPOLL_CTL_MOD (skipped when unchanged).
  void setInterest(uint32_t interest);
  uint32_t interest() const { return interest_; }
  int fd() const { return fd_; }

 private:
  friend class EventLoop;
  EventLoop& loop_;
  int fd_;
  uint32_t interest_;
  Callback callback_;
};

class EventLoop {
 public:
  explicit EventLoop(const Clock& clock);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches fd. Errors and hang-ups are reported as both readable and writable, so the
  // owner's read or write sees the error. A closed-then-reused fd must get a new FileEvent.
  std::unique_ptr<FileEvent> watch(int fd, uint32_t interest, FileEvent::Callback callback);
  std::unique_ptr<Timer> createTimer(std::function<void()> callback);

  // Runs fn after the current batch of events (FIFO).
  void post(std::function<void()> fn);
  // Keeps object alive until the current batch of events is over.
  void deferredDelete(std::shared_ptr<void> object);

  // Runs until stop(). Returns false if epoll itself failed.
  bool run();
  void stop() { running_ = false; }
  // One iteration, waiting at most max_wait_ms for events (-1 = until a timer or event).
  void runOnce(int max_wait_ms);

  const Clock& clock() const { return timers_.clock(); }
  TimerQueue& timers() { return timers_; }

 private:
  friend class FileEvent;
  void add(FileEvent* event);
  void modify(FileEvent* event);
  void remove(FileEvent* event);
  void rearmTimerFd();
  void runDeferred();

  TimerQueue timers_;
  UniqueFd epoll_fd_;
  UniqueFd timer_fd_;
  bool timer_fd_dirty_ = true;
  // The deadline the timerfd is set for; nullopt when it is disarmed.
  std::optional<MonoTime> timer_fd_deadline_;
  bool running_ = false;
  // Indexed by fd: the watcher currently registered. Looked up at dispatch so that an
  // event for a watcher destroyed earlier in the same batch is dropped, not dereferenced.
  std::vector<FileEvent*> watchers_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::shared_ptr<void>> graveyard_;
};

}  // namespace wa::core
