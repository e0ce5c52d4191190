// EventLoop: the daemon's single reactor. One epoll set (level-triggered) carries every
// file descriptor; one timerfd carries every Timer; post() runs work after the current
// batch of events, and deferredDelete() frees objects there, never inside their own callback.
// The lifetime rules every user follows are in docs/WORKER_ARCHITECTURE.md ("Lifetimes").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/clock.h"
#include "core/deletable.h"
#include "core/timer_queue.h"
#include "core/unique_fd.h"

namespace wa::core {

class EventLoop;

// Interest in one file descriptor. Destroying it removes the fd from the epoll set
// (the fd itself stays open: its owner closes it). It may be destroyed from any callback
// but its own: an owner that ends inside it hands itself to deferredDelete.
class FileEvent final : public Deletable {
 public:
  enum : uint32_t { kReadable = 1, kWritable = 2 };
  using Callback = std::function<void(uint32_t ready)>;

  FileEvent(EventLoop& loop, int fd, uint32_t interest, Callback callback);
  ~FileEvent() override;
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

  // Runs fn after the current batch of events, in the order posted. Work posted while the
  // posted work runs waits for the next pass, after the next epoll_wait, so a chain of
  // posts cannot starve the sockets and timers.
  void post(std::function<void()> fn);
  // Destroys object after the current batch of events and its posted work, in the order
  // handed over (objects a destructor hands over go after them, in the same pass).
  void deferredDelete(DeletablePtr object);

  // Runs until stop(). epoll failing is fatal (it only fails on a broken invariant).
  void run();
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
  void runPosted();
  void runDeferredDeletes();

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
  // The watcher whose callback is running (asserts that it is not freed meanwhile).
  const FileEvent* dispatching_ = nullptr;
  std::vector<std::function<void()>> posted_;
  std::vector<DeletablePtr> graveyard_;
};

}  // namespace wa::core
