#include "docker/attach_stream.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "docker/docker_client.h"
#include "docker/fake_engine.h"

namespace wa::docker {
namespace {

using namespace std::chrono_literals;
using testing::FakeEngine;
using testing::FakeReply;
using testing::FakeRequest;
using testing::frame;
using testing::runFor;
using testing::runUntil;

// What one attach stream reported, in order.
struct Record {
  std::vector<std::string> events;  // "attached", "closed", "closed:<status>:<message>"
  std::string out;
  std::string err;
  int closed = 0;
  std::optional<DockerError> error;
};

AttachStream::Callbacks recordInto(Record& rec) {
  AttachStream::Callbacks cb;
  cb.on_attached = [&rec] { rec.events.push_back("attached"); };
  cb.on_output = [&rec](StreamKind kind, std::string_view data) {
    if (rec.events.empty() || rec.events.back() != "output") rec.events.push_back("output");
    (kind == StreamKind::kStderr ? rec.err : rec.out).append(data);
  };
  cb.on_closed = [&rec](std::optional<DockerError> error) {
    ++rec.closed;
    rec.error = std::move(error);
    rec.events.push_back(rec.error ? "closed:" + std::to_string(rec.error->http_status) + ":" +
                                         rec.error->message
                                   : "closed");
  };
  return cb;
}

// Like `cat`: echoes stdin as one stdout frame once stdin is closed, plus a stderr note.
FakeReply catReply(std::string first_output = "") {
  FakeReply reply;
  reply.hijack = true;
  reply.after_head = std::move(first_output);
  reply.on_stdin_eof = [](const std::string& in) { return frame(1, in) + frame(2, "done"); };
  return reply;
}

class AttachStreamTest : public ::testing::Test {
 protected:
  core::SystemClock clock;
  core::EventLoop loop{clock};
  FakeEngine engine{loop};
  std::unique_ptr<DockerClient> docker = std::make_unique<DockerClient>(loop, engine.dockerHost());
  Record rec;
};

TEST_F(AttachStreamTest, StdinOutHalfCloseThenOutputUntilEof) {
  engine.setHandler([](const FakeRequest&) { return catReply(frame(1, "early ")); });
  auto stream = docker->attach("abc", recordInto(rec));
  stream->writeStdinAndClose("hello");  // before attached: buffered until then
  EXPECT_TRUE(rec.events.empty());
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"attached", "output", "closed"}));
  EXPECT_EQ(rec.out, "early hello");
  EXPECT_EQ(rec.err, "done");
  EXPECT_FALSE(rec.error);
  EXPECT_EQ(engine.stdin_received, "hello");
  EXPECT_TRUE(engine.stdin_eof);
  ASSERT_EQ(engine.requests.size(), 1u);
  const FakeRequest& request = engine.requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1.41/containers/abc/attach?stream=1&stdin=1&stdout=1&stderr=1");
  EXPECT_EQ(request.headers.at("upgrade"), "tcp");
  EXPECT_EQ(request.headers.at("connection"), "Upgrade");
  EXPECT_EQ(request.headers.at("host"), "docker");
  EXPECT_EQ(request.headers.at("content-length"), "0");
  runFor(loop, 50ms);
  EXPECT_EQ(rec.closed, 1);
}

TEST_F(AttachStreamTest, StdinQueuedInsideOnAttachedAndEmptyStdinStillHalfCloses) {
  engine.setHandler([](const FakeRequest&) { return catReply(); });
  std::unique_ptr<AttachStream> stream;
  auto cb = recordInto(rec);
  cb.on_attached = [&] {
    rec.events.push_back("attached");
    stream->writeStdinAndClose("");
  };
  stream = docker->attach("abc", std::move(cb));
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  EXPECT_FALSE(rec.error);
  EXPECT_TRUE(engine.stdin_eof);
  EXPECT_EQ(engine.stdin_received, "");
  EXPECT_EQ(rec.err, "done");
}

TEST_F(AttachStreamTest, LargeStdinIsWrittenAcrossManyWrites) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply = catReply();
    reply.on_stdin_eof = [](const std::string& in) { return frame(1, std::to_string(in.size())); };
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  stream->writeStdinAndClose(std::string(8 << 20, 'z'));
  ASSERT_TRUE(runUntil(
      loop, [&] { return rec.closed > 0; }, 20s));
  EXPECT_FALSE(rec.error);
  EXPECT_EQ(rec.out, std::to_string(8 << 20));
}

