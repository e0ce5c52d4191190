#include "docker/api_version.h"

#include <algorithm>
#include <charconv>

namespace wa::docker {
namespace {

// A run of decimal digits at the start of text, at most 4 of them (no version part is
// longer); advances text past it.
std::optional<int> leadingNumber(std::string_view& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 4) return std::nullopt;
  int value = 0;
  std::from_chars(text.data(), text.data() + digits, value);
  text.remove_prefix(digits);
  return value;
}

std::string workerRange() { return kOldestApiVersion.text() + " to " + kNewestApiVersion.text(); }

}  // namespace

std::optional<ApiVersion> ApiVersion::parse(std::string_view text) {
  const std::optional<int> major = leadingNumber(text);
  if (!major || text.empty() || text.front() != '.') return std::nullopt;
  text.remove_prefix(1);
  const std::optional<int> minor = leadingNumber(text);
  if (!minor) return std::nullopt;
  if (!text.empty()) {
    // "1.41.0": a patch part says nothing the path prefix can carry.
    if (text.front() != '.') return std::nullopt;
    text.remove_prefix(1);
    if (!leadingNumber(text) || !text.empty()) return std::nullopt;
  }
  return ApiVersion{*major, *minor};
}

std::string ApiVersion::text() const { return std::to_string(major) + "." + std::to_string(minor); }

std::string describeEngineApiRange(const EngineApiRange& engine) {
  if (!engine.max) return engine.min ? engine.min->text() + " and up" : "unknown versions";
  if (!engine.min) return "up to " + engine.max->text();
  return engine.min->text() + " to " + engine.max->text();
}

ApiNegotiation negotiateApiVersion(const EngineApiRange& engine, std::optional<ApiVersion> pinned) {
  const std::string engine_range = describeEngineApiRange(engine);
  if (pinned) {
    if (*pinned < kOldestApiVersion || *pinned > kNewestApiVersion) {
      return {std::nullopt, "docker_api_version pins Engine API " + pinned->text() +
                                ", outside the versions this worker speaks (" + workerRange() +
                                "); pin one of those, or remove the pin to negotiate"};
    }
    if ((engine.max && *pinned > *engine.max) || (engine.min && *pinned < *engine.min)) {
      return {std::nullopt, "docker_api_version pins Engine API " + pinned->text() +
                                ", which the engine does not speak (it speaks " + engine_range +
                                ", this worker " + workerRange() +
                                "); remove the pin to negotiate, or pin a version both speak"};
    }
    return {pinned, ""};
  }
  if (!engine.max) {
    return {std::nullopt,
            "the engine did not say which Engine API versions it speaks (no ApiVersion in its "
            "/version, no Api-Version header on its /_ping); this worker speaks " +
                workerRange() + ": pin one the engine is known to speak with docker_api_version"};
  }
  if (*engine.max < kOldestApiVersion) {
    return {std::nullopt, "the engine speaks Engine API " + engine_range + ", this worker " +
                              workerRange() + ": upgrade the engine to Docker 20.10 or newer"};
  }
  const ApiVersion chosen = std::min(*engine.max, kNewestApiVersion);
  if (engine.min && chosen < *engine.min) {
    return {std::nullopt,
            "the engine speaks Engine API " + engine_range + ", this worker " + workerRange() +
                ": upgrade worker-agent, or let the engine accept older clients (dockerd's "
                "DOCKER_MIN_API_VERSION environment variable or its min-api-version setting, "
                "set to " +
                kNewestApiVersion.text() + " or lower)"};
  }
  return {chosen, ""};
}

}  // namespace wa::docker
