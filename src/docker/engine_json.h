// EngineJson: the Engine API's request bodies and responses as pure functions (RapidJSON),
// so they are testable without sockets. Parsers never throw: a body that is not the JSON
// the engine documents becomes a DockerError with http_status 0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "docker/docker_types.h"

namespace wa::docker {

// Body of POST /containers/create. Cmd is left out when spec.cmd is empty (the image's
// CMD runs); Memory and MemorySwap (equal: no extra swap) are left out when 0.
std::string buildCreateContainerBody(const ContainerSpec& spec);
// {"label":["key=value"]}: the filters argument of GET /containers/json.
std::string buildLabelFilter(const std::string& label);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string urlEncode(std::string_view text);

// The engine's {"message": "..."} of an error response; falls back to the body text
// (trimmed, bounded) or "HTTP <status>" when the body has no message.
std::string errorMessageFromBody(std::string_view body, long http_status);

// 201 of POST /containers/create: "Id".
Result<std::string> parseCreateResponse(std::string_view body);
// GET /version: Version, ApiVersion, Os, Arch.
Result<EngineVersion> parseVersionResponse(std::string_view body);
// GET /info: DockerRootDir.
Result<EngineInfo> parseInfoResponse(std::string_view body);
// POST /containers/{id}/wait: StatusCode. A non-empty Error.Message is an error
// (carrying http_status 200: the engine answered, but the wait itself failed).
Result<int64_t> parseWaitResponse(std::string_view body);
// GET /containers/{id}/json: State.Running, State.ExitCode (only once the container has
// run and stopped: absent while running and for a container never started), State.OOMKilled,
// State.Error, Image.
Result<ContainerState> parseInspectResponse(std::string_view body);
// GET /containers/json: every entry's Id.
Result<std::vector<std::string>> parseContainerListResponse(std::string_view body);

}  // namespace wa::docker
