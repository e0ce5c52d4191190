// Daemon: builds the worker from its config and runs its lifecycle on one event loop:
// start-up (listen, sweep containers a previous run of this worker left), serving, and
// shutdown on SIGTERM/SIGINT (stop taking jobs, cancel runs, remove every container of
// this worker, exit). main() only parses the command line and hands over the config.
#pragma once

#include <memory>

#include "config/config.h"

namespace wa::daemon {

class Daemon {
 public:
  explicit Daemon(config::Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until shut down. Returns the process exit status.
  int run();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace wa::daemon
