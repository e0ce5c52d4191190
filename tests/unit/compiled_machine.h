// The architecture the tests are compiled for, by its uname(2) machine name (what
// HostInfo::machine, GET /info's machine, must say when they run, natively or as the arm64
// build under qemu-user (`make test-arm64`), whose uname says "aarch64") and by Node's
// process.arch name (what HostInfo::os_architecture, GET /info's os_architecture, says).
#pragma once

#include <string_view>

namespace wa {

#if defined(__aarch64__)
inline constexpr std::string_view kCompiledMachine = "aarch64";
inline constexpr std::string_view kCompiledArchitecture = "arm64";
#elif defined(__x86_64__)
inline constexpr std::string_view kCompiledMachine = "x86_64";
inline constexpr std::string_view kCompiledArchitecture = "x64";
#else
inline constexpr std::string_view kCompiledMachine = "";  // no expectation written down
inline constexpr std::string_view kCompiledArchitecture = "";
#endif

}  // namespace wa
