#include "core/assert.h"

#include <cstdlib>

#include "core/log.h"

namespace wa::core {

void assertionFailed(const char* condition, const char* message, const char* file,
                     int line) noexcept {
  logError("assertion failed: ", condition, " (", message, ") at ", file, ":", line);
  std::abort();
}

}  // namespace wa::core
