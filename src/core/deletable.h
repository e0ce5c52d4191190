// Deletable: the base of every object whose end is handed to the loop
// (EventLoop::deferredDelete), so that it is destroyed after the current batch of events
// rather than inside one of its own callbacks (Envoy's DeferredDeletable).
#pragma once

#include <memory>

namespace wa::core {

class Deletable {
 public:
  virtual ~Deletable() = default;
};

using DeletablePtr = std::unique_ptr<Deletable>;

}  // namespace wa::core
