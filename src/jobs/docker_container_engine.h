// DockerContainerEngine: ContainerEngine on a real Engine API client.
#pragma once

#include "docker/docker_client.h"
#include "jobs/container_engine.h"

namespace wa::jobs {

class DockerContainerEngine final : public ContainerEngine {
 public:
  explicit DockerContainerEngine(docker::DockerClient& docker) : docker_(docker) {}

  core::RequestHandle create(const docker::ContainerSpec& spec,
                             docker::Callback<std::string> done) override;
  core::RequestHandle putArchive(const std::string& id, const std::string& path, std::string tar,
                                 docker::Callback<docker::Unit> done) override;
  std::unique_ptr<docker::AttachStream> attach(const std::string& id,
                                               docker::AttachStream::Callbacks callbacks) override;
  std::unique_ptr<docker::AttachStream> follow(const std::string& id,
                                               docker::AttachStream::Callbacks callbacks) override;
  core::RequestHandle start(const std::string& id, docker::Callback<docker::Unit> done) override;
  core::RequestHandle wait(const std::string& id, docker::Callback<int64_t> done) override;
  core::RequestHandle kill(const std::string& id, docker::Callback<docker::Unit> done) override;
  core::RequestHandle inspect(const std::string& id, bool fresh_connection,
                              docker::Callback<docker::ContainerState> done) override;
  core::RequestHandle logs(const std::string& id, docker::Callback<std::string> done) override;
  core::RequestHandle getArchive(const std::string& id, const std::string& path,
                                 docker::Callback<std::string> done) override;
  core::RequestHandle remove(const std::string& id, docker::Callback<docker::Unit> done) override;
  core::RequestHandle list(const std::string& label,
                           docker::Callback<std::vector<docker::ContainerSummary>> done) override;

 private:
  docker::DockerClient& docker_;
};

}  // namespace wa::jobs
