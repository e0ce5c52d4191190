// ContainerEngine: the Engine API calls a job's run makes, as the runner needs them. The
// daemon binds them to DockerClient (DockerContainerEngine); the runner's unit tests to a
// fake that answers by hand. Every call returns its request's handle: dropping it cancels
// the request and its callback never runs. Callbacks run later, on the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/request_handle.h"
#include "docker/attach_stream.h"
#include "docker/docker_types.h"

namespace wa::jobs {

class ContainerEngine {
 public:
  virtual ~ContainerEngine() = default;
  // Yields the new container's id.
  virtual core::RequestHandle create(const docker::ContainerSpec& spec,
                                     docker::Callback<std::string> done) = 0;
  // Extracts tar into path in the (created) container.
  virtual core::RequestHandle putArchive(const std::string& id, const std::string& path,
                                         std::string tar, docker::Callback<docker::Unit> done) = 0;
  // The hijacked stdin/stdout/stderr stream; destroying it closes the connection.
  virtual std::unique_ptr<docker::AttachStream> attach(
      const std::string& id, docker::AttachStream::Callbacks callbacks) = 0;
  // A running container's log from its start, then its output as it comes (no stdin).
  virtual std::unique_ptr<docker::AttachStream> follow(
      const std::string& id, docker::AttachStream::Callbacks callbacks) = 0;
  virtual core::RequestHandle start(const std::string& id, docker::Callback<docker::Unit> done) = 0;
  // Resolves when the container stops; yields its exit code.
  virtual core::RequestHandle wait(const std::string& id, docker::Callback<int64_t> done) = 0;
  // SIGKILL; a container that is not running is not an error.
  virtual core::RequestHandle kill(const std::string& id, docker::Callback<docker::Unit> done) = 0;
  // fresh_connection: on a new connection, whose refusal shows an engine that went away.
  virtual core::RequestHandle inspect(const std::string& id, bool fresh_connection,
                                      docker::Callback<docker::ContainerState> done) = 0;
  // The container's log (multiplexed frames), as its log driver kept it.
  virtual core::RequestHandle logs(const std::string& id, docker::Callback<std::string> done) = 0;
  // The tar of path in the container; a missing path is a DockerError with status 404.
  virtual core::RequestHandle getArchive(const std::string& id, const std::string& path,
                                         docker::Callback<std::string> done) = 0;
  // Force-removes the container and its anonymous volumes; one already gone is not an error.
  virtual core::RequestHandle remove(const std::string& id,
                                     docker::Callback<docker::Unit> done) = 0;
  // The containers carrying label "key=value", with their job label and state.
  virtual core::RequestHandle list(
      const std::string& label, docker::Callback<std::vector<docker::ContainerSummary>> done) = 0;
};

}  // namespace wa::jobs
