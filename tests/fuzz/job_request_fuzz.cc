// Fuzzes job validation: any body must yield a spec or a rejection, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/job_request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Every mode and the network allowed, so that build specs, files and outputs are reached;
  // each kind of allowed_images pattern, so that reference matching is too.
  static const wa::api::JobRequestParser parser = [] {
    wa::api::JobPolicy policy;
    policy.allowed_runtime_modes = {"image", "build"};
    policy.allow_network = true;
    policy.max_cpus = 2;
    return wa::api::JobRequestParser(
        policy, wa::jobs::ImagePolicy({"runner:*", "busybox:1", "127.0.0.1:5000/team/*",
                                       "app@sha256:" + std::string(64, 'a')}));
  }();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const wa::api::ParsedJob parsed = parser.parse(body);
  // Exactly one of the two outcomes, and a rejection always says why.
  if (parsed.spec.has_value() == !parsed.rejection.code.empty()) std::abort();
  if (parsed.spec && parsed.spec->job_json != body) std::abort();
  return 0;
}
