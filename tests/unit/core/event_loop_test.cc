#include "core/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>

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
  // Whichever fires first removes the other; the other's queued event must be dropped.
  first = loop.watch(a1.get(), FileEvent::kReadable, [&](uint32_t) {
    ++calls;
    second.reset();
    first.reset();
  });
  second = loop.watch(a2.get(), FileEvent::kReadable, [&](uint32_t) {
    ++calls;
    first.reset();
    second.reset();
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
  auto object = std::make_shared<int>(7);
  std::weak_ptr<int> weak = object;
  loop.post([&] { ran = true; });
  loop.deferredDelete(std::move(object));
  EXPECT_FALSE(weak.expired());
  loop.runOnce(0);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace wa::core

namespace wa::core {
namespace {

// An object whose destructor hands another object to the loop, as a connection or a
// job run may when it is freed.
struct Chained {
  Chained(EventLoop& l, int d, int* count) : loop(l), depth(d), destroyed(count) {}
  ~Chained() {
    ++*destroyed;
    if (depth > 0) loop.deferredDelete(std::make_shared<Chained>(loop, depth - 1, destroyed));
  }
  EventLoop& loop;
  int depth;
  int* destroyed;
};

TEST(EventLoop, DeferredDeleteFromADestructorIsSafe) {
  SystemClock clock;
  EventLoop loop(clock);
  int destroyed = 0;
  for (int i = 0; i < 4; ++i) loop.deferredDelete(std::make_shared<Chained>(loop, 3, &destroyed));
  loop.runOnce(0);
  EXPECT_EQ(destroyed, 16);  // four chains of four, all freed in the same pass
}

}  // namespace
}  // namespace wa::core
