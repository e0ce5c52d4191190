#include "jobs/output_feed.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wa::jobs {
namespace {

// Records what one subscriber saw, as "out:bytes", "err:bytes" and "end".
struct Recorder {
  std::vector<std::string> seen;
  OutputFeed::OnOutput output() {
    return [this](OutputStream stream, std::string_view chunk) {
      seen.push_back(std::string(stream == OutputStream::kStdout ? "out:" : "err:") +
                     std::string(chunk));
    };
  }
  OutputFeed::OnEnd end() {
    return [this] { seen.push_back("end"); };
  }
};

TEST(OutputFeedTest, SubscribersGetTheirJobsChunksInOrderThenTheEnd) {
  OutputFeed feed;
  Recorder a, b, other;
  const uint64_t ida = feed.subscribe("job-1", a.output(), a.end());
  const uint64_t idb = feed.subscribe("job-1", b.output(), b.end());
  feed.subscribe("job-2", other.output(), other.end());
  EXPECT_NE(ida, 0u);
  EXPECT_NE(ida, idb);
  EXPECT_EQ(feed.subscriptions("job-1"), 2u);
  feed.publish("job-1", OutputStream::kStdout, "one");
  feed.publish("job-1", OutputStream::kStderr, "two");
  feed.publish("job-9", OutputStream::kStdout, "nobody");
  feed.publish("job-1", OutputStream::kStdout, std::string_view("\0\xff", 2));
  feed.end("job-1");
  const std::vector<std::string> expected = {"out:one", "err:two", std::string("out:\0\xff", 6),
                                             "end"};
  EXPECT_EQ(a.seen, expected);
  EXPECT_EQ(b.seen, expected);
  EXPECT_TRUE(other.seen.empty());
  // Ended subscriptions are gone: later chunks and a second end reach nobody.
  EXPECT_EQ(feed.subscriptions("job-1"), 0u);
  EXPECT_EQ(feed.subscriptions(), 1u);
  feed.publish("job-1", OutputStream::kStdout, "late");
  feed.end("job-1");
  EXPECT_EQ(a.seen.size(), expected.size());
  feed.unsubscribe(ida);  // an ended id is ignored
}

TEST(OutputFeedTest, UnsubscribeStopsEverything) {
  OutputFeed feed;
  Recorder a;
  const uint64_t id = feed.subscribe("job-1", a.output(), a.end());
  feed.publish("job-1", OutputStream::kStdout, "x");
  feed.unsubscribe(id);
  feed.unsubscribe(id);
  feed.unsubscribe(12345);
  feed.publish("job-1", OutputStream::kStdout, "y");
  feed.end("job-1");
  EXPECT_EQ(a.seen, std::vector<std::string>{"out:x"});
  EXPECT_EQ(feed.subscriptions(), 0u);
}

TEST(OutputFeedTest, CallbacksMayUnsubscribeThemselvesAndOthersDuringPublish) {
  OutputFeed feed;
  std::vector<std::string> seen;
  uint64_t first = 0, second = 0, third = 0;
  // The first unsubscribes itself and the third; the second stays.
  first = feed.subscribe(
      "job",
      [&](OutputStream, std::string_view chunk) {
        seen.push_back("1:" + std::string(chunk));
        feed.unsubscribe(first);
        feed.unsubscribe(third);
      },
      nullptr);
  second = feed.subscribe(
      "job",
      [&](OutputStream, std::string_view chunk) { seen.push_back("2:" + std::string(chunk)); },
      [&] { seen.push_back("2:end"); });
  third = feed.subscribe(
      "job",
      [&](OutputStream, std::string_view chunk) { seen.push_back("3:" + std::string(chunk)); },
      [&] { seen.push_back("3:end"); });
  feed.publish("job", OutputStream::kStdout, "a");
  feed.publish("job", OutputStream::kStdout, "b");
  feed.end("job");
  EXPECT_EQ(seen, (std::vector<std::string>{"1:a", "2:a", "2:b", "2:end"}));
  EXPECT_EQ(feed.subscriptions(), 0u);
  (void)second;
}

TEST(OutputFeedTest, SubscribingDuringPublishStartsWithTheNextChunk) {
  OutputFeed feed;
  Recorder late;
  bool subscribed = false;
  feed.subscribe(
      "job",
      [&](OutputStream, std::string_view) {
        if (!subscribed) feed.subscribe("job", late.output(), late.end());
        subscribed = true;
      },
      nullptr);
  feed.publish("job", OutputStream::kStdout, "first");
  feed.publish("job", OutputStream::kStderr, "second");
  feed.end("job");
  EXPECT_EQ(late.seen, (std::vector<std::string>{"err:second", "end"}));
}

TEST(OutputFeedTest, OnEndMayUnsubscribeOthersWhoseEndIsThenSkipped) {
  OutputFeed feed;
  std::vector<std::string> seen;
  uint64_t second = 0;
  feed.subscribe("job", nullptr, [&] {
    seen.push_back("1:end");
    feed.unsubscribe(second);
  });
  second = feed.subscribe("job", nullptr, [&] { seen.push_back("2:end"); });
  uint64_t third = 0;
  third = feed.subscribe("job", nullptr, [&] {
    seen.push_back("3:end");
    feed.unsubscribe(third);  // itself, already ended: harmless
  });
  feed.end("job");
  EXPECT_EQ(seen, (std::vector<std::string>{"1:end", "3:end"}));
  EXPECT_EQ(feed.subscriptions(), 0u);
}

TEST(OutputFeedTest, ACallbackMayOwnWhatItsUnsubscribeDestroys) {
  // The callback's captured state is destroyed by the unsubscribe inside it; the feed
  // keeps the function alive until the call returns (checked under ASan).
  OutputFeed feed;
  auto payload = std::make_shared<std::string>("captured");
  std::string copy;
  uint64_t id = 0;
  id = feed.subscribe(
      "job",
      [&feed, &id, &copy, payload](OutputStream, std::string_view) {
        feed.unsubscribe(id);
        copy = *payload;
      },
      nullptr);
  payload.reset();
  feed.publish("job", OutputStream::kStdout, "x");
  EXPECT_EQ(copy, "captured");
}

TEST(OutputFeedTest, StreamNames) {
  EXPECT_STREQ(outputStreamName(OutputStream::kStdout), "stdout");
  EXPECT_STREQ(outputStreamName(OutputStream::kStderr), "stderr");
}

}  // namespace
}  // namespace wa::jobs
