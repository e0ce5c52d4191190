// TimerQueue: the ordered set of pending deadlines behind every Timer.
// It knows nothing of file descriptors, so tests drive it with a ManualClock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include "core/clock.h"
#include "core/deletable.h"

namespace wa::core {

class TimerQueue;

// A one-shot timer. Destroying it cancels it (RAII: no dangling callbacks). It may be
// re-armed or disabled from its own callback, but not freed there (deferredDelete).
class Timer final : public Deletable {
 public:
  Timer(TimerQueue& queue, std::function<void()> callback);
  ~Timer() override;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer to fire once, delay from now. A pending deadline is replaced.
  void enableAfter(Millis delay);
  void disable();
  bool enabled() const { return armed_; }

 private:
  friend class TimerQueue;
  TimerQueue& queue_;
  std::function<void()> callback_;
  std::multimap<MonoTime, Timer*>::iterator position_;
  bool armed_ = false;
  uint64_t arm_sequence_ = 0;  // when it was armed; see TimerQueue::runExpired
};

class TimerQueue {
 public:
  explicit TimerQueue(const Clock& clock) : clock_(clock) {}
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  const Clock& clock() const { return clock_; }
  // The earliest pending deadline, if any.
  std::optional<MonoTime> nextDeadline() const;
  // Fires every timer whose deadline is at or before now. Timers armed by a callback
  // for a deadline that is already due run in a later call, so a zero-delay timer that
  // re-arms itself cannot starve the loop. Returns the number fired.
  int runExpired();
  // Called whenever the earliest deadline may have changed (EventLoop re-arms its timerfd).
  void setOnChange(std::function<void()> on_change) { on_change_ = std::move(on_change); }

 private:
  friend class Timer;
  void arm(Timer* timer, MonoTime deadline);
  void disarm(Timer* timer);

  const Clock& clock_;
  std::multimap<MonoTime, Timer*> pending_;
  const Timer* firing_ = nullptr;  // whose callback is running
  std::function<void()> on_change_;
  uint64_t next_sequence_ = 0;
};

}  // namespace wa::core
