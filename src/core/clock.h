// Clock: the single source of time. Deadlines use the monotonic clock so that
// wall-clock jumps never fire or stall timers; wall time is only for display.
#pragma once

#include <chrono>
#include <cstdint>

namespace wa::core {

using MonoTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic now (CLOCK_MONOTONIC).
  virtual MonoTime now() const = 0;
  // Wall-clock now in milliseconds since the Unix epoch (for timestamps shown to users).
  virtual int64_t wallMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
  int64_t wallMillis() const override {
    return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock tests move by hand.
class ManualClock final : public Clock {
 public:
  MonoTime now() const override { return now_; }
  int64_t wallMillis() const override { return wall_; }
  void advance(Millis d) {
    now_ += d;
    wall_ += d.count();
  }

 private:
  MonoTime now_{};
  int64_t wall_ = 1'700'000'000'000;
};

}  // namespace wa::core
