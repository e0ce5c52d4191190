// BearerAuth: an optional shared-token check for the HTTP server (RFC 6750's
// "Authorization: Bearer <token>"). It knows request headers and route patterns, nothing
// of what the routes do; which routes stay open is the daemon's to say.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_request.h"

namespace wa::http {

// True if a and b hold the same bytes. The running time depends on the lengths only, never
// on the contents or on where they first differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

// The token of an Authorization value "Bearer <token>": the scheme in any case, one or
// more spaces or tabs after it, blanks around the whole ignored. nullopt when value is
// not that (another scheme, no token, or blanks inside the token).
std::optional<std::string_view> parseBearer(std::string_view value);

class BearerAuth {
 public:
  enum class Verdict {
    kAllowed,  // no token configured, an open route, or the right token
    kMissing,  // no Authorization header
    kInvalid,  // a header that is not one Bearer token, or the wrong token
  };

  // The token requests must carry; "" turns the check off. Only its digest is kept.
  void setToken(std::string_view token);
  // Route patterns ("/health") answered without a token.
  void setOpenRoutes(std::vector<std::string> patterns) { open_routes_ = std::move(patterns); }
  bool enabled() const { return !token_digest_.empty(); }

  // Whether request, which matched route_pattern ("" when no route has its path), may be
  // answered. Only the Authorization header counts: a token in the query string does not.
  Verdict check(const HttpRequest& request, std::string_view route_pattern) const;

 private:
  // SHA-256 of the token: comparing digests of equal length hides the token's length as
  // well as its contents.
  std::string token_digest_;
  std::vector<std::string> open_routes_;
};

}  // namespace wa::http
