// Fuzzes the HTTP request path: arbitrary bytes, split at a fuzzer-chosen point, through
// the llhttp wrapper and the router, as a connection would feed them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/http_parser.h"
#include "http/router.h"

namespace {

const wa::http::Router& router() {
  static const wa::http::Router* r = [] {
    auto* router = new wa::http::Router();
    auto ok = [](const wa::http::HttpRequest&, const wa::http::RouteParams&) {
      return wa::http::HttpResponse::json(200, "{}");
    };
    router->add("GET", "/health", ok);
    router->add("POST", "/jobs", ok);
    router->add("GET", "/jobs/{job_id}", ok);
    router->add("DELETE", "/jobs/{job_id}", ok);
    return router;
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks where the stream is split, as two reads would split it.
  const size_t split = data[0] % size;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  wa::http::HttpParser parser(4096, 65536);
  std::string_view parts[2] = {input.substr(0, split),
                               input.substr(split < input.size() ? split : input.size())};
  for (std::string_view part : parts) {
    while (!part.empty()) {
      size_t consumed = 0;
      const auto result = parser.feed(part, &consumed);
      if (result == wa::http::HttpParser::Result::kError) return 0;
      part.remove_prefix(consumed);
      if (result == wa::http::HttpParser::Result::kRequest) {
        const wa::http::HttpRequest request = parser.takeRequest();
        const auto match = router().match(request.method, request.path);
        if (match.kind == wa::http::Router::MatchKind::kFound && match.handler)
          (*match.handler)(request, match.params);
        std::vector<std::pair<std::string, std::string>> query;
        wa::http::parseQuery(request.query, &query);
      } else if (consumed == 0) {
        break;
      }
    }
  }
  return 0;
}
