// HttpServer: accepts HTTP/1.1 connections on the loop and hands each parsed request to
// its Dispatcher. Keep-alive and pipelining (responses in request order), Content-Length
// and chunked bodies, header/body size limits, header and idle timeouts, a connection cap,
// and streamed response bodies (HttpResponse::streamed, StreamWriter) with a bounded
// buffer per connection. Listens on TCP and optionally on a unix stream socket as well
// (Listener); connections from either are served alike. An optional BearerAuth gates
// every request. It owns the connections and frees each after the batch it closed in.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/unique_fd.h"
#include "http/bearer_auth.h"
#include "http/dispatcher.h"
#include "http/http_connection.h"
#include "http/http_options.h"
#include "http/listener.h"
#include "http/router.h"

namespace wa::http {

class HttpServer final : private ListenerOwner, private ConnectionOwner {
 public:
  HttpServer(core::EventLoop& loop, const Router& router, HttpServerOptions options,
             ErrorRenderer render_error);
  // Closes every connection at once. Not to be called from inside a handler.
  ~HttpServer() override;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // See Listener: "" on success, else why not.
  std::string listen(const std::string& address, uint16_t port) {
    return listener_.listen(address, port);
  }
  uint16_t port() const { return listener_.port(); }
  std::string listenUnix(const std::string& path, mode_t mode) {
    return listener_.listenUnix(path, mode);
  }
  // Stops accepting; open connections keep being served. Removes the unix socket's file,
  // if it is still the one listenUnix created.
  void stopListening() { listener_.stop(); }
  size_t connectionCount() const { return connections_.size(); }
  // Closes every open connection now, whatever it is doing (the end of a shutdown):
  // unsent output is dropped, and a streamed response in progress is cut short, without
  // its last chunk so that the client can tell, and its producer's close hook runs after
  // this batch. The connections are freed after this batch too, so it may be called from
  // any loop callback. Listening goes on unless stopListening() was called.
  void closeAll();
  // See Dispatcher.
  void setObserver(RequestObserver observer) { dispatcher_.setObserver(std::move(observer)); }
  void setAuth(const BearerAuth* auth) { dispatcher_.setAuth(auth); }
  void setUnixOnlyRoutes(std::vector<std::string> patterns) {
    dispatcher_.setUnixOnlyRoutes(std::move(patterns));
  }

 private:
  // ListenerOwner
  void onAccepted(core::UniqueFd fd, bool tcp) override;
  void shed(core::UniqueFd fd, const std::string& message) override;
  size_t openConnections() const override { return connections_.size(); }
  // ConnectionOwner: frees it after the current batch (it is usually inside its own
  // callback).
  void connectionClosed(HttpConnection* connection) override;

  core::EventLoop& loop_;
  HttpServerOptions options_;
  Dispatcher dispatcher_;
  ConnectionContext context_;
  std::unordered_map<HttpConnection*, std::unique_ptr<HttpConnection>> connections_;
  bool over_capacity_logged_ = false;  // one warning per episode, not one per connection
  Listener listener_;                  // last: it calls back into everything above
};

}  // namespace wa::http
