// RequestHandle: the owner's hold on one asynchronous request (an Engine API call, an
// image supply). Destroying or resetting it cancels the request: its callback is dropped
// unrun and the issuer frees what it kept for it. Once the callback has run, resetting it
// does nothing. A handle may outlive its issuer (it then does nothing either), so no
// callback can reach an owner that is gone, whichever of the two ends first.
#pragma once

#include <cstdint>
#include <utility>

#include "core/liveness.h"

namespace wa::core {

// Whoever hands out RequestHandles: it numbers its requests and cancels them by number.
class RequestIssuer {
 public:
  // Drops request id's callback unrun and stops the work if it can. An id that has
  // completed (or was never issued) is ignored. Never calls back into the caller.
  virtual void cancelRequest(uint64_t id) noexcept = 0;

 protected:
  ~RequestIssuer() = default;
};

class [[nodiscard]] RequestHandle {
 public:
  RequestHandle() = default;
  RequestHandle(RequestIssuer& issuer, Liveness::Watch issuer_alive, uint64_t id)
      : issuer_(&issuer), issuer_alive_(std::move(issuer_alive)), id_(id) {}
  ~RequestHandle() { reset(); }
  RequestHandle(RequestHandle&& other) noexcept { *this = std::move(other); }
  RequestHandle& operator=(RequestHandle&& other) noexcept {
    if (this != &other) {
      reset();
      issuer_ = std::exchange(other.issuer_, nullptr);
      issuer_alive_ = std::move(other.issuer_alive_);
      id_ = std::exchange(other.id_, 0);
    }
    return *this;
  }
  RequestHandle(const RequestHandle&) = delete;
  RequestHandle& operator=(const RequestHandle&) = delete;

  // Cancels the request if it is still in flight; the handle is empty afterwards.
  void reset() noexcept {
    if (issuer_ != nullptr && issuer_alive_.alive()) issuer_->cancelRequest(id_);
    issuer_ = nullptr;
    id_ = 0;
  }
  // True while the handle holds a request (which may have completed since).
  explicit operator bool() const { return issuer_ != nullptr; }

 private:
  RequestIssuer* issuer_ = nullptr;
  Liveness::Watch issuer_alive_;
  uint64_t id_ = 0;
};

}  // namespace wa::core
