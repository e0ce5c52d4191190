#include "core/timer_queue.h"

#include "core/assert.h"

namespace wa::core {

Timer::Timer(TimerQueue& queue, std::function<void()> callback)
    : queue_(queue), callback_(std::move(callback)) {}

Timer::~Timer() {
  WA_ASSERT(queue_.firing_ != this,
            "a Timer freed inside its own callback: its owner must use deferredDelete");
  disable();
}

void Timer::enableAfter(Millis delay) {
  if (delay.count() < 0) delay = Millis(0);
  queue_.arm(this, queue_.clock().now() + delay);
}

void Timer::disable() {
  if (armed_) queue_.disarm(this);
}

void TimerQueue::arm(Timer* timer, MonoTime deadline) {
  if (timer->armed_) pending_.erase(timer->position_);
  timer->position_ = pending_.emplace(deadline, timer);
  timer->arm_sequence_ = next_sequence_++;
  timer->armed_ = true;
  if (on_change_) on_change_();
}

void TimerQueue::disarm(Timer* timer) {
  pending_.erase(timer->position_);
  timer->armed_ = false;
  if (on_change_) on_change_();
}

std::optional<MonoTime> TimerQueue::nextDeadline() const {
  if (pending_.empty()) return std::nullopt;
  return pending_.begin()->first;
}

int TimerQueue::runExpired() {
  const MonoTime now = clock_.now();
  // Timers armed from inside a callback carry a newer sequence and wait for the next
  // call; without this a zero-delay timer that re-arms itself would spin forever.
  const uint64_t batch_limit = next_sequence_;
  int fired = 0;
  for (;;) {
    // Restart from the front each time: a callback may destroy or re-arm any timer.
    auto it = pending_.begin();
    while (it != pending_.end() && it->first <= now && it->second->arm_sequence_ >= batch_limit) {
      ++it;
    }
    if (it == pending_.end() || it->first > now) break;
    Timer* timer = it->second;
    pending_.erase(it);
    timer->armed_ = false;
    ++fired;
    firing_ = timer;
    timer->callback_();
    firing_ = nullptr;
  }
  if (fired > 0 && on_change_) on_change_();
  return fired;
}

}  // namespace wa::core
