// Dispatcher: what the server does with one parsed request. It answers CORS preflights,
// asks the bearer-token check, keeps the unix-socket-only routes off TCP, routes, runs the handler
// (a handler that throws becomes a 500), renders the server's own errors in the api's JSON shape,
// and reports every answered request to the observer. It knows no socket: connections call it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "http/bearer_auth.h"
#include "http/http_request.h"
#include "http/router.h"

namespace wa::http {

// Builds the body of an error the server itself produces (400, 404, 405, 408, 413, 431,
// 500, 503). code is a stable machine name such as "NOT_FOUND", "PAYLOAD_TOO_LARGE".
// The api layer supplies it so that every error in the daemon has one JSON shape.
using ErrorRenderer =
    std::function<HttpResponse(int status, std::string_view code, std::string_view message)>;

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

class Dispatcher {
 public:
  Dispatcher(const core::Clock& clock, const Router& router, ErrorRenderer render_error);

  // Routes one request (CORS preflight, 401, 404, 405, handler, 500 on a throwing handler)
  // and reports it to the observer.
  HttpResponse respond(const HttpRequest& request) const;
  // Reports a request refused by the parser (no method or route known).
  void observeRefused(int status) const;
  // render_error, or a plain JSON error if there is none or it throws.
  HttpResponse errorResponse(int status, std::string_view code, std::string_view message) const;

  // Called for every response (metrics, access logs). It runs inside request handling, so
  // it must be quick and must not touch the server.
  void setObserver(RequestObserver observer) { observer_ = std::move(observer); }
  // Every request but a CORS preflight must then pass auth's check, else it is answered
  // 401 UNAUTHORIZED with a WWW-Authenticate: Bearer challenge; auth sees the matched
  // route's pattern so that it can leave some routes open. auth must outlive the
  // dispatcher; nullptr (the default) lets every request through.
  void setAuth(const BearerAuth* auth) { auth_ = auth; }
  // Route patterns served only to requests that came in on the unix stream socket, whose
  // file mode limits who can connect: on TCP any method on them is answered 403
  // UNIX_SOCKET_ONLY, and on the socket they need no bearer token (the file mode is their
  // access control, and a reload that changes the token must not need the new one).
  void setUnixOnlyRoutes(std::vector<std::string> patterns) {
    unix_only_routes_ = std::move(patterns);
  }

 private:
  HttpResponse route(const HttpRequest& request, std::string* pattern) const;

  const core::Clock& clock_;
  const Router& router_;
  ErrorRenderer render_error_;
  RequestObserver observer_;
  const BearerAuth* auth_ = nullptr;
  std::vector<std::string> unix_only_routes_;
};

}  // namespace wa::http
