// Fuzzes job validation: any body must yield a spec or a rejection, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/job_request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const wa::api::JobRequestParser parser(wa::api::JobPolicy{},
                                                wa::jobs::ImagePolicy({"runner:*", "busybox:1"}));
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const wa::api::ParsedJob parsed = parser.parse(body);
  // Exactly one of the two outcomes, and a rejection always says why.
  if (parsed.spec.has_value() == !parsed.rejection.code.empty()) std::abort();
  if (parsed.spec && parsed.spec->job_json != body) std::abort();
  return 0;
}
