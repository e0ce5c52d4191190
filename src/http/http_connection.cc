#include "http/http_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "core/log.h"
#include "http/response_writer.h"

namespace wa::http {
namespace {

constexpr size_t kReadChunk = size_t{64} * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Empties a buffer; one that grew for a large request or response gives its memory
// back, since thousands of idle keep-alive connections would otherwise each keep theirs.
void releaseIfLarge(std::string* buffer) {
  if (buffer->capacity() > size_t{16} * 1024) {
    std::string().swap(*buffer);
  } else {
    buffer->clear();
  }
}

}  // namespace

HttpConnection::HttpConnection(const ConnectionContext& context, core::UniqueFd fd,
                               Transport transport)
    : context_(context),
      fd_(std::move(fd)),
      transport_(transport),
      parser_(context.options.max_header_bytes, context.options.max_body_bytes) {
  event_ = context_.loop.watch(fd_.get(), core::FileEvent::kReadable,
                               [this](uint32_t ready) { onEvent(ready); });
  timer_ = context_.loop.createTimer([this] { onTimeout(); });
  head_start_ = now();
  armTimer();
}

HttpConnection::~HttpConnection() {
  // Freed without close(): the server is being destroyed.
  if (stream_) releaseStream(true);
  releaseResponder();
}

core::MonoTime HttpConnection::now() const { return context_.loop.clock().now(); }

void HttpConnection::onEvent(uint32_t ready) {
  // Closed earlier in this batch (by a timer, say): the object only awaits deletion.
  if (state_ == State::kClosed) return;
  if ((ready & core::FileEvent::kWritable) && !flush()) return;
  if (ready & core::FileEvent::kReadable) {
    if (state_ == State::kLingering) {
      discardInput();
      return;
    }
    // Also reached without read interest when epoll reports an error or hang-up: the
    // read is what surfaces it.
    if (!read_eof_ && !readInput()) return;
  }
  advance();
}

void HttpConnection::onTimeout() {
  if (state_ == State::kClosed) return;
  if (state_ == State::kLingering) {
    close();
    return;
  }
  if (pendingOutput() > 0) {
    if (stream_) {
      core::logWarning("http: closing a streamed response: its client read nothing for ",
                       context_.options.idle_timeout.count(), " ms (", pendingOutput(),
                       " bytes waiting)");
    } else {
      core::logDebug("http: closing a connection whose client stopped reading");
    }
    close();
    return;
  }
  if (busy()) return;       // no deadline while the producer owes the answer (armTimer)
  if (awaiting_request_) {  // idle keep-alive connection: nothing owed to anyone
    close();
    return;
  }
  context_.dispatcher.observeRefused(408);
  queueError(408, "REQUEST_TIMEOUT",
             parser_.headersComplete() ? "request body not received in time"
                                       : "request head not received in time");
  advance();
}

void HttpConnection::advance() {
  for (;;) {
    processInput();
    if (!flush()) return;
    // Output drained below the bound while pipelined requests wait in in_: go on.
    if (state_ != State::kOpen || busy() || unparsedInput() == 0 ||
        pendingOutput() >= kOutputHighWater) {
      break;
    }
  }
  if (stream_ && read_eof_) {
    // A client waiting for a body does not half-close; it left. Cut the stream now rather
    // than keep its producer subscribed until a write fails.
    core::logDebug("http: client closed its connection during a streamed response");
    close();
    return;
  }
  if (state_ == State::kOpen && read_eof_ && unparsedInput() == 0) {
    // The client will send nothing more; a request it left unfinished is dropped. What is
    // already queued still goes out, since it may be reading still.
    state_ = State::kClosing;
    if (!flush()) return;
  }
  if (state_ == State::kClosed) return;
  resume_pending_ = false;
  updateInterest();
  armTimer();
}

void HttpConnection::processInput() {
  // A streamed response holds back the requests behind it until its body has ended.
  while (state_ == State::kOpen && !busy() && unparsedInput() > 0 &&
         pendingOutput() < kOutputHighWater) {
    if (awaiting_request_) {
      awaiting_request_ = false;
      head_start_ = now();
    }
    size_t consumed = 0;
    const HttpParser::Result result =
        parser_.feed(std::string_view(in_).substr(in_offset_), &consumed);
    in_offset_ += consumed;
    if (result == HttpParser::Result::kNeedMore) {
      if (parser_.headersComplete() && !awaiting_body_) {
        awaiting_body_ = true;
        body_start_ = now();
      }
      if (parser_.takeContinueRequest()) queue(kContinue);
      break;
    }
    awaiting_body_ = false;
    if (result == HttpParser::Result::kError) {
      const HttpParser::Error& error = parser_.error();
      core::logDebug("http: rejecting request: ", error.status, " ", error.message);
      context_.dispatcher.observeRefused(error.status);
      queueError(error.status, error.code, error.message);
      break;
    }
    HttpRequest request = parser_.takeRequest();
    request.transport = transport_;
    HttpResponse response = context_.dispatcher.respond(request);
    // The path, not the target: a query string may carry what must not be logged (a token
    // a client sent the wrong way).
    core::logDebug("http: ", request.method, " ", request.path, " -> ", response.status);
    const bool head = request.method == "HEAD";
    if (response.deferred) {
      // The loop stops at responder_ unless start answered at once.
      startDeferred(response.deferred, parser_.keepAlive(), request.http_minor, head);
      continue;
    }
    const bool streamed = isStreamedResponse(response);
    // HTTP/1.0 has no chunked framing: a streamed body ends where the connection does.
    const bool keep_alive = parser_.keepAlive() && !(streamed && request.http_minor == 0);
    queueResponse(response, keep_alive, request.http_minor, head);
    if (streamed && !head) {
      // The loop stops at stream_ unless start ended the stream already.
      startStream(response.stream, request.http_minor != 0, keep_alive);
    } else {
      finishResponse(keep_alive);
    }
  }
  if (in_offset_ == in_.size()) {
    releaseIfLarge(&in_);
    in_offset_ = 0;
  }
}

bool HttpConnection::readInput() {
  // One buffer for all connections (one loop, one thread): only bytes actually received
  // are copied into in_, so an idle connection does not pin a whole read buffer.
  thread_local char buffer[kReadChunk];
  ssize_t n;
  do {
    n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    if (in_offset_ > 0) {
      in_.erase(0, in_offset_);
      in_offset_ = 0;
    }
    in_.append(buffer, static_cast<size_t>(n));
    last_read_ = now();
    return true;
  }
  if (n == 0) {
    read_eof_ = true;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
  // ECONNRESET and the like: the client is gone, and so is anything owed to it.
  core::logDebug("http: recv: ", std::strerror(errno));
  close();
  return false;
}

void HttpConnection::discardInput() {
  char buffer[16 * 1024];
  ssize_t n;
  do {
    n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;
  close();  // EOF or error: the client has seen everything it is going to see
}

bool HttpConnection::flush() {
  if (state_ == State::kClosed) return false;  // e.g. a stream's write passed the cap
  while (pendingOutput() > 0) {
    const ssize_t n = ::send(fd_.get(), out_.data() + out_offset_, pendingOutput(), MSG_NOSIGNAL);
    if (n > 0) {
      out_offset_ += static_cast<size_t>(n);
      last_write_ = now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    // EPIPE, ECONNRESET: the client went away mid-response.
    core::logDebug("http: send: ", std::strerror(errno));
    close();
    return false;
  }
  if (stream_ && above_drain_mark_ && pendingOutput() < StreamWriter::kDrainMark) {
    above_drain_mark_ = false;
    context_.loop.post([writer = stream_] { writer->drained(); });
  }
  if (pendingOutput() == 0) {
    releaseIfLarge(&out_);
    out_offset_ = 0;
    if (state_ == State::kClosing) finishClosing();
  } else if (out_offset_ >= kOutputHighWater) {
    // Keep a response that goes out slowly from pinning its written prefix.
    out_.erase(0, out_offset_);
    out_offset_ = 0;
  }
  return state_ != State::kClosed;
}

std::string& HttpConnection::output() {
  if (pendingOutput() == 0) last_write_ = now();  // the write deadline starts now
  return out_;
}

void HttpConnection::queue(std::string_view bytes) { output() += bytes; }

void HttpConnection::queueResponse(const HttpResponse& response, bool keep_alive, int http_minor,
                                   bool head) {
  std::string& out = output();
  const size_t start = out.size();
  serializeResponseTo(response, keep_alive, http_minor, &out);
  // A response to HEAD announces the body's length but carries no body.
  if (head) out.resize(out.find("\r\n\r\n", start) + 4);
}

void HttpConnection::queueError(int status, std::string_view code, std::string_view message) {
  queueResponse(context_.dispatcher.errorResponse(status, code, message), false, 1, false);
  state_ = State::kClosing;
}

void HttpConnection::finishResponse(bool keep_alive) {
  if (keep_alive) {
    awaiting_request_ = true;
    idle_since_ = now();
  } else {
    state_ = State::kClosing;
  }
}

void HttpConnection::startStream(const StreamStart& start, bool chunked, bool keep_alive) {
  stream_.reset(new StreamWriter(this));
  stream_chunked_ = chunked;
  stream_keep_alive_ = keep_alive;
  above_drain_mark_ = false;
  const StreamWriterPtr writer = stream_;  // start may end the stream and reset stream_
  try {
    start(writer);
    return;
  } catch (const std::exception& e) {
    core::logError("http: starting a streamed response threw: ", e.what());
  } catch (...) {
    core::logError("http: starting a streamed response threw a non-std exception");
  }
  // The head is gone already: all that is left is to cut the body short.
  writer->abort();
}

bool HttpConnection::streamWrite(std::string_view data) {
  if (data.empty()) return true;  // an empty chunk would end the body
  char size_line[24];
  size_t framing = 0;
  if (stream_chunked_) {
    framing =
        static_cast<size_t>(std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size()));
  }
  const size_t framed = data.size() + (stream_chunked_ ? framing + 2 : 0);
  const size_t cap = context_.options.max_stream_buffer_bytes;
  if (pendingOutput() + framed > cap) {
    // Never unbounded memory for a client that does not read: it loses the stream.
    core::logWarning(
        "http: closing a streamed response whose client is not reading: ", pendingOutput(),
        " bytes waiting and ", framed, " more would pass the cap of ", cap);
    close();
    return false;
  }
  const bool was_idle = pendingOutput() == 0;
  if (stream_chunked_) queue(std::string_view(size_line, framing));
  queue(data);
  if (stream_chunked_) queue("\r\n");
  if (pendingOutput() >= StreamWriter::kDrainMark) above_drain_mark_ = true;
  updateInterest();
  if (was_idle) armTimer();  // the write deadline starts
  return true;
}

void HttpConnection::streamEnd() {
  if (stream_chunked_) queue(kLastChunk);
  releaseStream(false);
  finishResponse(stream_keep_alive_);
  // Possibly inside the producer's call: the next writable event takes up what follows.
  resume_pending_ = true;
  updateInterest();
  armTimer();
}

void HttpConnection::streamAbort() {
  core::logDebug("http: a streamed response was abandoned by its producer");
  releaseStream(false);
  // What was written still goes out; then the connection closes without the last chunk
  // (HTTP/1.1), and requests pipelined behind are not answered.
  state_ = State::kClosing;
  resume_pending_ = true;
  updateInterest();
  armTimer();
}

void HttpConnection::releaseStream(bool run_close_hook) {
  StreamWriterPtr writer = std::move(stream_);
  writer->connection_ = nullptr;
  std::function<void()> on_close = std::move(writer->on_close_);
  std::function<void()> on_drain = std::move(writer->on_drain_);
  writer->on_close_ = nullptr;
  writer->on_drain_ = nullptr;
  above_drain_mark_ = false;
  // We may be inside a call on the writer or inside one of its hooks: the writer and
  // the hooks (which may own the producer) are freed after this batch, and the close
  // hook runs there too, never inside the producer's own call.
  context_.loop.post([writer = std::move(writer), on_close = std::move(on_close),
                      on_drain = std::move(on_drain), run_close_hook] {
    if (run_close_hook && on_close) on_close();
  });
}

void HttpConnection::startDeferred(const DeferredStart& start, bool keep_alive, int http_minor,
                                   bool head) {
  responder_.reset(new Responder(this));
  deferred_keep_alive_ = keep_alive;
  deferred_http_minor_ = http_minor;
  deferred_head_ = head;
  const ResponderPtr responder = responder_;  // start may answer at once
  try {
    start(responder);
    return;
  } catch (const std::exception& e) {
    core::logError("http: starting a deferred response threw: ", e.what());
  } catch (...) {
    core::logError("http: starting a deferred response threw a non-std exception");
  }
  responder->respond(
      context_.dispatcher.errorResponse(500, "INTERNAL_ERROR", "internal error while answering"));
}

void HttpConnection::deferredRespond(HttpResponse response) {
  responder_.reset();
  if (state_ == State::kClosed) return;
  if (response.stream || response.deferred) {
    core::logError("http: a deferred answer must be a plain response; sending 500");
    response = context_.dispatcher.errorResponse(500, "INTERNAL_ERROR", "internal error");
  }
  queueResponse(response, deferred_keep_alive_, deferred_http_minor_, deferred_head_);
  finishResponse(deferred_keep_alive_);
  // From another object's event (never this connection's): the answer is written now;
  // requests pipelined behind it are taken up from the next writable event, so that none
  // is handled inside the caller's call.
  if (!flush()) return;
  if (state_ == State::kOpen && unparsedInput() > 0) resume_pending_ = true;
  updateInterest();
  armTimer();
}

void HttpConnection::releaseResponder() {
  if (!responder_) return;
  responder_->connection_ = nullptr;
  responder_.reset();
}

void HttpConnection::finishClosing() {
  if (read_eof_) {
    close();
    return;
  }
  // Shut the write side so the client sees the end of the response, and drain its input
  // for a while: closing with unread bytes would answer with a RST that may reach the
  // client before it has read the response (a 413 mid-upload, a 408).
  if (::shutdown(fd_.get(), SHUT_WR) != 0) {
    core::logDebug("http: shutdown: ", std::strerror(errno));
    close();
    return;
  }
  state_ = State::kLingering;
  timer_->enableAfter(kLingerTimeout);
}

void HttpConnection::updateInterest() {
  if (state_ == State::kClosed) return;
  uint32_t interest = 0;
  if (state_ == State::kLingering) {
    interest = core::FileEvent::kReadable;
  } else {
    // During a stream reading goes on (so a client that leaves is noticed at once), but
    // what it pipelines waits unparsed, so only a bounded amount of it.
    if (state_ == State::kOpen && !read_eof_ && pendingOutput() < kOutputHighWater &&
        (!busy() || unparsedInput() < kReadChunk)) {
      interest |= core::FileEvent::kReadable;
    }
    if (pendingOutput() > 0 || resume_pending_) interest |= core::FileEvent::kWritable;
  }
  event_->setInterest(interest);
}

void HttpConnection::armTimer() {
  // The linger deadline is fixed when lingering starts.
  if (state_ == State::kLingering || state_ == State::kClosed) return;
  const HttpServerOptions& options = context_.options;
  core::MonoTime deadline;
  if (pendingOutput() > 0) {
    deadline = last_write_ + options.idle_timeout;
  } else if (busy()) {
    // Nothing waits for the client: the producer decides when the body ends (a job may
    // be quiet for minutes), or when the deferred answer is ready, so no deadline.
    timer_->disable();
    return;
  } else if (awaiting_request_) {
    deadline = idle_since_ + options.idle_timeout;
  } else if (!parser_.headersComplete()) {
    // Fixed from the first byte: a client trickling bytes does not push it back.
    deadline = head_start_ + options.header_timeout;
  } else {
    deadline = last_read_ + options.idle_timeout;
    if (options.min_body_rate > 0) {
      // Each byte received earns 1/min_body_rate s more: a client trickling the body
      // falls behind, while one sending a large body at any usable speed never does.
      const core::Millis earned(
          static_cast<int64_t>(parser_.bodyBytes() * 1000 / options.min_body_rate));
      deadline = std::min(deadline, body_start_ + options.body_timeout + earned);
    }
  }
  timer_->enableAfter(std::chrono::ceil<core::Millis>(deadline - now()));
}

void HttpConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  timer_->disable();
  if (stream_) releaseStream(true);
  releaseResponder();
  // The server frees this object after the current batch; the fd closes then, after the
  // watcher is gone, so a reused fd number never meets a stale watcher.
  context_.owner.connectionClosed(this);
}

}  // namespace wa::http