TEST_F(AttachStreamTest, UnreadOutputIsReportedWhileItWaitsOnTheConnection) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply = catReply();
    // More than one read takes (64 KiB): after the first, the rest waits unread.
    reply.on_stdin_eof = [](const std::string&) { return frame(1, std::string(150'000, 'o')); };
    return reply;
  });
  std::unique_ptr<AttachStream> stream;
  bool unread_seen = false;
  auto cb = recordInto(rec);
  cb.on_output = [&](StreamKind, std::string_view data) {
    rec.out.append(data);
    unread_seen = unread_seen || stream->hasUnreadOutput();
  };
  stream = docker->attach("abc", std::move(cb));
  EXPECT_FALSE(stream->hasUnreadOutput());  // not connected yet
  stream->writeStdinAndClose("x");
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  EXPECT_FALSE(rec.error);
  EXPECT_EQ(rec.out.size(), 150'000u);
  EXPECT_TRUE(unread_seen);
  EXPECT_FALSE(stream->hasUnreadOutput());
}

TEST_F(AttachStreamTest, TwoHundredOkIsAlsoAttached) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply = catReply();
    reply.head_override =
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n";
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  stream->writeStdinAndClose("x");
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  EXPECT_FALSE(rec.error);
  EXPECT_EQ(rec.out, "x");
}

TEST_F(AttachStreamTest, EngineErrorIsReportedWithStatusAndMessage) {
  engine.setHandler([](const FakeRequest&) {
    return FakeReply{404, R"({"message":"No such container: nope"})"};
  });
  auto stream = docker->attach("nope", recordInto(rec));
  stream->writeStdinAndClose("ignored");
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"closed:404:No such container: nope"}));
}

TEST_F(AttachStreamTest, EngineErrorWithoutLengthEndsAtEof) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply;
    reply.raw = "HTTP/1.1 500 Internal Server Error\r\n\r\n{\"message\":\"boom\"}";
    reply.close_after = true;
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->http_status, 500);
  EXPECT_EQ(rec.error->message, "boom");
}

TEST_F(AttachStreamTest, EngineClosingBeforeAnsweringIsAnError) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply;
    reply.raw = "HTTP/1.1 10";
    reply.close_after = true;
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->http_status, 0);
  EXPECT_NE(rec.error->message.find("closed the connection"), std::string::npos);
}

TEST_F(AttachStreamTest, GarbageInsteadOfHttpIsAnError) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply;
    reply.raw = "SSH-2.0-OpenSSH\r\n";
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->http_status, 0);
  EXPECT_TRUE(std::find(rec.events.begin(), rec.events.end(), "attached") == rec.events.end());
}

TEST_F(AttachStreamTest, EofInTheMiddleOfAFrameIsAnError) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply;
    reply.hijack = true;
    reply.after_head = frame(1, "complete") + frame(1, "cut short").substr(0, 11);
    reply.close_right_away = true;
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  ASSERT_TRUE(rec.error);
  EXPECT_NE(rec.error->message.find("middle of a frame"), std::string::npos);
  EXPECT_EQ(rec.out, "completecut");
  runFor(loop, 30ms);
  EXPECT_EQ(rec.closed, 1);
}

TEST_F(AttachStreamTest, MalformedFrameIsAnErrorReportedOnce) {
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply;
    reply.hijack = true;
    reply.after_head = frame(1, "ok") + "this is not a frame header at all";
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  ASSERT_TRUE(rec.error);
  EXPECT_NE(rec.error->message.find("malformed frame"), std::string::npos);
  EXPECT_EQ(rec.out, "ok");
  runFor(loop, 30ms);
  EXPECT_EQ(rec.closed, 1);
}

TEST_F(AttachStreamTest, ContainerGoneBeforeStdinIsWrittenStillDeliversOutput) {
  // The engine sends the output and closes without reading stdin: our write fails
  // (EPIPE) or our read sees a reset, and neither loses the output.
  engine.setHandler([](const FakeRequest&) {
    FakeReply reply;
    reply.hijack = true;
    reply.after_head = frame(1, "bye") + frame(2, "!");
    reply.close_right_away = true;
    return reply;
  });
  auto stream = docker->attach("abc", recordInto(rec));
  stream->writeStdinAndClose(std::string(4 << 20, 's'));
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  EXPECT_FALSE(rec.error) << rec.error->message;
  EXPECT_EQ(rec.out, "bye");
  EXPECT_EQ(rec.err, "!");
}

