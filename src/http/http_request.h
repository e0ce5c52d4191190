// HttpRequest / HttpResponse: one parsed request and the response a handler returns.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wa::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request-target, e.g. "/jobs/a%20b?x=1"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // target after '?', without it; "" if none
  HeaderList headers;  // names as received
  std::string body;
  int http_minor = 1;  // HTTP/1.x

  // Case-insensitive header lookup; nullptr if absent.
  const std::string* header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;  // extra headers; the server adds Content-Length, CORS, Connection
  std::string body;    // JSON text

  static HttpResponse json(int status, std::string body) {
    return HttpResponse{status, {}, std::move(body)};
  }
};

}  // namespace wa::http
