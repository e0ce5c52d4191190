#include "ctl/worker_endpoint.h"

#include <string>

namespace wa::ctl {

Endpoint tcpEndpoint(const config::Config& config) {
  std::string host = config.listen;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return {"", "http://" + host + ":" + std::to_string(config.port)};
}

Endpoint workerEndpoint(const CtlOptions& options, const config::Config* config) {
  if (!options.socket_path.empty()) return {options.socket_path, ""};
  if (!options.url.empty()) return {"", options.url};
  if (config == nullptr) return {"", "http://127.0.0.1:9000"};
  if (!config->listen_unix.empty()) return {config->listen_unix, ""};
  return tcpEndpoint(*config);
}

}  // namespace wa::ctl
