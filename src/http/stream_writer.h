// StreamWriter: the producer's handle on a streamed response body (see
// HttpResponse::streamed). The body goes out as it is written: HTTP/1.1 with
// Transfer-Encoding: chunked, HTTP/1.0 unframed and ended by closing the connection.
//
// The handle is shared between the connection and the producer and outlives either:
// once the stream is over (ended, aborted, or the connection gone) every call is a
// harmless no-op. All calls come from the loop's thread. None of them calls back into
// the producer: the hooks below run from the loop after the current batch of events.
//
// Backpressure: the connection buffers at most HttpServerOptions::max_stream_buffer_bytes
// for a client; a write past that closes the connection (logged). A producer with more
// to send than that writes while buffered() < kDrainMark and resumes in onDrain.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

namespace wa::http {

class HttpConnection;

class StreamWriter {
 public:
  // A producer with a backlog keeps at most about this much waiting in the connection.
  static constexpr size_t kDrainMark = size_t{64} * 1024;

  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;

  // Sends data as the next part of the body ("" sends nothing). Returns false once the
  // stream is over, and when this write would take the connection past its buffer cap:
  // the client is then disconnected and the close hook runs.
  bool write(std::string_view data);
  // Completes the body. HTTP/1.1 sends the last chunk and the connection goes on with
  // requests the client pipelined behind this one; HTTP/1.0 closes the connection once
  // everything is written. The hooks are released (neither runs afterwards).
  void end();
  // Gives up on the body: what was written still goes out, then the connection closes
  // without completing the body, so the client can tell it is incomplete (requests
  // pipelined behind it are not answered). The hooks are released (neither runs).
  void abort();

  // False once end() or abort() was called or the connection closed.
  bool isOpen() const { return connection_ != nullptr; }
  // Bytes accepted for this connection and not yet taken by the socket (0 once over).
  size_t buffered() const;

  // Runs once if the stream is cut short by the connection (the client went away or
  // stopped reading, the server closed every connection): the producer stops and drops
  // what it holds for the stream (its subscriptions). Not run after end() or abort().
  // Released once the stream is over, so it may hold the writer itself.
  void onClose(std::function<void()> hook) { on_close_ = std::move(hook); }
  // Runs each time buffered() falls below kDrainMark after a write left it at or above
  // that mark. Released once the stream is over.
  void onDrain(std::function<void()> hook) { on_drain_ = std::move(hook); }

 private:
  friend class HttpConnection;
  explicit StreamWriter(HttpConnection* connection) : connection_(connection) {}

  // Posted by the connection: runs the drain hook if the stream is still open.
  void drained();

  HttpConnection* connection_;  // nullptr once the stream is over
  std::function<void()> on_close_;
  std::function<void()> on_drain_;
};

using StreamWriterPtr = std::shared_ptr<StreamWriter>;

}  // namespace wa::http
