// Where `worker-agent ctl` reaches the worker: --socket, --url, else the configuration's
// listen_unix, else its listen address and port (a wildcard address is reached on
// loopback). Pure functions of the options and the configuration.
#pragma once

#include "config/config.h"
#include "ctl/ctl_options.h"
#include "ctl/http_transport.h"

namespace wa::ctl {

// config may be null (none could be read): then only --socket and --url name the worker,
// and without them the built-in default, http://127.0.0.1:9000.
Endpoint workerEndpoint(const CtlOptions& options, const config::Config* config);

// http://listen:port, with 0.0.0.0 reached as 127.0.0.1 and :: as [::1].
Endpoint tcpEndpoint(const config::Config& config);

}  // namespace wa::ctl
