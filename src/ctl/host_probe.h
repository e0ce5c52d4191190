// host_probe: the facts `worker-agent ctl check` judges (checks.h), read from this host:
// the engine socket's owner and mode, the service user's groups and its unit's
// SupplementaryGroups=, the engine's answers, whether listen:port can be bound. Blocking
// calls, fit for the ctl only.
#pragma once

#include <chrono>
#include <string>

#include "ctl/checks.h"
#include "ctl/http_transport.h"

namespace wa::ctl {

// stat(2) of path, with the owner's and group's names.
SocketFacts probeSocket(const std::string& path);

// name, or when empty: worker-agent when that user exists, else the user running this.
// Its groups from the group database, and the SupplementaryGroups= of the installed
// worker-agent.service and its drop-ins under /etc and /run.
ServiceUser probeServiceUser(const std::string& name);

// Where docker_host ("unix:///path", "tcp://host:port") is reached; nullopt-like empty
// endpoint (both fields empty) when it cannot be parsed.
Endpoint engineEndpoint(const std::string& docker_host);

// GET /_ping, /version and /info of the engine at docker_host.
EngineFacts probeEngine(const std::string& docker_host, std::chrono::seconds timeout);

// 0 when address:port could be bound now (nothing listens there), else the errno of
// socket(2) or bind(2). The socket is closed at once.
int probeBind(const std::string& address, int port);

}  // namespace wa::ctl
