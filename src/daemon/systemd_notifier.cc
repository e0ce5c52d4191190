#include "daemon/systemd_notifier.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <cstring>

#include "core/log.h"

namespace wa::daemon {
namespace {
// STATUS= is refreshed at least this often even without a watchdog.
constexpr core::Millis kStatusInterval{1000};
}  // namespace

SystemdNotifier::SystemdNotifier(core::EventLoop& loop, std::function<std::string()> summary)
    : loop_(loop), summary_(std::move(summary)) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  if (!enabled_) return;
  uint64_t usec = 0;
  // 0 for unset_environment: the variables stay for the process's own later checks.
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_usec_ = usec;
  timer_ = loop_.createTimer([this] { tick(); });
}

void SystemdNotifier::send(const std::string& state) {
  if (!enabled_) return;
  const int r = sd_notify(0, state.c_str());
  if (r < 0) core::logWarning("sd_notify failed: ", std::strerror(-r));
}

void SystemdNotifier::ready() {
  if (!enabled_) return;
  send("READY=1\nSTATUS=" + summary_());
  tick();
}

void SystemdNotifier::reloading() {
  // Type=notify-reload wants the monotonic time the reload started with RELOADING=1.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec =
      static_cast<uint64_t>(now.tv_sec) * 1'000'000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SystemdNotifier::stopping() { send("STOPPING=1"); }

void SystemdNotifier::extendTimeout(core::Millis by) {
  send("EXTEND_TIMEOUT_USEC=" + std::to_string(static_cast<uint64_t>(by.count()) * 1000u));
}

void SystemdNotifier::status(const std::string& line) {
  if (line == last_status_) return;
  last_status_ = line;
  send("STATUS=" + line);
}

void SystemdNotifier::tick() {
  if (watchdog_usec_ > 0) send("WATCHDOG=1");
  status(summary_());
  core::Millis next = kStatusInterval;
  if (watchdog_usec_ > 0) {
    // Half the interval: one late tick is not yet a missed deadline.
    next = std::min(next, core::Millis(watchdog_usec_ / 2000));
    if (next.count() < 1) next = core::Millis(1);
  }
  timer_->enableAfter(next);
}

}  // namespace wa::daemon
