#include "http/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "core/log.h"
#include "http/response_writer.h"

namespace wa::http {

HttpServer::HttpServer(core::EventLoop& loop, const Router& router, HttpServerOptions options,
                       ErrorRenderer render_error)
    : loop_(loop),
      options_(options),
      dispatcher_(loop.clock(), router, std::move(render_error)),
      context_{loop, options_, dispatcher_, *this},
      listener_(loop, *this) {}

HttpServer::~HttpServer() {
  // Connections go first (their watchers and timers belong to the loop, which outlives
  // us); any already in the loop's graveyard no longer touch the server.
  connections_.clear();
}

void HttpServer::closeAll() {
  // close() removes each connection from connections_: walk a copy.
  std::vector<HttpConnection*> open;
  open.reserve(connections_.size());
  for (const auto& [connection, owner] : connections_) open.push_back(connection);
  for (HttpConnection* connection : open) connection->close();
}

void HttpServer::onAccepted(core::UniqueFd fd, bool tcp) {
  if (connections_.size() >= options_.max_connections) {
    if (!over_capacity_logged_) {
      core::logWarning("http: connection limit of ", options_.max_connections,
                       " reached; refusing new connections with 503");
      over_capacity_logged_ = true;
    }
    shed(std::move(fd), "the server has " + std::to_string(options_.max_connections) +
                            " connections open; retry later");
    return;
  }
  over_capacity_logged_ = false;
  const int one = 1;
  // Responses are written whole; Nagle would only delay the last segment.
  if (tcp && ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    core::logWarning("http: TCP_NODELAY: ", std::strerror(errno));
  }
  auto connection = std::make_unique<HttpConnection>(context_, std::move(fd),
                                                     tcp ? Transport::kTcp : Transport::kUnix);
  HttpConnection* key = connection.get();
  connections_.emplace(key, std::move(connection));
}

void HttpServer::shed(core::UniqueFd fd, const std::string& message) {
  const std::string response =
      serializeResponse(dispatcher_.errorResponse(503, "TOO_MANY_CONNECTIONS", message), false, 1);
  // Best effort: a fresh socket's send buffer takes a small response whole, and if not
  // the client gets a closed connection, which it must handle anyway.
  if (::send(fd.get(), response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    core::logDebug("http: send 503: ", std::strerror(errno));
  }
  // Read what the request already delivered, so that closing does not turn into a RST
  // that could discard the 503 before the client reads it.
  char buffer[4096];
  for (int i = 0; i < 16 && ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT) > 0; ++i) {
  }
  ::shutdown(fd.get(), SHUT_WR);  // result irrelevant: the fd closes next either way
}

void HttpServer::connectionClosed(HttpConnection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  loop_.deferredDelete(std::move(it->second));
  connections_.erase(it);
}

}  // namespace wa::http
