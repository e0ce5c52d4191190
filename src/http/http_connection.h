// HttpConnection: one accepted client socket. Requests are parsed and answered one at a
// time, so responses leave in request order; reading stops while too much output is
// waiting for a client that does not read. One timer enforces the header, idle and
// write deadlines. The connection never frees itself: it tells its owner (the server),
// which frees it after the current batch of events (deferredDelete).
//
// A streamed response (HttpResponse::streamed) holds the connection until its producer
// ends it: requests pipelined behind it wait, unparsed; no idle deadline applies while
// nothing is waiting to be written, but the write deadline and the stream buffer cap
// still cut off a client that does not read. The client shutting down its side during
// a stream counts as leaving (HTTP clients half-close only when they go away).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/deletable.h"
#include "core/event_loop.h"
#include "core/timer_queue.h"
#include "core/unique_fd.h"
#include "http/dispatcher.h"
#include "http/http_options.h"
#include "http/http_parser.h"
#include "http/http_request.h"
#include "http/stream_writer.h"

namespace wa::http {

class HttpConnection;

// Who frees a connection once it has closed.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // connection has closed (it is usually inside its own callback): free it after the batch.
  virtual void connectionClosed(HttpConnection* connection) = 0;
};

// What every connection of one server shares; outlives them all.
struct ConnectionContext {
  core::EventLoop& loop;
  const HttpServerOptions& options;
  const Dispatcher& dispatcher;
  ConnectionOwner& owner;
};

class HttpConnection final : public core::Deletable {
 public:
  // Output waiting beyond this stops reading and parsing until it drains below it.
  static constexpr size_t kOutputHighWater = size_t{64} * 1024;
  // After the last response of a closing connection, how long unread input is drained
  // before closing (closing with unread input sends a RST that can destroy the response).
  static constexpr core::Millis kLingerTimeout{2'000};

  // Starts watching fd (connected, non-blocking) and arms the header timeout. transport
  // is where fd was accepted; every request read from it says so.
  HttpConnection(const ConnectionContext& context, core::UniqueFd fd, Transport transport);
  ~HttpConnection() override;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Closes now, whatever it is doing (unsent output is dropped, a stream is cut short)
  // and tells the owner. Every event after this is ignored.
  void close();

 private:
  friend class StreamWriter;  // the stream* calls below: the writer is a handle on us
  friend class Responder;     // deferredRespond: the responder is a handle on us too

  enum class State {
    kOpen,       // reading and answering requests
    kClosing,    // last response queued: write it, then linger or close
    kLingering,  // write side shut down; discarding input until EOF or the linger timeout
    kClosed,     // handed to the server for deferred deletion; ignores every event
  };

  void onEvent(uint32_t ready);
  void onTimeout();
  // Parses buffered input and answers, writes, then updates interest and the timer.
  void advance();
  void processInput();
  // Reads once into in_. False if the connection was closed.
  bool readInput();
  void discardInput();
  // Writes as much pending output as the socket takes; on a drained kClosing connection
  // goes on to linger or close. False if the connection was closed.
  bool flush();
  // out_, starting the write deadline when it held nothing to send.
  std::string& output();
  void queue(std::string_view bytes);
  // Serialized straight into the output (the head only, for HEAD).
  void queueResponse(const HttpResponse& response, bool keep_alive, int http_minor, bool head);
  void queueError(int status, std::string_view code, std::string_view message);
  void finishClosing();
  // After a whole (non-streamed) response: wait for the next request, or close.
  void finishResponse(bool keep_alive);

  // Streamed responses. startStream runs the handler's start with a new writer;
  // streamWrite/streamEnd/streamAbort serve StreamWriter (called from the producer,
  // possibly inside start, so they never call back into the producer); releaseStream
  // lets go of the writer, with its hooks freed, and the close hook run if asked, from the
  // loop after this batch.
  void startStream(const StreamStart& start, bool chunked, bool keep_alive);
  bool streamWrite(std::string_view data);
  void streamEnd();
  void streamAbort();
  void releaseStream(bool run_close_hook);
  // A deferred response (HttpResponse::later): waits for its responder.
  void startDeferred(const DeferredStart& start, bool keep_alive, int http_minor, bool head);
  void deferredRespond(HttpResponse response);
  void releaseResponder();
  // The current request's answer is still being produced (a stream or a deferred one):
  // requests behind it wait and no idle deadline applies.
  bool busy() const { return stream_ || responder_; }
  void updateInterest();
  void armTimer();

  size_t pendingOutput() const { return out_.size() - out_offset_; }
  size_t unparsedInput() const { return in_.size() - in_offset_; }
  core::MonoTime now() const;

  const ConnectionContext& context_;
  core::UniqueFd fd_;  // declared before event_: the watcher goes before the fd closes
  Transport transport_;
  std::unique_ptr<core::FileEvent> event_;
  std::unique_ptr<core::Timer> timer_;
  HttpParser parser_;
  State state_ = State::kOpen;
  bool read_eof_ = false;  // the client shut down its sending side
  std::string in_;         // received, not yet parsed (after in_offset_)
  size_t in_offset_ = 0;
  std::string out_;  // serialized responses, not yet written (after out_offset_)
  size_t out_offset_ = 0;

  StreamWriterPtr stream_;  // the streamed response being produced, if any
  ResponderPtr responder_;  // the deferred response awaited, if any
  bool deferred_keep_alive_ = false;
  int deferred_http_minor_ = 1;
  bool deferred_head_ = false;
  bool stream_chunked_ = false;
  bool stream_keep_alive_ = false;  // after the stream: the next request, or close
  bool above_drain_mark_ = false;   // a write left >= kDrainMark waiting: post onDrain below it
  // A stream ended from outside the connection's own events: the next writable event
  // takes up pipelined requests (or the close), so no request is handled inside the
  // producer's call.
  bool resume_pending_ = false;

  // Deadlines. Until the first byte of the next request arrives the connection is idle
  // (idle_timeout from idle_since_); from then its head must be complete within
  // header_timeout of head_start_, and its body must keep to min_body_rate from
  // body_start_. A fresh connection starts in the head phase.
  bool awaiting_request_ = false;
  bool awaiting_body_ = false;  // the head is in, the body is not complete
  core::MonoTime idle_since_;
  core::MonoTime head_start_;
  core::MonoTime body_start_;
  core::MonoTime last_read_;   // body progress
  core::MonoTime last_write_;  // output progress (or when output was first queued)
};

}  // namespace wa::http
