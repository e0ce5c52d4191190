#include "core/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "core/assert.h"
#include "core/liveness.h"

namespace wa::core {
namespace {

TEST(EventLoop, DeliversReadinessAndTimers) {
  SystemClock clock;
  EventLoop loop(clock);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  UniqueFd a(fds[0]), b(fds[1]);
  int reads = 0;
  auto watcher = loop.watch(a.get(), FileEvent::kReadable, [&](uint32_t ready) {
    EXPECT_TRUE(ready & FileEvent::kReadable);
    char buf[8];
    while (::read(a.get(), buf, sizeof buf) > 0) {
    }
    ++reads;
  });
  bool timer_fired = false;
  auto timer = loop.createTimer([&] { timer_fired = true; });
  timer->enableAfter(Millis(5));
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  for (int i = 0; i < 50 && (!timer_fired || reads == 0); ++i) loop.runOnce(10);
  EXPECT_EQ(reads, 1);
  EXPECT_TRUE(timer_fired);
}

TEST(EventLoop, StaleEventForAWatcherRemovedInTheSameBatchIsDropped) {
  SystemClock clock;
  EventLoop loop(clock);
  int p1[2], p2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p1), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p2), 0);
  UniqueFd a1(p1[0]), b1(p1[1]), a2(p2[0]), b2(p2[1]);
  std::unique_ptr<FileEvent> first, second;
  int calls = 0;
  // Whichever fires first removes the other (and hands itself to deferredDelete: it may
  // not free itself); the other's queued event must be dropped.
  first = loop.watch(a1.get(), FileEvent::kReadable, [&](uint32_t) {
    ++calls;
    second.reset();
    loop.deferredDelete(std::move(first));
  });
  second = loop.watch(a2.get(), FileEvent::kReadable, [&](uint32_t) {
    ++calls;
    first.reset();
    loop.deferredDelete(std::move(second));
  });
  ASSERT_EQ(::write(b1.get(), "x", 1), 1);
  ASSERT_EQ(::write(b2.get(), "x", 1), 1);
  loop.runOnce(100);
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, PostedWorkAndDeferredDeleteRunAfterTheBatch) {
  SystemClock clock;
  EventLoop loop(clock);
  bool ran = false;
  bool freed = false;
  struct Flagged final : Deletable {
    explicit Flagged(bool* f) : freed(f) {}
    ~Flagged() override { *freed = true; }
    bool* freed;
  };
  loop.post([&] { ran = true; });
  loop.deferredDelete(std::make_unique<Flagged>(&freed));
  EXPECT_FALSE(freed);
  loop.runOnce(0);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(freed);
}

}  // namespace
}  // namespace wa::core

namespace wa::core {
namespace {

// An object whose destructor hands another object to the loop, as a connection or a
// job run may when it is freed.
struct Chained final : Deletable {
  Chained(EventLoop& l, int d, int* count) : loop(l), depth(d), destroyed(count) {}
  ~Chained() override {
    ++*destroyed;
    if (depth > 0) loop.deferredDelete(std::make_unique<Chained>(loop, depth - 1, destroyed));
  }
  EventLoop& loop;
  int depth;
  int* destroyed;
};

TEST(EventLoop, DeferredDeleteFromADestructorIsSafe) {
  SystemClock clock;
  EventLoop loop(clock);
  int destroyed = 0;
  for (int i = 0; i < 4; ++i) loop.deferredDelete(std::make_unique<Chained>(loop, 3, &destroyed));
  loop.runOnce(0);
  EXPECT_EQ(destroyed, 16);  // four chains of four, all freed in the same pass
}

}  // namespace
}  // namespace wa::core

namespace wa::core {
namespace {

TEST(EventLoop, WorkPostedByPostedWorkWaitsForTheNextPass) {
  SystemClock clock;
  EventLoop loop(clock);
  std::vector<int> order;
  loop.post([&] {
    order.push_back(1);
    loop.post([&] { order.push_back(3); });
  });
  loop.post([&] { order.push_back(2); });
  loop.runOnce(0);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  loop.runOnce(0);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoop, DeferredDeletesRunInTheOrderHandedOver) {
  SystemClock clock;
  EventLoop loop(clock);
  std::vector<int> order;
  struct Numbered final : Deletable {
    Numbered(int n, std::vector<int>* o) : number(n), order(o) {}
    ~Numbered() override { order->push_back(number); }
    int number;
    std::vector<int>* order;
  };
  for (int i = 0; i < 5; ++i) loop.deferredDelete(std::make_unique<Numbered>(i, &order));
  loop.runOnce(0);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Liveness, AWatchTellsWhetherItsObjectStillExists) {
  Liveness::Watch watch;
  EXPECT_FALSE(watch.alive());
  {
    Liveness liveness;
    watch = liveness.watch();
    EXPECT_TRUE(watch.alive());
  }
  EXPECT_FALSE(watch.alive());
  Liveness ended_early;
  Liveness::Watch early = ended_early.watch();
  ended_early.end();
  EXPECT_TRUE(ended_early.ended());
  EXPECT_FALSE(early.alive());
}

#if WA_ASSERTIONS_ON
TEST(EventLoopDeathTest, ATimerFreedInsideItsOwnCallbackIsCaught) {
  EXPECT_DEATH(
      {
        SystemClock clock;
        EventLoop loop(clock);
        std::unique_ptr<Timer> timer;
        timer = loop.createTimer([&] { timer.reset(); });
        timer->enableAfter(Millis(0));
        loop.runOnce(100);
      },
      "assertion failed");
}

TEST(EventLoopDeathTest, AFileEventFreedInsideItsOwnCallbackIsCaught) {
  EXPECT_DEATH(
      {
        SystemClock clock;
        EventLoop loop(clock);
        int p[2];
        if (::pipe(p) != 0) std::abort();
        UniqueFd read_end(p[0]);
        UniqueFd write_end(p[1]);
        std::unique_ptr<FileEvent> event;
        event = loop.watch(read_end.get(), FileEvent::kReadable, [&](uint32_t) { event.reset(); });
        if (::write(write_end.get(), "x", 1) != 1) std::abort();
        loop.runOnce(100);
      },
      "assertion failed");
}
#endif

}  // namespace
}  // namespace wa::core
