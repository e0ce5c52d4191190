#include "core/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/assert.h"
#include "core/log.h"

namespace wa::core {
namespace {

uint32_t toEpoll(uint32_t interest) {
  uint32_t events = 0;
  if (interest & FileEvent::kReadable) events |= EPOLLIN | EPOLLRDHUP;
  if (interest & FileEvent::kWritable) events |= EPOLLOUT;
  return events;
}

[[noreturn]] void fatal(const char* what) {
  logError("fatal: ", what, ": ", std::strerror(errno));
  std::abort();
}

}  // namespace

FileEvent::FileEvent(EventLoop& loop, int fd, uint32_t interest, Callback callback)
    : loop_(loop), fd_(fd), interest_(interest), callback_(std::move(callback)) {
  loop_.add(this);
}

FileEvent::~FileEvent() {
  WA_ASSERT(loop_.dispatching_ != this,
            "a FileEvent freed inside its own callback: its owner must use deferredDelete");
  loop_.remove(this);
}

void FileEvent::setInterest(uint32_t interest) {
  if (interest == interest_) return;
  interest_ = interest;
  loop_.modify(this);
}

EventLoop::EventLoop(const Clock& clock)
    : timers_(clock),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      timer_fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!epoll_fd_) fatal("epoll_create1");
  if (!timer_fd_) fatal("timerfd_create");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = timer_fd_.get();
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, timer_fd_.get(), &ev) != 0) fatal("epoll_ctl");
  timers_.setOnChange([this] { timer_fd_dirty_ = true; });
}

EventLoop::~EventLoop() {
  timers_.setOnChange(nullptr);
  runDeferredDeletes();
}

std::unique_ptr<FileEvent> EventLoop::watch(int fd, uint32_t interest,
                                            FileEvent::Callback callback) {
  return std::make_unique<FileEvent>(*this, fd, interest, std::move(callback));
}

std::unique_ptr<Timer> EventLoop::createTimer(std::function<void()> callback) {
  return std::make_unique<Timer>(timers_, std::move(callback));
}

void EventLoop::post(std::function<void()> fn) { posted_.push_back(std::move(fn)); }

void EventLoop::deferredDelete(DeletablePtr object) {
  WA_ASSERT(object != nullptr, "deferredDelete of nothing");
  graveyard_.push_back(std::move(object));
}

void EventLoop::add(FileEvent* event) {
  const int fd = event->fd_;
  if (fd < 0) std::abort();
  if (static_cast<size_t>(fd) >= watchers_.size()) watchers_.resize(fd + 1, nullptr);
  if (watchers_[fd] != nullptr) {
    logError("fatal: fd ", fd, " watched twice");
    std::abort();
  }
  epoll_event ev{};
  ev.events = toEpoll(event->interest_);
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) fatal("epoll_ctl ADD");
  watchers_[fd] = event;
}

void EventLoop::modify(FileEvent* event) {
  epoll_event ev{};
  ev.events = toEpoll(event->interest_);
  ev.data.fd = event->fd_;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, event->fd_, &ev) != 0) fatal("epoll_ctl MOD");
}

void EventLoop::remove(FileEvent* event) {
  const int fd = event->fd_;
  // ENOENT/EBADF: the owner closed the fd first, which drops it from the set anyway.
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT &&
      errno != EBADF) {
    fatal("epoll_ctl DEL");
  }
  if (static_cast<size_t>(fd) < watchers_.size() && watchers_[fd] == event) watchers_[fd] = nullptr;
}

void EventLoop::rearmTimerFd() {
  timer_fd_dirty_ = false;
  const std::optional<MonoTime> next = timers_.nextDeadline();
  // Most changes (a connection's idle timeout pushed back on each request) leave the
  // earliest deadline where it was: the timerfd is already set for it.
  if (next == timer_fd_deadline_) return;
  timer_fd_deadline_ = next;
  itimerspec spec{};
  if (auto deadline = next) {
    auto delta = *deadline - clock().now();
    // A zero it_value disarms a timerfd, so a due deadline is clamped to 1 ns.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(delta).count();
    if (ns < 1) ns = 1;
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
  }
  if (::timerfd_settime(timer_fd_.get(), 0, &spec, nullptr) != 0) fatal("timerfd_settime");
}

void EventLoop::runPosted() {
  // Moved out first: what this work posts goes to the next pass (Envoy's runPostCallbacks).
  std::vector<std::function<void()>> batch;
  batch.swap(posted_);
  for (auto& fn : batch) fn();
}

void EventLoop::runDeferredDeletes() {
  // A destructor may hand the loop more objects to free: move the batch out first so that
  // the vector is never modified while it is being destroyed, and free in FIFO order.
  while (!graveyard_.empty()) {
    std::vector<DeletablePtr> batch;
    batch.swap(graveyard_);
    for (DeletablePtr& object : batch) object.reset();
  }
}

void EventLoop::runOnce(int max_wait_ms) {
  if (timer_fd_dirty_) rearmTimerFd();
  int wait_ms = max_wait_ms;
  if (!posted_.empty() || !graveyard_.empty()) wait_ms = 0;
  epoll_event events[128];
  int n = ::epoll_wait(epoll_fd_.get(), events, 128, wait_ms);
  if (n < 0) {
    if (errno == EINTR) return;
    fatal("epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == timer_fd_.get()) {
      uint64_t expirations;
      // EAGAIN is fine: the deadline may have been moved after the event was queued.
      [[maybe_unused]] ssize_t r = ::read(fd, &expirations, sizeof expirations);
      // A one-shot timerfd that fired is disarmed: whatever is due next must set it again.
      timer_fd_deadline_.reset();
      timer_fd_dirty_ = true;
      timers_.runExpired();
      continue;
    }
    // An already processed event may have removed (or replaced) the watcher that fired.
    if (static_cast<size_t>(fd) >= watchers_.size() || watchers_[fd] == nullptr) continue;
    FileEvent* watcher = watchers_[fd];
    uint32_t ready = 0;
    const uint32_t e = events[i].events;
    if (e & (EPOLLIN | EPOLLRDHUP)) ready |= FileEvent::kReadable;
    if (e & EPOLLOUT) ready |= FileEvent::kWritable;
    if (e & (EPOLLERR | EPOLLHUP)) ready |= FileEvent::kReadable | FileEvent::kWritable;
    ready &= watcher->interest_ | ((e & (EPOLLERR | EPOLLHUP)) ? FileEvent::kReadable : 0u);
    if (ready) {
      dispatching_ = watcher;
      watcher->callback_(ready);
      dispatching_ = nullptr;
    }
  }
  // Timers may also be due without the timerfd having fired yet in this batch.
  timers_.runExpired();
  runPosted();
  runDeferredDeletes();
}

void EventLoop::run() {
  running_ = true;
  while (running_) runOnce(-1);
  runPosted();
  runDeferredDeletes();
}

}  // namespace wa::core
