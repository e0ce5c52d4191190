// HttpConnection: one accepted client socket. Requests are parsed and answered one at a
// time, so responses leave in request order; reading stops while too much output is
// waiting for a client that does not read. One timer enforces the header, idle and
// write deadlines. The connection never frees itself: it asks the server, which frees it
// after the current batch of events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/event_loop.h"
#include "core/timer_queue.h"
#include "core/unique_fd.h"
#include "http/http_parser.h"
#include "http/http_request.h"

namespace wa::http {

class HttpServer;

class HttpConnection {
 public:
  // Output waiting beyond this stops reading and parsing until it drains below it.
  static constexpr size_t kOutputHighWater = size_t{64} * 1024;
  // After the last response of a closing connection, how long unread input is drained
  // before closing (closing with unread input sends a RST that can destroy the response).
  static constexpr core::Millis kLingerTimeout{2'000};

  // Starts watching fd (connected, non-blocking) and arms the header timeout.
  HttpConnection(HttpServer& server, core::UniqueFd fd);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

 private:
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
  void queue(std::string_view bytes);
  void queueError(int status, std::string_view code, std::string_view message);
  void finishClosing();
  void updateInterest();
  void armTimer();
  void close();

  size_t pendingOutput() const { return out_.size() - out_offset_; }
  size_t unparsedInput() const { return in_.size() - in_offset_; }
  core::MonoTime now() const;

  HttpServer& server_;
  core::UniqueFd fd_;  // declared before event_: the watcher goes before the fd closes
  std::unique_ptr<core::FileEvent> event_;
  std::unique_ptr<core::Timer> timer_;
  HttpParser parser_;
  State state_ = State::kOpen;
  bool read_eof_ = false;  // the client shut down its sending side
  std::string in_;         // received, not yet parsed (after in_offset_)
  size_t in_offset_ = 0;
  std::string out_;  // serialized responses, not yet written (after out_offset_)
  size_t out_offset_ = 0;

  // Deadlines. Until the first byte of the next request arrives the connection is idle
  // (idle_timeout from idle_since_); from then its head must be complete within
  // header_timeout of head_start_. A fresh connection starts in the head phase.
  bool awaiting_request_ = false;
  core::MonoTime idle_since_;
  core::MonoTime head_start_;
  core::MonoTime last_read_;   // body progress
  core::MonoTime last_write_;  // output progress (or when output was first queued)
};

}  // namespace wa::http
