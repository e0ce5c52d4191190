#include "http/router.h"

#include <cstdlib>

#include "core/log.h"

namespace wa::http {
namespace {

// "/" -> {""}, "/jobs" -> {"jobs"}, "/jobs/" -> {"jobs", ""}: a trailing slash is an
// empty last segment, so "/jobs/" and "/jobs" are different paths.
std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  path.remove_prefix(1);
  for (;;) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool isParameter(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// Whether an Allow list ("GET, DELETE") names method.
bool listsMethod(std::string_view list, std::string_view method) {
  for (;;) {
    const size_t comma = list.find(", ");
    if (list.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 2);
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string& RouteParams::get(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [key, value] : values) {
    if (key == name) return value;
  }
  return kEmpty;
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  // Routes are fixed at startup by code: a malformed pattern is a bug, not input.
  if (pattern.empty() || pattern.front() != '/' || method.empty() || !handler) {
    core::logError("fatal: bad route ", method, " ", pattern);
    std::abort();
  }
  Route route{std::move(method), pattern, {}, std::move(handler)};
  for (std::string_view segment : splitPath(pattern)) route.segments.emplace_back(segment);
  routes_.push_back(std::move(route));
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match result;
  // "*" (OPTIONS *) and authority-form targets (CONNECT) name no route.
  if (path.empty() || path.front() != '/') return result;

  const std::vector<std::string_view> raw = splitPath(path);
  // Only a segment with a %-escape is decoded (never to "": an escape is one byte); the
  // others are their own decoding.
  std::vector<std::string> decoded(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i].find('%') != std::string_view::npos && !percentDecode(raw[i], &decoded[i])) {
      result.kind = MatchKind::kBadEncoding;
      return result;
    }
  }
  const auto value = [&](size_t i) {
    return decoded[i].empty() ? raw[i] : std::string_view(decoded[i]);
  };

  bool path_exists = false;
  for (const Route& route : routes_) {
    if (route.segments.size() != raw.size()) continue;
    bool matches = true;
    bool has_nul = false;
    for (size_t i = 0; i < raw.size() && matches; ++i) {
      if (isParameter(route.segments[i])) {
        matches = !raw[i].empty();
        has_nul = has_nul || value(i).find('\0') != std::string_view::npos;
      } else {
        matches = route.segments[i] == value(i);
      }
    }
    if (!matches) continue;
    // A NUL would truncate the value wherever it meets a C API (container names, paths).
    if (has_nul) {
      result = Match{};
      result.kind = MatchKind::kBadEncoding;
      return result;
    }
    if (!path_exists) result.pattern = route.pattern;
    path_exists = true;
    if (result.kind != MatchKind::kFound && route.method == method) {
      result.kind = MatchKind::kFound;
      result.pattern = route.pattern;
      result.handler = &route.handler;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (isParameter(route.segments[i])) {
          const std::string& segment = route.segments[i];
          result.params.values.emplace_back(segment.substr(1, segment.size() - 2), value(i));
        }
      }
    }
    // In registration order; a method that matches through two patterns ("/jobs/{id}"
    // and "/jobs/new") once.
    if (!listsMethod(result.allow, route.method)) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += route.method;
    }
  }
  if (result.kind != MatchKind::kFound) {
    result.kind = path_exists ? MatchKind::kWrongMethod : MatchKind::kNoPath;
  }
  return result;
}

bool percentDecode(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    const int high = hexValue(s[i + 1]);
    const int low = hexValue(s[i + 2]);
    if (high < 0 || low < 0) return false;
    out->push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

bool parseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2"
    const size_t eq = pair.find('=');
    // In a query '+' means space; replace before decoding so that "%2B" stays a '+'.
    std::string key(pair.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    for (char& c : key) c = c == '+' ? ' ' : c;
    for (char& c : value) c = c == '+' ? ' ' : c;
    std::string decoded_key;
    std::string decoded_value;
    if (!percentDecode(key, &decoded_key) || !percentDecode(value, &decoded_value)) return false;
    out->emplace_back(std::move(decoded_key), std::move(decoded_value));
  }
  return true;
}

}  // namespace wa::http
