// `worker-agent ctl`: the operator's command, run as its own process (main.cc hands it
// the arguments after "ctl"). It reads the worker's configuration to find the worker and
// its token, then asks the worker over HTTP (the unix socket for the operator's routes);
// `check` looks at the host itself. It may block: it never runs inside the daemon.
#pragma once

#include <string_view>
#include <vector>

namespace wa::ctl {

// Runs the command line args (without the program name and "ctl"); returns the exit
// status (ctl_options.h).
int runCtl(const std::vector<std::string_view>& args);

}  // namespace wa::ctl
