// Streamed response bodies over loopback: framing, order, backpressure, the producer's
// hooks, pipelining behind a stream, timeouts and closing.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/http_server.h"
#include "http/loopback_client.h"
#include "http/response_writer.h"

namespace wa::http {
namespace {

using testing::ChunkedBody;
using testing::LoopbackClient;
using testing::ParsedResponse;

HttpResponse renderCodeOnlyError(int status, std::string_view code, std::string_view) {
  return HttpResponse::json(status, "{\"code\":\"" + std::string(code) + "\"}");
}

class HttpStreamTest : public ::testing::Test {
 protected:
  HttpStreamTest() {
    router_.add("GET", "/hello", [](const HttpRequest&, const RouteParams&) {
      return HttpResponse::json(200, "{\"hello\":true}");
    });
    // Every request for /stream hands its writer to the test, which plays the producer
    // from the loop's events; on_start_ may act inside start.
    const auto stream = [this](const HttpRequest&, const RouteParams&) {
      return HttpResponse::streamed(200, "text/plain", [this](const StreamWriterPtr& writer) {
        ++started_;
        writer->onClose([this, writer] {  // holds the writer: released once the stream is over
          ++closed_;
          EXPECT_FALSE(writer->isOpen());
        });
        writer_ = writer;
        if (on_start_) on_start_(*writer);
      });
    };
    router_.add("GET", "/stream", stream);
    router_.add("HEAD", "/stream", stream);
  }

  void start() {
    server_ = std::make_unique<HttpServer>(loop_, router_, options_, renderCodeOnlyError);
    ASSERT_EQ(server_->listen("127.0.0.1", 0), "");
  }

  std::unique_ptr<LoopbackClient> connect() {
    return std::make_unique<LoopbackClient>(loop_, server_->port());
  }

  // Sends a request for /stream and reads the response head.
  ParsedResponse openStream(LoopbackClient& client, std::string_view version = "HTTP/1.1") {
    EXPECT_TRUE(client.send("GET /stream " + std::string(version) + "\r\n\r\n"));
    std::optional<ParsedResponse> head = client.readResponse();
    EXPECT_TRUE(head.has_value());
    EXPECT_TRUE(client.pumpUntil([&] { return writer_ != nullptr; }));
    return head.value_or(ParsedResponse{});
  }

  bool waitForConnections(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + LoopbackClient::kTimeout;
    while (server_->connectionCount() != n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.runOnce(1);
    }
    return true;
  }

  // Runs the loop a few times (posted hooks run at the end of each pass).
  void spin(int passes = 5) {
    for (int i = 0; i < passes; ++i) loop_.runOnce(1);
  }

  // Writes pieces without the client reading until a write is refused; returns how many
  // bytes were accepted.
  size_t writeUntilRefused(size_t piece, size_t give_up_after) {
    const std::string data(piece, 'z');
    size_t accepted = 0;
    while (accepted < give_up_after && writer_->write(data)) {
      accepted += piece;
      loop_.runOnce(0);
    }
    return accepted;
  }

