#include "core/signal_watcher.h"

#include <signal.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <cstdlib>

#include "core/log.h"

namespace wa::core {

SignalWatcher::SignalWatcher(EventLoop& loop, std::initializer_list<int> signals, Callback callback)
    : callback_(std::move(callback)) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : signals) sigaddset(&mask, s);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    logError("fatal: sigprocmask failed");
    std::abort();
  }
  fd_.reset(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd_) {
    logError("fatal: signalfd failed");
    std::abort();
  }
  event_ = loop.watch(fd_.get(), FileEvent::kReadable, [this](uint32_t) { onReadable(); });
}

SignalWatcher::~SignalWatcher() = default;

void SignalWatcher::onReadable() {
  signalfd_siginfo info;
  while (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    callback_(static_cast<int>(info.ssi_signo));
  }
}

}  // namespace wa::core
