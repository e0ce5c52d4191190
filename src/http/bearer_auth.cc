#include "http/bearer_auth.h"

#include <strings.h>

#include <algorithm>

#include "core/sha256.h"

namespace wa::http {
namespace {

constexpr std::string_view kScheme = "Bearer";
constexpr std::string_view kHeader = "Authorization";

bool isBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // No early exit: every byte of the longer input is visited and the differences are
  // folded into one value. volatile keeps the compiler from turning the fold back into a
  // comparison that stops at the first difference.
  volatile unsigned char difference = a.size() == b.size() ? 0 : 1;
  const size_t length = std::max(a.size(), b.size());
  for (size_t i = 0; i < length; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference = static_cast<unsigned char>(difference | (x ^ y));
  }
  return difference == 0;
}

std::optional<std::string_view> parseBearer(std::string_view value) {
  value = trimBlanks(value);
  if (value.size() <= kScheme.size() ||
      ::strncasecmp(value.data(), kScheme.data(), kScheme.size()) != 0 ||
      !isBlank(value[kScheme.size()])) {
    return std::nullopt;
  }
  const std::string_view token = trimBlanks(value.substr(kScheme.size()));
  if (token.empty() || std::any_of(token.begin(), token.end(), isBlank)) return std::nullopt;
  return token;
}

void BearerAuth::setToken(std::string_view token) {
  token_digest_ = token.empty() ? std::string() : core::sha256Hex(token);
}

BearerAuth::Verdict BearerAuth::check(const HttpRequest& request,
                                      std::string_view route_pattern) const {
  if (!enabled()) return Verdict::kAllowed;
  // The pattern, not the raw path: "/%68ealth" is the route "/health" too, and the router
  // has already decided which route a path is.
  if (!route_pattern.empty() &&
      std::find(open_routes_.begin(), open_routes_.end(), route_pattern) != open_routes_.end()) {
    return Verdict::kAllowed;
  }
  const std::string* value = nullptr;
  for (const auto& [name, field] : request.headers) {
    if (name.size() != kHeader.size() ||
        ::strncasecmp(name.data(), kHeader.data(), kHeader.size()) != 0) {
      continue;
    }
    // Two credentials leave it open which one a proxy in front of us checked.
    if (value != nullptr) return Verdict::kInvalid;
    value = &field;
  }
  if (value == nullptr) return Verdict::kMissing;
  const std::optional<std::string_view> token = parseBearer(*value);
  if (!token) return Verdict::kInvalid;
  return constantTimeEquals(core::sha256Hex(*token), token_digest_) ? Verdict::kAllowed
                                                                    : Verdict::kInvalid;
}

}  // namespace wa::http
