// SignalWatcher: delivers the given signals through a signalfd on the loop. The signals
// are blocked for the whole process on construction, so create it before any thread.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>

#include "core/event_loop.h"
#include "core/unique_fd.h"

namespace wa::core {

class SignalWatcher {
 public:
  using Callback = std::function<void(int signo)>;
  SignalWatcher(EventLoop& loop, std::initializer_list<int> signals, Callback callback);
  ~SignalWatcher();

 private:
  void onReadable();
  UniqueFd fd_;
  std::unique_ptr<FileEvent> event_;
  Callback callback_;
};

}  // namespace wa::core
