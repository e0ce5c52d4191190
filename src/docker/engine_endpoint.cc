#include "docker/engine_endpoint.h"

#include <charconv>

namespace wa::docker {

std::string EngineEndpoint::urlBase() const {
  if (kind == Kind::kUnix) return "http://localhost";
  return "http://" + host + ":" + std::to_string(port);
}

std::optional<EngineEndpoint> EngineEndpoint::parse(std::string_view docker_host) {
  EngineEndpoint endpoint;
  endpoint.original = std::string(docker_host);
  constexpr std::string_view kUnixScheme = "unix://";
  constexpr std::string_view kTcpScheme = "tcp://";
  if (docker_host.starts_with(kUnixScheme)) {
    std::string_view path = docker_host.substr(kUnixScheme.size());
    if (path.empty() || path.front() != '/') return std::nullopt;
    endpoint.kind = Kind::kUnix;
    endpoint.unix_path = std::string(path);
    return endpoint;
  }
  if (docker_host.starts_with(kTcpScheme)) {
    std::string_view rest = docker_host.substr(kTcpScheme.size());
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string_view host = rest.substr(0, colon);
    std::string_view port_text = rest.substr(colon + 1);
    // An IPv6 literal must be bracketed, or its own colons would be taken for the port's.
    if (host.find(':') != std::string_view::npos && !(host.front() == '[' && host.back() == ']'))
      return std::nullopt;
    if (host.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port <= 0 ||
        port > 65535)
      return std::nullopt;
    endpoint.kind = Kind::kTcp;
    endpoint.host = std::string(host);
    endpoint.port = port;
    return endpoint;
  }
  return std::nullopt;
}

}  // namespace wa::docker
