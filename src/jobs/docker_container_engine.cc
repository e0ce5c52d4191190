#include "jobs/docker_container_engine.h"

#include <utility>

#include "jobs/runner_options.h"

namespace wa::jobs {

using docker::Callback;
using docker::Unit;

core::RequestHandle DockerContainerEngine::create(const docker::ContainerSpec& spec,
                                                  Callback<std::string> done) {
  return docker_.createContainer(spec, spec.name, std::move(done));
}

core::RequestHandle DockerContainerEngine::putArchive(const std::string& id,
                                                      const std::string& path, std::string tar,
                                                      Callback<Unit> done) {
  return docker_.putArchive(id, path, std::move(tar), std::move(done));
}

std::unique_ptr<docker::AttachStream> DockerContainerEngine::attach(
    const std::string& id, docker::AttachStream::Callbacks callbacks) {
  return docker_.attach(id, std::move(callbacks));
}

std::unique_ptr<docker::AttachStream> DockerContainerEngine::follow(
    const std::string& id, docker::AttachStream::Callbacks callbacks) {
  return docker_.attach(id, std::move(callbacks), docker::AttachMode::kFollowWithLog);
}

core::RequestHandle DockerContainerEngine::start(const std::string& id, Callback<Unit> done) {
  return docker_.start(id, std::move(done));
}

core::RequestHandle DockerContainerEngine::wait(const std::string& id, Callback<int64_t> done) {
  return docker_.wait(id, std::move(done));
}

core::RequestHandle DockerContainerEngine::kill(const std::string& id, Callback<Unit> done) {
  return docker_.kill(id, std::move(done));
}

core::RequestHandle DockerContainerEngine::inspect(const std::string& id, bool fresh_connection,
                                                   Callback<docker::ContainerState> done) {
  return docker_.inspect(id, fresh_connection, std::move(done));
}

core::RequestHandle DockerContainerEngine::logs(const std::string& id, Callback<std::string> done) {
  return docker_.containerLogs(id, std::move(done));
}

core::RequestHandle DockerContainerEngine::getArchive(const std::string& id,
                                                      const std::string& path,
                                                      Callback<std::string> done) {
  return docker_.getArchive(id, path, std::move(done));
}

core::RequestHandle DockerContainerEngine::remove(const std::string& id, Callback<Unit> done) {
  return docker_.remove(id, std::move(done));
}

core::RequestHandle DockerContainerEngine::list(
    const std::string& label, Callback<std::vector<docker::ContainerSummary>> done) {
  return docker_.listContainerSummaries(label, kJobLabel, std::move(done));
}

}  // namespace wa::jobs