  core::ManualClock clock_;
  core::EventLoop loop_{clock_};
  Router router_;
  HttpServerOptions options_;
  std::unique_ptr<HttpServer> server_;
  StreamWriterPtr writer_;
  std::function<void(StreamWriter&)> on_start_;
  int started_ = 0;
  int closed_ = 0;
};

TEST_F(HttpStreamTest, ChunksArriveInOrderAndTheConnectionIsKept) {
  start();
  auto client = connect();
  ParsedResponse head = openStream(*client);
  EXPECT_EQ(head.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(head.headerOr("Transfer-Encoding"), "chunked");
  EXPECT_EQ(head.header("Content-Length"), nullptr);
  EXPECT_EQ(head.headerOr("Content-Type"), "text/plain");
  EXPECT_EQ(head.headerOr("Connection"), "keep-alive");
  EXPECT_EQ(head.headerOr("Access-Control-Allow-Origin"), "*");

  const std::vector<std::string> pieces = {"first\n", std::string(70'000, 'b'),
                                           std::string("\0\r\n0\r\n", 6), "last"};
  for (const std::string& piece : pieces) {
    EXPECT_TRUE(writer_->write(piece));
    EXPECT_TRUE(writer_->write(""));  // nothing: an empty chunk would end the body
    client->pump();
  }
  EXPECT_FALSE(testing::decodeChunked(client->buffer()).complete);
  writer_->end();
  EXPECT_FALSE(writer_->isOpen());
  EXPECT_FALSE(writer_->write("after the end"));
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  EXPECT_FALSE(body.malformed);
  EXPECT_EQ(body.chunks, pieces);
  EXPECT_TRUE(client->buffer().empty());
  // The same connection serves the next request.
  ASSERT_TRUE(client->send("GET /hello HTTP/1.1\r\n\r\n"));
  std::optional<ParsedResponse> next = client->readResponse();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body, "{\"hello\":true}");
  spin();
  EXPECT_EQ(closed_, 0);  // ended by the producer: the close hook does not run
  EXPECT_EQ(writer_.use_count(), 1) << "the connection or a hook still holds the writer";
}

TEST_F(HttpStreamTest, ProducerMayWriteAndEndInsideStart) {
  on_start_ = [](StreamWriter& writer) {
    EXPECT_TRUE(writer.write("all "));
    EXPECT_TRUE(writer.write("at once"));
    writer.end();
  };
  start();
  auto client = connect();
  // Pipelined: the second request is answered right after the body ends.
  ASSERT_TRUE(client->send("GET /stream HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(client->readResponse().has_value());
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  EXPECT_EQ(body.joined(), "all at once");
  std::optional<ParsedResponse> next = client->readResponse();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(started_, 1);
}

TEST_F(HttpStreamTest, PipelinedRequestWaitsUntilTheStreamEnds) {
  start();
  auto client = connect();
  ASSERT_TRUE(client->send(
      "GET /stream HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\nGET /stream HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(client->readResponse().has_value());
  ASSERT_TRUE(client->pumpUntil([&] { return writer_ != nullptr; }));
  EXPECT_TRUE(writer_->write("one"));
  for (int i = 0; i < 10; ++i) client->pump();
  // Only the stream's chunk: /hello and the second /stream are held back.
  EXPECT_EQ(client->buffer(), "3\r\none\r\n");
  EXPECT_EQ(started_, 1);
  StreamWriterPtr first = writer_;
  writer_.reset();
  first->end();
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  EXPECT_EQ(body.joined(), "one");
  std::optional<ParsedResponse> hello = client->readResponse();
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->body, "{\"hello\":true}");
  // Then the third request starts a second stream on the same connection.
  std::optional<ParsedResponse> second_head = client->readResponse();
  ASSERT_TRUE(second_head.has_value());
  EXPECT_EQ(second_head->headerOr("Transfer-Encoding"), "chunked");
  ASSERT_TRUE(client->pumpUntil([&] { return writer_ != nullptr; }));
  EXPECT_NE(writer_, first);
  EXPECT_TRUE(writer_->write("two"));
  writer_->end();
  EXPECT_EQ(client->readChunkedBody().joined(), "two");
  EXPECT_EQ(started_, 2);
}

TEST_F(HttpStreamTest, Http10StreamIsUnframedAndEndsWithTheConnection) {
  start();
  auto client = connect();
  // Even when the client asks for keep-alive: without chunking only the close ends it.
  ASSERT_TRUE(client->send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  std::optional<ParsedResponse> head = client->readResponse();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(head->header("Transfer-Encoding"), nullptr);
  EXPECT_EQ(head->header("Content-Length"), nullptr);
  EXPECT_EQ(head->headerOr("Connection"), "close");
  ASSERT_TRUE(client->pumpUntil([&] { return writer_ != nullptr; }));
  EXPECT_TRUE(writer_->write("raw "));
  EXPECT_TRUE(writer_->write("bytes\r\n"));
  client->pump();
  EXPECT_FALSE(client->eof());
  writer_->end();
  ASSERT_TRUE(client->waitClosed());
  EXPECT_EQ(client->buffer(), "raw bytes\r\n");
  client->close();  // the server lingers until the client's end
  EXPECT_TRUE(waitForConnections(0));
  EXPECT_EQ(closed_, 0);
}

TEST_F(HttpStreamTest, ConnectionCloseRequestKeepsChunkingAndClosesAfterTheEnd) {
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("GET /stream HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::optional<ParsedResponse> head = client->readResponse();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->headerOr("Transfer-Encoding"), "chunked");
  EXPECT_EQ(head->headerOr("Connection"), "close");
  ASSERT_TRUE(client->pumpUntil([&] { return writer_ != nullptr; }));
  writer_->write("bye");
  writer_->end();
  ASSERT_TRUE(client->waitClosed());
  ChunkedBody body = testing::decodeChunked(client->buffer());
  EXPECT_TRUE(body.complete);
  EXPECT_EQ(body.joined(), "bye");
}

TEST_F(HttpStreamTest, ClientLeavingFiresTheCloseHookAndFreesEverything) {
  start();
  auto client = connect();
  openStream(*client);
  auto held_by_producer = std::make_shared<int>(7);
  std::weak_ptr<int> watch = held_by_producer;
  // A producer that owns state through its hooks, the writer included (a cycle the
  // server must break).
  writer_->onDrain([writer = writer_, held_by_producer] {});
  held_by_producer.reset();
  EXPECT_TRUE(writer_->write("something"));
  client->close();
  ASSERT_TRUE(waitForConnections(0));
  spin();
  EXPECT_EQ(closed_, 1);
  EXPECT_FALSE(writer_->isOpen());
  EXPECT_FALSE(writer_->write("late"));
  EXPECT_EQ(writer_->buffered(), 0u);
  writer_->end();  // harmless once over
  writer_->abort();
  EXPECT_TRUE(watch.expired()) << "the hooks were not released";
  EXPECT_EQ(writer_.use_count(), 1);
  spin();
  EXPECT_EQ(closed_, 1);  // once only
}

TEST_F(HttpStreamTest, ClientHalfClosingDuringAStreamIsTakenAsLeaving) {
  start();
  auto client = connect();
  openStream(*client);
  ASSERT_EQ(::shutdown(client->fd(), SHUT_WR), 0);
  ASSERT_TRUE(waitForConnections(0));
  spin();
  EXPECT_EQ(closed_, 1);
  EXPECT_TRUE(client->waitClosed());
}

TEST_F(HttpStreamTest, SlowReaderIsDisconnectedAtTheBufferCap) {
  options_.max_stream_buffer_bytes = size_t{256} * 1024;
  start();
  auto client = connect();
  const int small = 4096;
  ::setsockopt(client->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  openStream(*client);
  // The client reads nothing more: after the kernel's buffers, the connection's fills,
  // and the write that would pass the cap is refused and cuts the client off.
  const size_t accepted = writeUntilRefused(size_t{16} * 1024, size_t{64} * 1024 * 1024);
  EXPECT_LT(accepted, size_t{64} * 1024 * 1024) << "writes were never refused";
  EXPECT_FALSE(writer_->isOpen());
  EXPECT_TRUE(waitForConnections(0));
  spin();
  EXPECT_EQ(closed_, 1);
}

TEST_F(HttpStreamTest, DrainHookPacesAProducerWithABacklog) {
  start();
  auto client = connect();
  openStream(*client);
  // A producer with 16 MiB to send (sixteen times the cap, more than the kernel buffers
  // on loopback) writes while under the mark and resumes on drain.
  const size_t total = size_t{16} * 1024 * 1024;
  const size_t piece = size_t{8} * 1024;
  size_t sent = 0;
  int drains = 0;
  const std::function<void()> pump = [&] {
    while (sent < total && writer_->buffered() < StreamWriter::kDrainMark) {
      ASSERT_TRUE(writer_->write(std::string(piece, static_cast<char>('a' + sent / piece % 26))));
      sent += piece;
    }
    if (sent == total) writer_->end();
  };
  writer_->onDrain([&] {
    ++drains;
    pump();
  });
  pump();
  // The client does not read: sending stalls with at most about the mark buffered.
  size_t before = 0;
  for (int i = 0; i < 1000 && sent != before; ++i) {
    before = sent;
    spin(3);
  }
  EXPECT_LT(sent, total);
  EXPECT_LT(writer_->buffered(), StreamWriter::kDrainMark + piece + 16);
  // Each 8 KiB chunk takes 8200 bytes on the wire; then the last chunk.
  const size_t wire = total / piece * (piece + 8) + 5;
  ASSERT_TRUE(client->pumpUntil([&] { return client->buffer().size() >= wire || client->eof(); },
                                std::chrono::milliseconds(20'000)))
      << "sent " << sent << " drains " << drains << " received " << client->buffer().size();
  ChunkedBody body = client->readChunkedBody();
  ASSERT_TRUE(body.complete);
  ASSERT_EQ(body.chunks.size(), total / piece);
  for (size_t i = 0; i < body.chunks.size(); ++i) {
    ASSERT_EQ(body.chunks[i], std::string(piece, static_cast<char>('a' + i % 26))) << i;
  }
  EXPECT_GT(drains, 0);
  EXPECT_EQ(closed_, 0);
}

TEST_F(HttpStreamTest, IdleTimeoutSparesAStreamButTheWriteTimeoutEndsAStalledOne) {
  options_.idle_timeout = core::Millis(100);
  options_.max_stream_buffer_bytes = size_t{64} * 1024 * 1024;
  start();
  auto client = connect();
  const int small = 4096;
  ::setsockopt(client->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  openStream(*client);
  // A quiet producer: minutes without output do not end the stream.
  for (int i = 0; i < 5; ++i) {
    clock_.advance(core::Millis(60'000));
    spin(3);
  }
  EXPECT_TRUE(writer_->isOpen());
  EXPECT_TRUE(writer_->write("still here"));
  client->pump();
  // Fill every buffer until output waits for a client that does not read.
  const std::string piece(size_t{64} * 1024, 's');
  for (int i = 0; i < 200 && writer_->buffered() < size_t{1024} * 1024; ++i) {
    ASSERT_TRUE(writer_->write(piece));
    loop_.runOnce(0);
  }
  ASSERT_GT(writer_->buffered(), 0u);
  clock_.advance(core::Millis(99));
  spin(3);
  EXPECT_TRUE(writer_->isOpen());
  clock_.advance(core::Millis(2));
  ASSERT_TRUE(waitForConnections(0));
  spin();
  EXPECT_FALSE(writer_->isOpen());
  EXPECT_EQ(closed_, 1);
}

TEST_F(HttpStreamTest, CloseAllCutsStreamsShortAndTellsTheirProducers) {
  start();
  auto streaming = connect();
  openStream(*streaming);
  auto idle = connect();
  ASSERT_TRUE(waitForConnections(2));
  EXPECT_TRUE(writer_->write("partial"));
  streaming->pump();
  server_->closeAll();
  EXPECT_FALSE(writer_->isOpen());
  EXPECT_EQ(closed_, 0);  // the hook runs after the batch, not inside closeAll
  ASSERT_TRUE(waitForConnections(0));
  spin();
  EXPECT_EQ(closed_, 1);
  ASSERT_TRUE(streaming->waitClosed());
  ASSERT_TRUE(idle->waitClosed());
  ChunkedBody body = testing::decodeChunked(streaming->buffer());
  EXPECT_FALSE(body.complete);
  EXPECT_EQ(body.joined(), "partial");
}

TEST_F(HttpStreamTest, DestroyingTheServerTellsProducersToo) {
  start();
  auto client = connect();
  openStream(*client);
  server_.reset();
  EXPECT_FALSE(writer_->isOpen());
  spin();
  EXPECT_EQ(closed_, 1);
  EXPECT_TRUE(client->waitClosed());
}

TEST_F(HttpStreamTest, AbortClosesWithoutTheLastChunkAndWithoutTheHook) {
  start();
  auto client = connect();
  openStream(*client);
  EXPECT_TRUE(writer_->write("half"));
  writer_->abort();
  EXPECT_FALSE(writer_->isOpen());
  ASSERT_TRUE(client->waitClosed());
  ChunkedBody body = testing::decodeChunked(client->buffer());
  EXPECT_FALSE(body.complete);
  EXPECT_EQ(body.joined(), "half");
  spin();
  EXPECT_EQ(closed_, 0);
}

TEST_F(HttpStreamTest, ThrowingStartCutsTheStream) {
  on_start_ = [](StreamWriter& writer) {
    writer.write("before");
    throw std::runtime_error("producer bug");
  };
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("GET /stream HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(client->waitClosed());
  EXPECT_EQ(client->takeResponse()->status, 200);
  EXPECT_FALSE(testing::decodeChunked(client->buffer()).complete);
  client->close();
  EXPECT_TRUE(waitForConnections(0));
}

TEST_F(HttpStreamTest, HeadGetsTheHeadAndNeverStartsTheStream) {
  start();
  auto client = connect();
  ASSERT_TRUE(client->send("HEAD /stream HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
  std::optional<ParsedResponse> head = client->readResponse();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->headerOr("Transfer-Encoding"), "chunked");
  std::optional<ParsedResponse> hello = client->readResponse();
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(started_, 0);
}

TEST(HttpServerSerializeStreamTest, StreamedHeadHasChunkingOrNothing) {
  HttpResponse response = HttpResponse::streamed(200, "application/octet-stream", [](auto) {});
  response.body = "ignored";
  EXPECT_TRUE(isStreamedResponse(response));
  EXPECT_EQ(serializeResponse(response, true, 1),
            "HTTP/1.1 200 OK\r\n"
            "Transfer-Encoding: chunked\r\n"
            "Cache-Control: no-store\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Connection: keep-alive\r\n"
            "Content-Type: application/octet-stream\r\n"
            "\r\n");
  EXPECT_EQ(serializeResponse(response, false, 0),
            "HTTP/1.0 200 OK\r\n"
            "Cache-Control: no-store\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Connection: close\r\n"
            "Content-Type: application/octet-stream\r\n"
            "\r\n");
  response.status = 204;
  EXPECT_FALSE(isStreamedResponse(response));
  EXPECT_FALSE(isStreamedResponse(HttpResponse::json(200, "{}")));
}

}  // namespace
}  // namespace wa::http
