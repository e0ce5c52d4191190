// Liveness: the one token that tells work scheduled for later (a posted task, a C
// library's callback) whether the object it was scheduled for still exists. The object
// holds a Liveness; the work holds a Liveness::Watch taken from it and checks alive()
// first. An asynchronous request, by contrast, is a handle its owner holds (destroying
// the handle cancels it): a Watch is only for work that has no handle.
#pragma once

#include <memory>

namespace wa::core {

class Liveness {
 public:
  class Watch {
   public:
    Watch() = default;
    bool alive() const { return !token_.expired(); }

   private:
    friend class Liveness;
    explicit Watch(const std::shared_ptr<char>& token) : token_(token) {}
    std::weak_ptr<char> token_;
  };

  Liveness() = default;
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;

  Watch watch() const { return Watch(token_); }
  // Ends it before the destructor does (an object that closes and is freed later).
  void end() { token_.reset(); }
  bool ended() const { return token_ == nullptr; }

 private:
  std::shared_ptr<char> token_ = std::make_shared<char>(0);
};

}  // namespace wa::core
