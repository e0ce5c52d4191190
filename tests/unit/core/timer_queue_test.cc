#include "core/timer_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace wa::core {
namespace {

TEST(TimerQueue, FiresInDeadlineOrderOnlyWhenDue) {
  ManualClock clock;
  TimerQueue queue(clock);
  std::vector<int> fired;
  Timer a(queue, [&] { fired.push_back(1); });
  Timer b(queue, [&] { fired.push_back(2); });
  a.enableAfter(Millis(20));
  b.enableAfter(Millis(10));
  EXPECT_EQ(queue.runExpired(), 0);
  clock.advance(Millis(10));
  EXPECT_EQ(queue.runExpired(), 1);
  clock.advance(Millis(10));
  EXPECT_EQ(queue.runExpired(), 1);
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
  EXPECT_FALSE(queue.nextDeadline().has_value());
}

TEST(TimerQueue, DestroyedAndDisabledTimersNeverFire) {
  ManualClock clock;
  TimerQueue queue(clock);
  int fired = 0;
  auto a = std::make_unique<Timer>(queue, [&] { ++fired; });
  Timer b(queue, [&] { ++fired; });
  a->enableAfter(Millis(1));
  b.enableAfter(Millis(1));
  a.reset();
  b.disable();
  clock.advance(Millis(5));
  EXPECT_EQ(queue.runExpired(), 0);
  EXPECT_EQ(fired, 0);
}

TEST(TimerQueue, CallbackMayDestroyAnotherDueTimer) {
  ManualClock clock;
  TimerQueue queue(clock);
  std::unique_ptr<Timer> victim;
  int victim_fired = 0;
  Timer killer(queue, [&] { victim.reset(); });
  victim = std::make_unique<Timer>(queue, [&] { ++victim_fired; });
  killer.enableAfter(Millis(1));
  victim->enableAfter(Millis(2));
  clock.advance(Millis(3));
  EXPECT_EQ(queue.runExpired(), 1);
  EXPECT_EQ(victim_fired, 0);
}

TEST(TimerQueue, ZeroDelayRearmWaitsForTheNextRun) {
  ManualClock clock;
  TimerQueue queue(clock);
  int fired = 0;
  std::unique_ptr<Timer> t;
  t = std::make_unique<Timer>(queue, [&] {
    ++fired;
    t->enableAfter(Millis(0));
  });
  t->enableAfter(Millis(0));
  EXPECT_EQ(queue.runExpired(), 1);  // would spin forever without the batch limit
  EXPECT_EQ(queue.runExpired(), 1);
  EXPECT_EQ(fired, 2);
}

TEST(TimerQueue, RearmMovesTheDeadline) {
  ManualClock clock;
  TimerQueue queue(clock);
  int fired = 0;
  Timer t(queue, [&] { ++fired; });
  t.enableAfter(Millis(5));
  t.enableAfter(Millis(50));
  clock.advance(Millis(10));
  EXPECT_EQ(queue.runExpired(), 0);
  clock.advance(Millis(40));
  EXPECT_EQ(queue.runExpired(), 1);
}

}  // namespace
}  // namespace wa::core
