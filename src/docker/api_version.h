// ApiVersion: an Engine API version ("1.41"), and the choice of the version the worker
// speaks to an engine, made as Docker's own clients make it: the highest version both
// sides support. Pure functions, no I/O; the engine monitor feeds them what the engine's
// unversioned GET /_ping and GET /version said.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wa::docker {

struct ApiVersion {
  int major = 0;
  int minor = 0;

  // "1.41" (a third part, "1.41.0", is ignored); nullopt for anything else ("", "v1.41",
  // "1", "1.x").
  static std::optional<ApiVersion> parse(std::string_view text);
  // "1.41": what the path prefix and the documents spell.
  std::string text() const;
  bool operator==(const ApiVersion&) const = default;
  friend bool operator<(const ApiVersion& a, const ApiVersion& b) {
    return a.major != b.major ? a.major < b.major : a.minor < b.minor;
  }
  friend bool operator>(const ApiVersion& a, const ApiVersion& b) { return b < a; }
};

// The range the worker is tested against (docs/ENGINES.md): Debian 12's docker.io 20.10
// speaks 1.41 at most, Docker 29 speaks 1.44 at least and 1.52 at most.
inline constexpr ApiVersion kOldestApiVersion{1, 41};
inline constexpr ApiVersion kNewestApiVersion{1, 52};

// What an engine said of itself; either bound may be unknown.
struct EngineApiRange {
  std::optional<ApiVersion> max;  // /version's ApiVersion, else /_ping's Api-Version header
  std::optional<ApiVersion> min;  // /version's MinAPIVersion; unknown: no minimum said
};

// The engine's range in words: "1.44 to 1.52", "up to 1.41", "unknown".
std::string describeEngineApiRange(const EngineApiRange& engine);

struct ApiNegotiation {
  std::optional<ApiVersion> version;  // what to speak; nullopt when no version fits
  // When no version fits: why, naming the engine's range and the worker's, and what the
  // operator can do. "" when version is set.
  std::string problem;
};

// The version to speak to an engine with that range. Without pinned: the highest
// version in both the engine's range and [kOldestApiVersion, kNewestApiVersion] (an
// engine that said no maximum speaks none the worker knows). With pinned (the
// docker_api_version key, or DOCKER_API_VERSION): that version, if both ranges hold it.
ApiNegotiation negotiateApiVersion(const EngineApiRange& engine,
                                   std::optional<ApiVersion> pinned = std::nullopt);

}  // namespace wa::docker
