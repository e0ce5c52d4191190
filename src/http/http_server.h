// HttpServer: accepts HTTP/1.1 connections on the loop and hands each parsed request
// to the Router. Keep-alive and pipelining (responses in request order), Content-Length
// and chunked bodies, header/body size limits, header and idle timeouts, a connection cap,
// and streamed response bodies (HttpResponse::streamed, StreamWriter) with a bounded
// buffer per connection. Listens on TCP and optionally on a unix stream socket as well;
// connections from either are served alike. An optional BearerAuth gates every request.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/event_loop.h"
#include "core/timer_queue.h"
#include "core/unique_fd.h"
#include "http/bearer_auth.h"
#include "http/http_request.h"
#include "http/router.h"

namespace wa::http {

struct HttpServerOptions {
  size_t max_header_bytes = size_t{16} * 1024;      // request line + headers; over it: 431
  size_t max_body_bytes = size_t{8} * 1024 * 1024;  // over it: 413
  core::Millis header_timeout{10'000};              // to receive a whole request head
  core::Millis idle_timeout{60'000};                // keep-alive connection with nothing pending
  size_t max_connections = 10'000;                  // excess connections get 503 and are closed
  // A request body must come in at min_body_rate bytes a second on average, after a
  // first body_timeout (and with no gap of idle_timeout): trickling it cannot hold a
  // connection for ever. 0 = no rate.
  core::Millis body_timeout{20'000};
  size_t min_body_rate = 1024;
  // Output a streamed response may have waiting for one client; a write past it
  // disconnects that client (it is not reading) rather than buffer without bound.
  size_t max_stream_buffer_bytes = size_t{1024} * 1024;
};

// Builds the body of an error the server itself produces (400, 404, 405, 408, 413, 431,
// 500, 503). code is a stable machine name such as "NOT_FOUND", "PAYLOAD_TOO_LARGE".
// The api layer supplies it so that every error in the daemon has one JSON shape.
using ErrorRenderer =
    std::function<HttpResponse(int status, std::string_view code, std::string_view message)>;

class HttpConnection;

// What the server tells an observer about each answered request.
struct RequestRecord {
  std::string_view method;  // as the client sent it
  // The route pattern that matched ("/jobs/{job_id}"), or "unmatched" (no route for the
  // path, or a request the parser refused before routing).
  std::string_view route;
  int status = 0;
  int64_t duration_us = 0;  // from the complete request to its response being built
};
using RequestObserver = std::function<void(const RequestRecord&)>;

class HttpServer {
 public:
  HttpServer(core::EventLoop& loop, const Router& router, HttpServerOptions options,
             ErrorRenderer render_error);
  // Closes every connection (as closeAll()). Not to be called from inside a handler.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (IPv4 or IPv6 literal address; port 0 = any). Returns "" on
  // success, else a message naming the address and the errno text.
  std::string listen(const std::string& address, uint16_t port);
  // The bound port (useful after listen(..., 0)).
  uint16_t port() const { return port_; }
  // Listens on a unix stream socket at path as well, the file getting mode (whatever the
  // umask). A socket file already there is replaced only if nobody answers on it (left by
  // a process that died); any other file is left alone and is an error. Returns "" on
  // success, else a message naming the path and the errno text.
  std::string listenUnix(const std::string& path, mode_t mode);
  // Stops accepting; open connections keep being served. Removes the unix socket's file,
  // if it is still the one listenUnix created.
  void stopListening();
  size_t connectionCount() const { return connections_.size(); }
  // Closes every open connection now, whatever it is doing (the end of a shutdown):
  // unsent output is dropped, and a streamed response in progress is cut short, without
  // its last chunk so that the client can tell, and its producer's close hook runs after
  // this batch. The connections are freed after this batch too, so it may be called from
  // any loop callback. Listening goes on unless stopListening() was called.
  void closeAll();
  // Called for every response the server produces (metrics, access logs). It runs inside
  // request handling, so it must be quick and must not touch the server.
  void setObserver(RequestObserver observer) { observer_ = std::move(observer); }
  // Every request but a CORS preflight must then pass auth's check, else it is answered
  // 401 UNAUTHORIZED with a WWW-Authenticate: Bearer challenge; auth sees the matched
  // route's pattern so that it can leave some routes open. auth must outlive the server;
  // nullptr (the default) lets every request through.
  void setAuth(const BearerAuth* auth) { auth_ = auth; }

  // Every response leaves through here: adds Content-Type: application/json and
  // Content-Length (except for 1xx/204/304, which carry no body), Cache-Control: no-store,
  // Access-Control-Allow-Origin: * and Connection. The response's own headers follow;
  // a Content-Type or Cache-Control there replaces the default; headers the server owns
  // (Content-Length, Transfer-Encoding, Connection, Access-Control-Allow-Origin) and
  // headers with CR/LF/NUL are dropped.
  // The status line says HTTP/1.0 to an HTTP/1.0 client, else HTTP/1.1.
  // A streamed response (isStreamed) gets no Content-Length and no body here: HTTP/1.1
  // says Transfer-Encoding: chunked, HTTP/1.0 relies on the close (keep_alive false).
  // Appended to out, where a connection keeps what it has still to send: the body is
  // copied once, from the response to the connection's output.
  static void serializeTo(const HttpResponse& response, bool keep_alive, int http_minor,
                          std::string* out);
  // The same as a string of its own (a rejected connection's 503; tests).
  static std::string serialize(const HttpResponse& response, bool keep_alive, int http_minor);
  // Whether response has a body to stream: stream is set and its status may carry a body.
  static bool isStreamed(const HttpResponse& response);

 private:
  friend class HttpConnection;
  // Accepts what listener's backlog holds; tcp: the connections are TCP (TCP_NODELAY).
  void onAcceptable(const core::UniqueFd& listener, bool tcp);
  void closeConnection(HttpConnection* connection);  // deferred free
  // Stops accepting for a moment (memory exhausted, or descriptors with no spare left):
  // level-triggered epoll would otherwise report the pending connection again at once,
  // forever.
  void pauseAccepting();
  // Out of descriptors (EMFILE, ENFILE): closes the spare descriptor to accept one
  // connection pending on listener, answers it 503 and closes it, then takes the spare
  // back. False if there was no spare or no connection could be accepted with it.
  bool shedWithSpareDescriptor(const core::UniqueFd& listener);
  // Best-effort 503 TOO_MANY_CONNECTIONS to a connection the server will not serve,
  // then closes it.
  void reject(core::UniqueFd fd, const std::string& message);
  void resumeAccepting();
  // Closes the unix listener and removes its file if that is still the socket we bound.
  void closeUnixListener();
  // Routes one request (CORS preflight, 401, 404, 405, handler, 500 on a throwing handler)
  // and reports it to the observer.
  HttpResponse respond(const HttpRequest& request) const;
  HttpResponse route(const HttpRequest& request, std::string* pattern) const;
  // Reports a request refused by the parser (no method or route known).
  void observeRefused(int status) const;
  // render_error_, or a plain JSON error if there is none or it throws.
  HttpResponse errorResponse(int status, std::string_view code, std::string_view message) const;

  core::EventLoop& loop_;
  const Router& router_;
  HttpServerOptions options_;
  ErrorRenderer render_error_;
  RequestObserver observer_;
  const BearerAuth* auth_ = nullptr;
  core::UniqueFd listen_fd_;
  std::unique_ptr<core::FileEvent> listen_event_;
  uint16_t port_ = 0;
  // The unix listener; its file is identified by device and inode, so that stopping
  // never removes a socket another process has bound at the same path since.
  core::UniqueFd unix_fd_;
  std::unique_ptr<core::FileEvent> unix_event_;
  std::string unix_path_;
  dev_t unix_device_ = 0;
  ino_t unix_inode_ = 0;
  std::unordered_map<HttpConnection*, std::shared_ptr<HttpConnection>> connections_;
  std::unique_ptr<core::Timer> accept_resume_timer_;
  // Held open so that running out of descriptors still leaves one to accept a pending
  // connection with and answer it, rather than leave it waiting in the backlog.
  core::UniqueFd spare_fd_;
  // One warning per episode, not one per connection.
  bool over_capacity_logged_ = false;
  bool accept_failure_logged_ = false;
};

}  // namespace wa::http
