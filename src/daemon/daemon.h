// Daemon: builds the worker from its config and runs its lifecycle on one event loop:
// start-up (listen, sweep containers a previous run of this worker left), serving, and
// shutdown on SIGTERM/SIGINT (stop taking jobs, cancel runs, remove every container of
// this worker, exit), and SIGHUP reloads (the keys that can change safely are applied,
// running jobs go on). main() only parses the command line and hands over the config.
#pragma once

#include <functional>
#include <memory>

#include "config/config.h"
#include "config/config_loader.h"

namespace wa::daemon {

class Daemon {
 public:
  // reload loads the configuration again the way start-up did (the same file, the
  // environment); SIGHUP calls it. Without one, SIGHUP only logs that it cannot reload.
  explicit Daemon(config::Config config, std::function<config::LoadResult()> reload = {});
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
