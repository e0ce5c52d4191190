// EngineEndpoint: where the Docker engine listens, parsed from a DOCKER_HOST-style string.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wa::docker {

struct EngineEndpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string unix_path;  // kUnix: the socket path
  std::string host;       // kTcp: as written ("127.0.0.1", "localhost", "[::1]")
  int port = 0;           // kTcp
  std::string original;   // the docker_host string, for messages

  // "http://localhost" (unix) or "http://host:port": the URL prefix for libcurl.
  std::string urlBase() const;
  // Accepts "unix:///path/docker.sock" and "tcp://host:port" (plain HTTP); nullopt otherwise.
  static std::optional<EngineEndpoint> parse(std::string_view docker_host);
};

}  // namespace wa::docker
