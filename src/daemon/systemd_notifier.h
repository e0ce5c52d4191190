// SystemdNotifier: tells the service manager how the daemon is doing (sd_notify):
// READY=1 once serving, STATUS= a one-line summary, WATCHDOG=1 from a loop timer at half
// the watchdog interval (a stuck loop stops petting it and gets restarted), RELOADING=1,
// STOPPING=1 and EXTEND_TIMEOUT_USEC. Without NOTIFY_SOCKET every call is a cheap no-op.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/event_loop.h"

namespace wa::daemon {

class SystemdNotifier {
 public:
  // summary() is asked for the STATUS= line each time the watchdog timer runs.
  SystemdNotifier(core::EventLoop& loop, std::function<std::string()> summary);

  // True when a service manager listens (NOTIFY_SOCKET is set).
  bool enabled() const { return enabled_; }
  // The watchdog interval the manager asked for, 0 if none.
  uint64_t watchdogUsec() const { return watchdog_usec_; }

  void ready();
  void reloading();
  void stopping();
  // EXTEND_TIMEOUT_USEC: the manager's timeout for the current state (the stop timeout,
  // while stopping) runs out no sooner than `by` from now. systemd never shortens it.
  void extendTimeout(core::Millis by);
  void status(const std::string& line);

 private:
  void tick();
  void send(const std::string& state);

  core::EventLoop& loop_;
  std::function<std::string()> summary_;
  bool enabled_ = false;
  uint64_t watchdog_usec_ = 0;
  std::unique_ptr<core::Timer> timer_;
  std::string last_status_;
};

}  // namespace wa::daemon
