// Router: maps method + path pattern to a handler. Patterns are literal segments and
// "{name}" segments, each matching one non-empty segment, handed over percent-decoded.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_request.h"

namespace wa::http {

struct RouteParams {
  std::vector<std::pair<std::string, std::string>> values;
  // The decoded value of {name}; "" if the pattern has no such segment.
  const std::string& get(std::string_view name) const;
};

using Handler = std::function<HttpResponse(const HttpRequest&, const RouteParams&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);

  enum class MatchKind { kFound, kNoPath, kWrongMethod, kBadEncoding };
  struct Match {
    MatchKind kind = MatchKind::kNoPath;
    const Handler* handler = nullptr;  // set when kFound
    RouteParams params;                // set when kFound
    // Methods registered for the path, in registration order, e.g. "GET, DELETE".
    // Set for kWrongMethod (the Allow header) and also for kFound.
    std::string allow;
    // The pattern that matched the path ("/jobs/{job_id}"), for kFound and kWrongMethod;
    // "" otherwise. Bounded by the routes, so fit for a metric label.
    std::string pattern;
  };
  // Matches a still-encoded path (no query). kBadEncoding: a malformed %-escape or a
  // decoded NUL in a parameter.
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Percent-decodes s ('+' is left alone). Returns false on a malformed escape.
bool percentDecode(std::string_view s, std::string* out);
// Parses "a=1&b=x%20y" into decoded pairs ('+' means space here). False on bad escapes.
bool parseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out);

}  // namespace wa::http
