#include "docker/stream_demux.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "docker/fake_engine.h"

namespace wa::docker {
namespace {

using testing::frame;

struct Collected {
  std::string out;
  std::string err;
  std::vector<std::pair<StreamKind, std::string>> chunks;
};

StreamDemux::Sink sinkInto(Collected& c) {
  return [&c](StreamKind kind, std::string_view data) {
    (kind == StreamKind::kStderr ? c.err : c.out).append(data);
    c.chunks.emplace_back(kind, std::string(data));
  };
}

TEST(StreamDemux, SplitsStdoutAndStderr) {
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_TRUE(demux.feed(frame(1, "hello ") + frame(2, "oops") + frame(1, "world")));
  EXPECT_EQ(c.out, "hello world");
  EXPECT_EQ(c.err, "oops");
  EXPECT_TRUE(demux.atFrameBoundary());
}

TEST(StreamDemux, TypeZeroIsTreatedAsStdout) {
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_TRUE(demux.feed(frame(0, "in")));
  EXPECT_EQ(c.out, "in");
}

TEST(StreamDemux, SplitAtEveryByteGivesTheSameStreams) {
  const std::string stream = frame(1, "abc") + frame(2, "") + frame(2, "error text") +
                             frame(1, std::string(300, 'x')) + frame(1, "z");
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    Collected c;
    StreamDemux demux(sinkInto(c));
    ASSERT_TRUE(demux.feed(std::string_view(stream).substr(0, cut)));
    ASSERT_TRUE(demux.feed(std::string_view(stream).substr(cut)));
    EXPECT_EQ(c.out, "abc" + std::string(300, 'x') + "z") << "cut at " << cut;
    EXPECT_EQ(c.err, "error text") << "cut at " << cut;
    EXPECT_TRUE(demux.atFrameBoundary());
  }
}

TEST(StreamDemux, OneByteAtATime) {
  const std::string stream = frame(2, "e1") + frame(1, "o1") + frame(2, "e2");
  Collected c;
  StreamDemux demux(sinkInto(c));
  for (char ch : stream) ASSERT_TRUE(demux.feed(std::string_view(&ch, 1)));
  EXPECT_EQ(c.out, "o1");
  EXPECT_EQ(c.err, "e1e2");
  EXPECT_TRUE(demux.atFrameBoundary());
}

TEST(StreamDemux, ManyFramesInOneFeed) {
  std::string stream, expected_out, expected_err;
  for (int i = 0; i < 1000; ++i) {
    const std::string payload = std::to_string(i) + ",";
    stream += frame(i % 3 == 0 ? 2 : 1, payload);
    (i % 3 == 0 ? expected_err : expected_out) += payload;
  }
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_TRUE(demux.feed(stream));
  EXPECT_EQ(c.out, expected_out);
  EXPECT_EQ(c.err, expected_err);
}

TEST(StreamDemux, ZeroLengthFramesProduceNothing) {
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_TRUE(demux.feed(frame(1, "") + frame(2, "") + frame(1, "")));
  EXPECT_TRUE(c.chunks.empty());
  EXPECT_TRUE(demux.atFrameBoundary());
}

TEST(StreamDemux, LargeLengthUsesAllFourBytes) {
  const std::string payload(70000, 'q');  // needs the third length byte
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_TRUE(demux.feed(frame(1, payload)));
  EXPECT_EQ(c.out, payload);
}

TEST(StreamDemux, NotAtBoundaryMidHeaderOrMidPayload) {
  Collected c;
  StreamDemux demux(sinkInto(c));
  const std::string f = frame(1, "abcd");
  EXPECT_TRUE(demux.feed(f.substr(0, 3)));
  EXPECT_FALSE(demux.atFrameBoundary());
  EXPECT_TRUE(demux.feed(f.substr(3, 7)));
  EXPECT_FALSE(demux.atFrameBoundary());
  EXPECT_TRUE(demux.feed(f.substr(10)));
  EXPECT_TRUE(demux.atFrameBoundary());
  EXPECT_EQ(c.out, "abcd");
}

TEST(StreamDemux, UnknownStreamTypeFailsAndStaysFailed) {
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_FALSE(demux.feed(frame(3, "x")));
  EXPECT_FALSE(demux.feed(frame(1, "late")));
  EXPECT_FALSE(demux.atFrameBoundary());
  EXPECT_TRUE(c.out.empty());
}

TEST(StreamDemux, NonZeroPaddingFails) {
  for (int i = 1; i <= 3; ++i) {
    std::string bad = frame(1, "x");
    bad[i] = 1;
    Collected c;
    StreamDemux demux(sinkInto(c));
    EXPECT_FALSE(demux.feed(bad)) << "padding byte " << i;
  }
}

TEST(StreamDemux, PlainTextIsRejected) {
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_FALSE(demux.feed("hello world\n"));  // a TTY stream is not multiplexed
}

TEST(StreamDemux, OutputBeforeABadFrameIsDelivered) {
  Collected c;
  StreamDemux demux(sinkInto(c));
  EXPECT_FALSE(demux.feed(frame(1, "good") + frame(9, "bad")));
  EXPECT_EQ(c.out, "good");
}

}  // namespace
}  // namespace wa::docker
