// EngineJson: the Engine API's request bodies and responses as pure functions (RapidJSON),
// so they are testable without sockets. Parsers never throw: a body that is not the JSON
// the engine documents becomes a DockerError with http_status 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "docker/docker_types.h"

namespace wa::docker {

// Body of POST /containers/create. Cmd is left out when spec.cmd is empty (the image's
// CMD runs); Memory and MemorySwap (equal: no extra swap) are left out when 0. Each
// isolation field (User, WorkingDir, NanoCpus, PidsLimit, CapDrop, SecurityOpt,
// ReadonlyRootfs, Tmpfs, Mounts, Runtime, LogConfig) is left out when empty, 0 or false,
// so a spec without them gives the same bytes as before they existed.
std::string buildCreateContainerBody(const ContainerSpec& spec);
// {"label":["key=value"]}: the filters argument of GET /containers/json.
std::string buildLabelFilter(const std::string& label);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string urlEncode(std::string_view text);

// The fromImage and tag arguments of POST /images/create for an image reference: a ':'
// after the last '/' starts the tag ("latest" when there is none, since an empty tag
// pulls every tag); a digest reference ("name@sha256:...") is fromImage whole, tag "".
struct PullArguments {
  std::string from_image;
  std::string tag;
};
PullArguments splitPullReference(std::string_view reference);

// The engine's {"message": "..."} of an error response; falls back to the body text
// (trimmed, bounded) or "HTTP <status>" when the body has no message.
std::string errorMessageFromBody(std::string_view body, long http_status);

// 201 of POST /containers/create: "Id".
Result<std::string> parseCreateResponse(std::string_view body);
// GET /version: Version, ApiVersion, MinAPIVersion, Os, Arch.
Result<EngineVersion> parseVersionResponse(std::string_view body);
// GET /info: DockerRootDir, Rootless (Podman) or SecurityOptions' "name=rootless"
// (Docker), CgroupVersion.
Result<EngineInfo> parseInfoResponse(std::string_view body);
// Why this engine cannot enforce a job's memory, CPU and pids limits, or "" when nothing
// says so: a rootless engine on cgroup v1 creates the container and silently ignores its
// limits (Podman logs "Resource limits are not supported and ignored on cgroups V1
// rootless systems"; rootless Docker needs cgroup v2 for them too).
std::string limitsUnenforcedReason(const EngineInfo& info);
// POST /containers/{id}/wait: StatusCode. A non-empty Error.Message is an error
// (carrying http_status 200: the engine answered, but the wait itself failed).
Result<int64_t> parseWaitResponse(std::string_view body);
// GET /containers/{id}/json: State.Running, State.ExitCode (only once the container has
// run and stopped: absent while running and for a container never started), State.OOMKilled,
// State.Error, Image.
Result<ContainerState> parseInspectResponse(std::string_view body);
// GET /containers/json: every entry's Id.
Result<std::vector<std::string>> parseContainerListResponse(std::string_view body);
// The same list with each container's job label (job_label names it) and state.
Result<std::vector<ContainerSummary>> parseContainerSummaries(std::string_view body,
                                                              std::string_view job_label);
// GET /images/json: every entry's Id, RepoTags, RepoDigests and Size.
Result<std::vector<ImageSummary>> parseImageList(std::string_view body);
// GET /images/{name}/json: Id, RepoDigests.
Result<ImageInfo> parseImageInspectResponse(std::string_view body);

// Bounds of StreamedResult::log_tail: its last lines, at most this many bytes.
constexpr size_t kLogTailLines = 20;
constexpr size_t kLogTailBytes = 4096;

// The 200 body of POST /images/create (build false) or POST /build (build true): JSON
// objects one after another (usually one a line, but neither split nor joined lines are
// relied on). "stream" and "status" text (not progress bars) makes log_tail; build's
// {"aux":{"ID":...}} is image_id. The first object with "error" (or errorDetail.message)
// is a DockerError with http_status 200: its text, and for a build then a newline and the
// log tail so far, which shows what failed.
Result<StreamedResult> parseProgressStream(std::string_view body, bool build);

// Whether a stderr frame of an attach stream is Podman's own report of its attach
// connection to conmon failing as the container exits ("Error: read unixpacket
// @->/proc/self/fd/14/attach: read: connection reset by peer", or "Error: write unixpacket
// @->/proc/self/fd/14/attach: write: broken pipe" when the job's stdin could not be passed
// on), which Podman 4.3 writes into the container's stderr stream before it ends the
// stream: the job never wrote it, and output still queued for Podman is lost with it.
bool isPodmanAttachError(std::string_view stderr_frame);

}  // namespace wa::docker
