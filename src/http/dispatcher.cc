#include "http/dispatcher.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>

#include "core/log.h"

namespace wa::http {
namespace {

// The fallback error body's strings (a renderer that threw, or none).
std::string jsonEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

Dispatcher::Dispatcher(const core::Clock& clock, const Router& router, ErrorRenderer render_error)
    : clock_(clock), router_(router), render_error_(std::move(render_error)) {}

HttpResponse Dispatcher::respond(const HttpRequest& request) const {
  if (!observer_) {
    std::string ignored;
    return route(request, &ignored);
  }
  const core::MonoTime started = clock_.now();
  std::string pattern;
  HttpResponse response = route(request, &pattern);
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - started);
  observer_(RequestRecord{request.method, pattern.empty() ? "unmatched" : pattern, response.status,
                          elapsed.count()});
  return response;
}

void Dispatcher::observeRefused(int status) const {
  if (observer_) observer_(RequestRecord{"", "unmatched", status, 0});
}

HttpResponse Dispatcher::route(const HttpRequest& request, std::string* pattern) const {
  Router::Match match = router_.match(request.method, request.path);
  *pattern = std::move(match.pattern);
  // OPTIONS is the CORS preflight for whatever the path offers, unless a route claims
  // OPTIONS itself.
  if (request.method == "OPTIONS" && match.kind == Router::MatchKind::kWrongMethod) {
    HttpResponse response{204, {}, {}};
    response.headers.emplace_back("Access-Control-Allow-Methods", match.allow + ", OPTIONS");
    response.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, Authorization");
    response.headers.emplace_back("Access-Control-Max-Age", "600");
    return response;
  }
  // The unix socket's own routes: refused on TCP whatever the token; on the socket its file
  // mode (who may connect) is their access control, so the token does not apply to them (a
  // reload must go through while the token is being changed).
  const bool unix_only = !pattern->empty() &&
                         std::find(unix_only_routes_.begin(), unix_only_routes_.end(), *pattern) !=
                             unix_only_routes_.end();
  if (unix_only && request.transport != Transport::kUnix) {
    return errorResponse(
        403, "UNIX_SOCKET_ONLY",
        request.path + " is served on the worker's unix socket (listen_unix) only");
  }
  // Before the routing outcome: without the token, an unknown path is not told apart
  // from a known one. Browsers send no credentials on a preflight, so it stays above.
  if (auth_ != nullptr && !unix_only) {
    switch (auth_->check(request, *pattern)) {
      case BearerAuth::Verdict::kAllowed:
        break;
      case BearerAuth::Verdict::kMissing: {
        HttpResponse response = errorResponse(
            401, "UNAUTHORIZED", "this worker requires an \"Authorization: Bearer\" token");
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"worker-agent\"");
        return response;
      }
      case BearerAuth::Verdict::kInvalid: {
        // RFC 6750 section 3.1: credentials were given but are not valid.
        HttpResponse response =
            errorResponse(401, "UNAUTHORIZED",
                          "the Authorization header does not carry this worker's bearer token");
        response.headers.emplace_back("WWW-Authenticate",
                                      "Bearer realm=\"worker-agent\", error=\"invalid_token\"");
        return response;
      }
    }
  }
  switch (match.kind) {
    case Router::MatchKind::kFound:
      try {
        return (*match.handler)(request, match.params);
      } catch (const std::exception& e) {
        core::logError("http: handler for ", request.method, " ", request.path,
                       " threw: ", e.what());
      } catch (...) {
        core::logError("http: handler for ", request.method, " ", request.path,
                       " threw a non-std exception");
      }
      return errorResponse(500, "INTERNAL_ERROR", "internal error while handling the request");
    case Router::MatchKind::kNoPath:
      return errorResponse(404, "NOT_FOUND", "no such resource: " + request.path);
    case Router::MatchKind::kWrongMethod: {
      HttpResponse response = errorResponse(405, "METHOD_NOT_ALLOWED",
                                            request.method + " is not allowed on " + request.path);
      response.headers.emplace_back("Allow", match.allow);
      return response;
    }
    case Router::MatchKind::kBadEncoding:
      break;
  }
  return errorResponse(400, "BAD_REQUEST", "malformed percent-encoding in the request path");
}

HttpResponse Dispatcher::errorResponse(int status, std::string_view code,
                                       std::string_view message) const {
  if (render_error_) {
    try {
      return render_error_(status, code, message);
    } catch (const std::exception& e) {
      core::logError("http: error renderer threw: ", e.what());
    }
  }
  return HttpResponse::json(status, "{\"error\":{\"code\":\"" + jsonEscape(code) +
                                        "\",\"message\":\"" + jsonEscape(message) + "\"}}");
}

}  // namespace wa::http
