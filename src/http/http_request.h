// HttpRequest / HttpResponse: one parsed request and the response a handler returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/responder.h"
#include "http/stream_writer.h"

namespace wa::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Where a request came in: the TCP listener, or the unix stream socket (listen_unix), whose
// file mode decides who may connect (Dispatcher::setUnixOnlyRoutes).
enum class Transport : uint8_t { kTcp, kUnix };

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request-target, e.g. "/jobs/a%20b?x=1"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // target after '?', without it; "" if none
  HeaderList headers;  // names as received
  std::string body;
  int http_minor = 1;  // HTTP/1.x
  Transport transport = Transport::kTcp;

  // Case-insensitive header lookup; nullptr if absent.
  const std::string* header(std::string_view name) const;
};

// Starts a streamed body: receives the writer once the response head is queued.
using StreamStart = std::function<void(StreamWriterPtr writer)>;
// Starts the work that decides a deferred response: receives its responder.
using DeferredStart = std::function<void(ResponderPtr responder)>;

struct HttpResponse {
  int status = 200;
  HeaderList headers;      // extra headers; the server adds Content-Length, CORS, Connection
  std::string body;        // JSON text; unused when stream is set
  StreamStart stream;      // set: the body is streamed (see streamed())
  DeferredStart deferred;  // set: the response comes later (see later())

  static HttpResponse json(int status, std::string body) {
    return HttpResponse{status, {}, std::move(body)};
  }
  // A response whose body is produced later, piece by piece. The head goes out without
  // Content-Length (HTTP/1.1: Transfer-Encoding: chunked; HTTP/1.0: Connection: close),
  // then start runs once, right after the handler has returned and still inside the
  // request's event, with the writer for the body. It may write and end at once or keep
  // the writer and write from later events. Requests the client pipelined behind this
  // one wait until the body ends. start never runs for HEAD, whose answer is the head
  // alone, nor for a status that has no body (1xx, 204, 304).
  static HttpResponse streamed(int status, std::string content_type, StreamStart start) {
    HttpResponse response{status, {}, {}, std::move(start)};
    response.headers.emplace_back("Content-Type", std::move(content_type));
    return response;
  }
  // A response decided later: start runs once, right after the handler has returned and
  // still inside the request's event, with the responder through which the response is
  // sent (then, or from a later event). Requests the client pipelined behind this one
  // wait for it. status is what the request observer (metrics) records for it.
  static HttpResponse later(int status, DeferredStart start) {
    HttpResponse response{status, {}, {}, {}, std::move(start)};
    return response;
  }
};

}  // namespace wa::http
