// DockerClient: typed, non-blocking Docker Engine API calls on the event loop.
// Plain requests go through libcurl's multi socket interface (CurlMulti); attach uses
// a hijacked raw connection (AttachStream), which libcurl cannot hand over.
// Every callback runs on the loop, never synchronously inside the call that started it.
// Each call returns the request's handle: destroying it cancels the request, and its
// callback never runs. Destroying the client aborts everything in flight without running
// callbacks.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/event_loop.h"
#include "core/request_handle.h"
#include "docker/attach_stream.h"
#include "docker/docker_types.h"

namespace wa::docker {

class CurlMulti;

// Told about every failed call, by endpoint name: "ping", "version", "info", "create",
// "attach", "start", "wait", "inspect", "kill", "remove", "list", "image_inspect", "pull",
// "build", "logs", "archive_put", "archive_get", "image_list", "image_remove". Outcomes the client
// treats as success (kill of a stopped container, remove of a missing one) are not errors.
using DockerErrorObserver =
    std::function<void(std::string_view endpoint, const DockerError& error)>;

class DockerClient {
 public:
  // docker_host: "unix:///path/docker.sock" or "tcp://host:port" (plain HTTP).
  DockerClient(core::EventLoop& loop, std::string docker_host);
  ~DockerClient();
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;

  // The Engine API version every call but ping and version is prefixed with ("1.41" gives
  // "/v1.41/..."): 1.41 until set, which the engine monitor does once it has negotiated one
  // (api_version.h). Calls already sent keep the version they were sent with.
  void setApiVersion(const std::string& version);
  const std::string& apiVersion() const;

  // ping and inspect (unless told otherwise) open a new connection each time: they are how
  // the worker learns
  // whether the engine still listens, which an old kept-alive connection cannot tell (a
  // stopping engine closes its listener first, then stops its containers, answering
  // on the connections already open all the while).
  // ping and version are unversioned, as Docker's clients send them to negotiate: an
  // engine answers them whatever the versions it speaks.
  core::RequestHandle ping(Callback<Unit> done);
  // ping that yields the engine's Api-Version header (the newest version it speaks), ""
  // when it sends none.
  core::RequestHandle pingApiVersion(Callback<std::string> done);
  core::RequestHandle version(Callback<EngineVersion> done);
  core::RequestHandle info(Callback<EngineInfo> done);
  // POST /containers/create?name=...; yields the container id.
  core::RequestHandle createContainer(const ContainerSpec& spec, const std::string& name,
                                      Callback<std::string> done);
  // Hijacked POST /containers/{id}/attach: ?stream=1&stdin=1&stdout=1&stderr=1 for a job's
  // stdio, ?logs=1&stream=1&stdout=1&stderr=1 to follow a running container.
  std::unique_ptr<AttachStream> attach(const std::string& id, AttachStream::Callbacks callbacks,
                                       AttachMode mode = AttachMode::kJobStdio);
  core::RequestHandle start(const std::string& id, Callback<Unit> done);
  // POST /containers/{id}/wait: resolves when the container stops; yields StatusCode.
  core::RequestHandle wait(const std::string& id, Callback<int64_t> done);
  // fresh_connection false: on a kept-alive connection, when nothing hangs on whether the
  // engine still listens.
  core::RequestHandle inspect(const std::string& id, bool fresh_connection,
                              Callback<ContainerState> done);
  // POST /containers/{id}/kill (SIGKILL). A container that is not running is not an error.
  core::RequestHandle kill(const std::string& id, Callback<Unit> done);
  // DELETE /containers/{id}?force=1&v=1. A container already gone is not an error.
  core::RequestHandle remove(const std::string& id, Callback<Unit> done);
  // GET /containers/json?all=1 filtered by label "key=value"; yields container ids.
  core::RequestHandle listContainers(const std::string& label,
                                     Callback<std::vector<std::string>> done);
  // The same list with each container's state and its job_label label.
  core::RequestHandle listContainerSummaries(const std::string& label, const std::string& job_label,
                                             Callback<std::vector<ContainerSummary>> done);

  // GET /images/{name}/json. A missing image is a DockerError with http_status 404.
  core::RequestHandle inspectImage(const std::string& reference, Callback<ImageInfo> done);
  // GET /images/json (tagged and untagged images, no intermediate layers).
  core::RequestHandle listImages(Callback<std::vector<ImageSummary>> done);
  // DELETE /images/{id}?force=0&noprune=0: the image and its parent layers no other image
  // uses. Refused (409) while a container uses it. An image already gone is not an error.
  core::RequestHandle removeImage(const std::string& id, Callback<Unit> done);
  // POST /images/create?fromImage=...&tag=... (tag from the reference, "latest" if none;
  // a digest reference pulls by digest). registry_auth is the X-Registry-Auth header
  // value (base64url JSON) or empty. An {"error": ...} line in the progress stream is a
  // DockerError (http_status 200) carrying the registry's message. timeout_ms 0: none.
  core::RequestHandle pullImage(const std::string& reference, const std::string& registry_auth,
                                long timeout_ms, Callback<StreamedResult> done);
  // POST /build?t=tag&dockerfile=Dockerfile&rm=1&forcerm=1 with context_tar as the body
  // (application/x-tar). An {"error": ...} line is a DockerError (http_status 200) whose
  // message is the error followed by the log tail. timeout_ms 0: none.
  core::RequestHandle buildImage(const std::string& tag, std::string context_tar, long timeout_ms,
                                 Callback<StreamedResult> done);
  // PUT /containers/{id}/archive?path=... : extracts tar into path in the container
  // (which must exist; a created container's volumes count).
  core::RequestHandle putArchive(const std::string& id, const std::string& path, std::string tar,
                                 Callback<Unit> done);
  // GET /containers/{id}/logs?stdout=1&stderr=1 : the container's log as the engine kept it
  // (its log driver's), multiplexed like the attach stream. Useless with driver "none".
  core::RequestHandle containerLogs(const std::string& id, Callback<std::string> done);
  // GET /containers/{id}/archive?path=... : the tar of path (a file or a directory).
  // A missing path is a DockerError with http_status 404.
  core::RequestHandle getArchive(const std::string& id, const std::string& path,
                                 Callback<std::string> done);

  // Runs just before a failed call's callback (metrics). Must not call back into the client.
  void setErrorObserver(DockerErrorObserver observer);

  // Requests currently in flight (for shutdown and tests).
  size_t inFlight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wa::docker
