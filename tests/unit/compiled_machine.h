// The uname(2) machine name of the architecture the tests are compiled for: what
// HostInfo::os_architecture (GET /info's os_architecture) must say when they run, natively
// or as the arm64 build under qemu-user (`make test-arm64`), whose uname says "aarch64".
#pragma once

#include <string_view>

namespace wa {

#if defined(__aarch64__)
inline constexpr std::string_view kCompiledMachine = "aarch64";
#elif defined(__x86_64__)
inline constexpr std::string_view kCompiledMachine = "x86_64";
#else
inline constexpr std::string_view kCompiledMachine = "";  // no expectation written down
#endif

}  // namespace wa