TEST_F(AttachStreamTest, ConnectFailureIsReportedLater) {
  DockerClient nowhere(loop, "unix:///nonexistent/wa/docker.sock");
  auto stream = nowhere.attach("abc", recordInto(rec));
  EXPECT_EQ(rec.closed, 0);  // not inside attach()
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  ASSERT_TRUE(rec.error);
  EXPECT_EQ(rec.error->http_status, 0);
  EXPECT_NE(rec.error->message.find("/nonexistent/wa/docker.sock"), std::string::npos);
}

TEST_F(AttachStreamTest, UnsupportedHostIsReportedLater) {
  DockerClient bad(loop, "tcp://docker.example.com:2375");
  auto stream = bad.attach("abc", recordInto(rec));
  EXPECT_EQ(rec.closed, 0);
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  ASSERT_TRUE(rec.error);
  EXPECT_NE(rec.error->message.find("numeric"), std::string::npos) << rec.error->message;
}

TEST_F(AttachStreamTest, DestroyingInsideOnOutputStopsEverything) {
  engine.setHandler([](const FakeRequest&) {
    std::string frames;
    for (int i = 0; i < 100; ++i) frames += frame(1, "chunk" + std::to_string(i));
    return catReply(frames);
  });
  std::unique_ptr<AttachStream> stream;
  int outputs = 0;
  bool closed = false;
  AttachStream::Callbacks cb;
  cb.on_output = [&](StreamKind, std::string_view) {
    ++outputs;
    stream.reset();
  };
  cb.on_closed = [&](const std::optional<DockerError>&) { closed = true; };
  stream = docker->attach("abc", std::move(cb));
  ASSERT_TRUE(runUntil(loop, [&] { return outputs > 0; }));
  runFor(loop, 50ms);
  EXPECT_EQ(outputs, 1);
  EXPECT_FALSE(closed);
  ASSERT_TRUE(runUntil(loop, [&] { return engine.open_connections() == 0; }));
}

TEST_F(AttachStreamTest, DestroyingInsideOnClosedIsFine) {
  engine.setHandler([](const FakeRequest&) { return catReply(); });
  std::unique_ptr<AttachStream> stream;
  int closed = 0;
  AttachStream::Callbacks cb;
  cb.on_closed = [&](const std::optional<DockerError>&) {
    ++closed;
    stream.reset();
  };
  stream = docker->attach("abc", std::move(cb));
  stream->writeStdinAndClose("x");
  ASSERT_TRUE(runUntil(loop, [&] { return closed > 0; }));
  runFor(loop, 30ms);
  EXPECT_EQ(closed, 1);
}

TEST_F(AttachStreamTest, DestroyingBeforeAnythingHappensMeansNoCallbacks) {
  engine.setHandler([](const FakeRequest&) { return catReply("x"); });
  auto stream = docker->attach("abc", recordInto(rec));
  stream.reset();
  DockerClient nowhere(loop, "unix:///nonexistent/wa/docker.sock");
  auto failing = nowhere.attach("abc", recordInto(rec));
  failing.reset();  // its failure was already posted
  runFor(loop, 50ms);
  EXPECT_TRUE(rec.events.empty());
}

TEST_F(AttachStreamTest, DestroyingTheClientAbortsItsStreams) {
  engine.setHandler([](const FakeRequest&) { return catReply(frame(1, "first")); });
  auto stream = docker->attach("abc", recordInto(rec));
  ASSERT_TRUE(runUntil(loop, [&] { return !rec.out.empty(); }));
  docker.reset();
  stream->writeStdinAndClose("late");  // harmless on an aborted stream
  runFor(loop, 50ms);
  EXPECT_EQ(rec.closed, 0);
  EXPECT_EQ(rec.out, "first");
  ASSERT_TRUE(runUntil(loop, [&] { return engine.open_connections() == 0; }));
  stream.reset();
}

TEST_F(AttachStreamTest, TcpDockerHost) {
  FakeEngine tcp(loop, /*tcp=*/true);
  tcp.setHandler([](const FakeRequest&) { return catReply(); });
  DockerClient client(loop, tcp.dockerHost());
  auto stream = client.attach("abc", recordInto(rec));
  stream->writeStdinAndClose("over tcp");
  ASSERT_TRUE(runUntil(loop, [&] { return rec.closed > 0; }));
  EXPECT_FALSE(rec.error);
  EXPECT_EQ(rec.out, "over tcp");
  EXPECT_EQ(tcp.requests.at(0).headers.at("host"), tcp.dockerHost().substr(6));
}

}  // namespace
}  // namespace wa::docker
