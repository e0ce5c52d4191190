// HeldRequests: the handles of the requests a test makes (`held += client.ping(...)`).
// Dropping a handle cancels its request, so a test keeps them until it ends.
#pragma once

#include <utility>
#include <vector>

#include "core/request_handle.h"

namespace wa::testing {

struct HeldRequests {
  std::vector<core::RequestHandle> handles;
  void operator+=(core::RequestHandle handle) { handles.push_back(std::move(handle)); }
};

}  // namespace wa::testing
